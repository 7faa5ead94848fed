"""What one evaluation of a rule sees besides the row it is on: the message, the payload and variables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cloud.rules.types import JsonValue, Value, dumps


@dataclass(frozen=True, slots=True)
class Message:
    """The MQTT message a rule runs on; ``topic`` is without any basic-ingest prefix."""

    topic: str
    clientid: str | None = None
    timestamp: int = 0
    principal: str | None = None


class FunctionResolver(Protocol):
    """Serves the AWS-service functions (``get_dynamodb``, ``aws_lambda``, ``get_thing_shadow``, ...).

    ``call`` receives the function name in lower case and its arguments as plain JSON values, and returns
    the function's result as a JSON value. An exception it raises makes the call Undefined.
    """

    def call(self, name: str, args: Sequence[JsonValue], message: Message) -> JsonValue: ...


class ProtoDecoder(Protocol):
    """Decodes a protobuf message with a descriptor file stored at S3 ``bucket``/``key`` (see
    :mod:`cloud.rules.protobuf`); raises ValueError when it cannot."""

    def decode(self, data: bytes, bucket: str, key: str, proto_file: str, message_type: str) -> JsonValue: ...


@dataclass(slots=True)
class Scope:
    """Per-evaluation state shared by every expression of a rule."""

    message: Message
    payload: Value
    raw: bytes | None  # None for a payload passed pre-parsed: see raw_payload()
    sql_version: str
    resolver: FunctionResolver | None = None
    variables: dict[str, Value] = field(default_factory=dict)
    trace_id: str | None = None  # made on the first traceid() call, then stable for this evaluation
    protos: ProtoDecoder | None = None

    def raw_payload(self) -> bytes:
        """The payload's bytes as received; compact JSON text for a payload passed pre-parsed."""
        if self.raw is None:
            self.raw = dumps(self.payload).encode("utf-8")
        return self.raw
