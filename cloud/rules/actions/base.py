"""What every rule action shares: its config base, the message it acts on, what it may open.

An action is a small callable: it gets an :class:`ActionMessage` (the rule's output plus the
original message, for substitution templates) and returns once its backend holds the data, or
raises. The stores and clients behind actions are :class:`Resource` s that the runner starts once
(two actions writing the same embedded store share it) and stops at the end.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

from cloud.rules.templates import substitute
from cloud.stores.records import Record, to_record
from edge_agent.envelope import strip_basic_ingest

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as ``30s``, ``15m``, ``24h``, ``7d``; ValueError otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15m, 24h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written as a number or as ``"30s"``, ``"15m"``, ``"24h"``, ``"7d"``."""


class CloudModel(BaseModel):
    """Base of the rules-file models: camelCase keys as AWS writes them (snake_case accepted too),
    unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel,
                              populate_by_name=True)


class AwsClientConfig(CloudModel):
    """Where a boto3 client connects: region, and an endpoint URL for a local stand-in (moto)."""

    region: str = "us-east-1"
    endpoint_url: str | None = None


class ActionMessage:
    """One rule firing: the rule's ``output`` and the message it came from."""

    def __init__(self, *, rule: str, topic: str, payload: bytes, output: Any, clientid: str | None = None,
                 timestamp: int | None = None, sql_version: str = "2016-03-23",
                 variables: Mapping[str, Any] | None = None) -> None:
        self.rule = rule
        self.topic = topic
        """As received (a basic-ingest topic keeps its ``$aws/rules/<rule>/`` prefix)."""
        self.payload = payload
        self.output = output
        self.clientid = clientid
        self.timestamp = timestamp if timestamp is not None else int(time.time() * 1000)
        self.sql_version = sql_version
        self.variables = variables
        """The rule's SET variables, which templates may use."""

    def substitute(self, template: str) -> str:
        """Evaluate a ``${...}`` template against the original payload, as AWS does (an alias made
        with AS in the SELECT is not visible to it)."""
        if "${" not in template:
            return template
        return substitute(template, self.payload, topic=self.topic, clientid=self.clientid,
                          timestamp=self.timestamp, variables=self.variables, sql_version=self.sql_version)

    @cached_property
    def data(self) -> bytes:
        """The output as bytes: compact JSON, or binary passthrough as is."""
        return self.record.data

    @cached_property
    def record(self) -> Record:
        """Key and rows of the output, a batch exploded into one row per reading and window. A raw
        (non-envelope) message is attributed to the client id or, when the broker does not tell it
        (MQTT does not carry it), to the ``<deviceId>`` level of a ``dt/<site>/<assetType>/<deviceId>/...``
        topic."""
        return to_record(self.output, timestamp=self.timestamp, device=self._device)

    @cached_property
    def item(self) -> Record:
        """The output as AWS's per-message actions see it: one row per top-level scalar attribute,
        at the time the rule ran, a batch envelope included (it is not exploded)."""
        return to_record(self.output, timestamp=self.timestamp, device=self._device, explode=False)

    @property
    def _device(self) -> str:
        return self.clientid or device_from_topic(self.topic) or "unknown"


def device_from_topic(topic: str) -> str | None:
    """``<deviceId>`` of ``[$aws/rules/<rule>/]dt/<site>/<assetType>/<deviceId>/...``."""
    levels = strip_basic_ingest(topic)[1].split("/")
    return levels[3] if len(levels) > 4 and levels[0] == "dt" and levels[3] else None


class Action(Protocol):
    """A configured rule action."""

    failed_action: str
    """AWS's name for it in an error-action message (``KinesisAction``, ``S3Action``, ...)."""
    resource: str
    """What it writes to (``failedResource``): stream, table, queue, topic."""

    async def __call__(self, message: ActionMessage) -> None: ...


class Resource(Protocol):
    """A store or client behind actions; ``maintain`` runs periodically (retention, flushing)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def maintain(self) -> None: ...


class BlockingStore(Protocol):
    def open(self) -> None: ...
    def close(self) -> None: ...


S = TypeVar("S", bound=BlockingStore)
R = TypeVar("R", bound=Resource)


class Embedded(Generic[S]):
    """A file-backed store as a :class:`Resource` (its blocking open and close in a thread)."""

    def __init__(self, store: S, maintain: Callable[[S], Awaitable[Any]] | None = None) -> None:
        self.store = store
        self._maintain = maintain

    async def start(self) -> None:
        await asyncio.to_thread(self.store.open)

    async def stop(self) -> None:
        await asyncio.to_thread(self.store.close)

    async def maintain(self) -> None:
        if self._maintain is not None:
            await self._maintain(self.store)


@dataclass(frozen=True, slots=True)
class PublishProperties:
    """MQTT 5 PUBLISH properties (what AWS's republish action calls ``headers``)."""

    payload_format_indicator: Literal["UNSPECIFIED_BYTES", "UTF8_DATA"] | None = None
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    message_expiry: int | None = None
    """Seconds."""
    user_properties: tuple[tuple[str, str], ...] = ()


class Publish(Protocol):
    """Publish through the runner's MQTT connection (returns after the PUBACK for QoS 1)."""

    async def __call__(self, topic: str, payload: bytes, qos: int,
                       properties: PublishProperties | None = None) -> None: ...


@dataclass
class BuildContext:
    """What building an action may use: where embedded stores live, the runner's publisher, and
    the resources already made (shared by key)."""

    data_dir: Path
    publish: Publish | None = None
    resources: dict[str, Resource] = field(default_factory=dict)

    def shared(self, key: str, make: Callable[[], R]) -> R:
        """The resource registered under ``key``, made on first use."""
        if key not in self.resources:
            self.resources[key] = make()
        return self.resources[key]  # type: ignore[return-value]


def describe(exc: BaseException) -> str:
    """One line for an error-action message: the exception's type and text."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def json_line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
