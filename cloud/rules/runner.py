"""The rules runner: every incoming message through the rules, each firing rule's actions, and
one error-action message per rule and message when actions fail (as AWS IoT does).

Routing follows AWS: a basic-ingest message (``$aws/rules/<rule>/<topic>``) goes only to the
named rule — to nobody when that rule is missing or disabled (``RuleNotFound``,
iot-basic-ingest.html); any other message goes to every enabled rule whose FROM matches it.
A SQL evaluation error is counted and logged, as AWS logs it, and does not trigger the error
action (rule-error-handling.html: the error action is for rule actions).

Before any rule sees it, a message is checked at the cloud's edge (:func:`refusal`): a payload over
IoT Core's 128 KB limit (which AWS's broker would not have taken) or an ``edgeferry.batch/1``
envelope that is not valid (a float, negative or 65-bit ``seq``...) goes to the error action of each
rule it was for, with the reason, and to no store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from cloud.dlq import ActionFailure, ErrorActionMessage
from cloud.rows.processor import RowsProcessor
from cloud.rules import Rule, compile_rule
from cloud.rules.actions import Action, ActionMessage, BuildContext
from cloud.rules.actions.base import PublishProperties, describe
from cloud.rules.actions.stream import embedded_log
from cloud.rules.mqtt_attach import MqttAttachment, MqttSettings
from cloud.rules.rulesfile import RulesFile, RuleSpec
from cloud.stream.consumer import StreamConsumer
from edge_agent.envelope import (
    MAX_PAYLOAD_BYTES,
    SCHEMA,
    EnvelopeError,
    NotAnEnvelope,
    decode_batch,
    strip_basic_ingest,
)

logger = logging.getLogger(__name__)


ENVELOPE_CHECK: Final = "EnvelopeValidation"
"""``failedAction`` of an error-action message for a message refused at the cloud's edge."""


def refusal(payload: bytes) -> str | None:
    """Why a message may not reach the rules, or None: over the payload limit, or an edgeferry
    envelope that does not validate. Other payloads (any JSON, binary) pass: rules take them."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return (f"payload of {len(payload)} bytes is over IoT Core's {MAX_PAYLOAD_BYTES}-byte limit "
                "(limits-iot.html)")
    if SCHEMA.encode() not in payload:
        return None
    try:
        decode_batch(payload)
    except NotAnEnvelope:  # mentions the schema but makes no claim to be an envelope: rules decide
        return None
    except EnvelopeError as exc:
        return f"invalid {SCHEMA} envelope: {exc}"
    return None


class StartError(Exception):
    """A store or client behind an action could not start; one line for a user."""


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    spec: RuleSpec
    rule: Rule
    actions: tuple[Action, ...]
    error_action: Action | None


@dataclass(slots=True)
class Outcome:
    """What happened to one message: the rules that fired and the failures per rule."""

    fired: list[str] = field(default_factory=list)
    failures: dict[str, list[ActionFailure]] = field(default_factory=dict)


class RulesRunner:
    """Runs a rules file's enabled rules over messages; an async context manager that starts the
    actions' stores and clients (and, given ``mqtt``, attaches to a broker and serves it).

    ``publish`` sends republished messages when no MQTT connection is attached (tests, demo).
    An action that takes longer than ``action_timeout`` seconds has failed.
    """

    def __init__(self, rules: RulesFile, *, mqtt: MqttSettings | None = None,
                 publish: Callable[[str, bytes, int], Awaitable[None]] | None = None,
                 data_dir: Path | None = None, maintain_every: float = 30.0,
                 action_timeout: float = 30.0) -> None:
        self.counters: Counter[str] = Counter()
        self._mqtt_settings = mqtt
        self._publish_fallback = publish
        self._attachment: MqttAttachment | None = None
        self._maintain_every = maintain_every
        self._action_timeout = action_timeout
        self._maintainer: asyncio.Task[None] | None = None
        self.context = BuildContext(data_dir or rules.data_dir, publish=self._publish)
        self._resolver = rules.functions.build() if rules.functions is not None else None
        self.rules = {
            spec.name: _CompiledRule(
                spec, compile_rule(spec.sql, sql_version=spec.aws_iot_sql_version, resolver=self._resolver),
                tuple(a.build(self.context) for a in spec.actions),
                spec.error_action.build(self.context) if spec.error_action else None)
            for spec in rules.rules if not spec.rule_disabled
        }
        self.processors = [(spec.build(self.context), spec.stream) for spec in rules.processors]
        self._consumers: list[tuple[RowsProcessor, StreamConsumer]] = []
        self._processor_tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        started: list[Any] = []
        try:
            for name, resource in self.context.resources.items():
                try:
                    await resource.start()
                except Exception as exc:
                    raise StartError(f"cannot start {name}: {describe(exc)}") from exc
                started.append(resource)
            if self._mqtt_settings is not None:
                filters = [compiled.rule.topic_filter for compiled in self.rules.values()]
                self._attachment = MqttAttachment(self._mqtt_settings, self.process, filters)
                await self._attachment.start()
        except BaseException:
            await self._stop_resources(started)
            raise
        self._maintainer = asyncio.create_task(self._maintain_loop())
        self._start_processors()
        return self

    def _start_processors(self) -> None:
        """Follow each processor's embedded stream; a processor of a Kinesis stream runs as the
        exported Lambda function instead."""
        for processor, stream in self.processors:
            log = embedded_log(self.context, stream)
            if log is None:
                logger.info("processor_not_local", extra={"processor": processor.name, "stream": stream})
                continue
            consumer = StreamConsumer(log, f"rows-{processor.name}")
            self._consumers.append((processor, consumer))
            self._processor_tasks.append(asyncio.create_task(processor.run(consumer)))

    async def catch_up(self) -> int:
        """Let every local processor handle what its stream holds now; how many records."""
        return sum([await processor.catch_up(consumer) for processor, consumer in self._consumers])

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._attachment is not None:
            await self._attachment.stop()
            self._attachment = None
        for (processor, consumer), task in zip(self._consumers, self._processor_tasks, strict=True):
            await processor.stop(task)
            try:
                await processor.catch_up(consumer)  # what the rules wrote last reaches the stores too
            except Exception as exc:
                logger.warning("processor_drain_failed", extra={"processor": processor.name, "error": describe(exc)})
        if self._maintainer is not None:
            self._maintainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintainer
        await self._stop_resources(list(self.context.resources.values()))

    @staticmethod
    async def _stop_resources(resources: list[Any]) -> None:
        for resource in reversed(resources):
            try:
                await resource.stop()
            except Exception:
                logger.exception("resource_stop_failed", extra={"resource": type(resource).__name__})

    async def _maintain_loop(self) -> None:
        while True:
            await asyncio.sleep(self._maintain_every)
            await self.maintain()

    async def maintain(self) -> None:
        """Retention, TTL and lake file closing, once for every resource."""
        for resource in self.context.resources.values():
            try:
                await resource.maintain()
            except Exception:
                logger.exception("resource_maintenance_failed", extra={"resource": type(resource).__name__})

    async def _publish(self, topic: str, payload: bytes, qos: int,
                       properties: PublishProperties | None = None) -> None:
        if self._attachment is not None:
            await self._attachment.publish(topic, payload, qos, properties)
        elif self._publish_fallback is not None:  # tests and the demo: no MQTT 5 properties
            await self._publish_fallback(topic, payload, qos)
        else:
            raise RuntimeError("no MQTT connection to republish through")

    def rules_for(self, topic: str) -> list[str]:
        """Names of the rules a message on ``topic`` goes to (before their WHERE clauses)."""
        named, _ = strip_basic_ingest(topic)
        if named is not None:
            return [named] if named in self.rules else []
        return [name for name, compiled in self.rules.items() if compiled.rule.matches_topic(topic)]

    async def process(self, topic: str, payload: bytes, clientid: str | None = None,
                      timestamp: int | None = None) -> Outcome:
        """Run one message through the rules; never raises for a bad message or a failing action."""
        self.counters["messages"] += 1
        timestamp = timestamp if timestamp is not None else int(time.time() * 1000)
        outcome = Outcome()
        names = self.rules_for(topic)
        if not names:
            named, _ = strip_basic_ingest(topic)
            self.counters["rule_not_found" if named is not None else "unmatched"] += 1
            if named is not None:
                logger.warning("rule_not_found", extra={"rule": named, "topic": topic})
            return outcome
        reason = refusal(payload)
        if reason is not None:
            await self._refuse(names, topic, payload, clientid, timestamp, reason)
            outcome.failures = {name: [ActionFailure(ENVELOPE_CHECK, name, reason)] for name in names}
            return outcome
        for name in names:
            failures = await self._apply(self.rules[name], topic, payload, clientid, timestamp)
            if failures is not None:
                outcome.fired.append(name)
                if failures:
                    outcome.failures[name] = failures
        return outcome

    async def _apply(self, compiled: _CompiledRule, topic: str, payload: bytes, clientid: str | None,
                     timestamp: int) -> list[ActionFailure] | None:
        """The rule's failures, or None when it did not fire."""
        name = compiled.spec.name
        try:
            run = functools.partial(compiled.rule.run, topic, payload, clientid=clientid, timestamp=timestamp)
            # service functions call AWS and block: such rules run in a worker thread
            result = await asyncio.to_thread(run) if self._resolver is not None else run()
            output = None if result is None else result.output
        except Exception as exc:
            self.counters["sql_errors"] += 1
            logger.warning("rule_evaluation_failed",
                           extra={"rule": name, "topic": topic, "error": describe(exc)})
            return None
        if result is None or output is None:
            return None
        self.counters["fired"] += 1
        message = ActionMessage(rule=name, topic=topic, payload=payload, output=output, clientid=clientid,
                                timestamp=timestamp, sql_version=compiled.spec.aws_iot_sql_version,
                                variables=result.variables)
        results = await asyncio.gather(*(self._act(a, message) for a in compiled.actions))
        failures = [f for f in results if f is not None]
        if failures:
            self.counters["action_errors"] += len(failures)
            await self._report(compiled, message, failures)
        return failures

    async def _refuse(self, names: list[str], topic: str, payload: bytes, clientid: str | None,
                      timestamp: int, reason: str) -> None:
        """Send a message refused at the edge to each rule's error action instead of its actions."""
        self.counters["refused"] += 1
        logger.warning("message_refused", extra={"topic": topic, "client": clientid, "reason": reason})
        for name in names:
            compiled = self.rules[name]
            message = ActionMessage(rule=name, topic=topic, payload=payload, output=None, clientid=clientid,
                                    timestamp=timestamp)
            await self._report(compiled, message, [ActionFailure(ENVELOPE_CHECK, name, reason)])

    async def _act(self, action: Action, message: ActionMessage) -> ActionFailure | None:
        try:
            await asyncio.wait_for(action(message), self._action_timeout)
        except Exception as exc:
            logger.warning("action_failed", extra={"rule": message.rule, "action": action.failed_action,
                                                   "resource": action.resource, "error": describe(exc)})
            return ActionFailure(action.failed_action, action.resource, describe(exc))
        return None

    async def _report(self, compiled: _CompiledRule, message: ActionMessage,
                      failures: list[ActionFailure]) -> None:
        """One error-action message for this rule and message, listing every failed action."""
        report = ErrorActionMessage(compiled.spec.name, message.topic, message.clientid, message.payload,
                                    failures)
        if compiled.error_action is None:
            logger.error("actions_failed_without_error_action",
                         extra={"rule": compiled.spec.name, "failures": len(failures)})
            return
        error_message = ActionMessage(rule=compiled.spec.name, topic=message.topic, payload=message.payload,
                                      output=report.to_json(), clientid=message.clientid,
                                      timestamp=message.timestamp)
        failure = await self._act(compiled.error_action, error_message)
        if failure is None:
            self.counters["dlq"] += 1
        else:
            self.counters["error_action_failures"] += 1
            logger.error("error_action_failed", extra={"rule": compiled.spec.name, "trace": report.trace_id,
                                                       "error": failure.error_message})

    def snapshot(self) -> dict[str, int]:
        """Counters: messages, fired, refused, action_errors, dlq, sql_errors, rule_not_found, unmatched..."""
        return dict(self.counters)

