"""MqttSink's own logic (ordering, window, errors, reconnect policy) against a scripted transport."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
from awscrt import exceptions as crt_exceptions
from awscrt.mqtt5 import PubackReasonCode
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.envelope import Batch, BatchKind, Reading
from edge_agent.errors import Rejected, Retryable
from edge_agent.identity import Identity
from edge_agent.interfaces import Sink
from edge_agent.publish.config import MqttPublishConfig, RateLimit
from edge_agent.publish.connection import ConnectionEvents, ConnectionState, classify_client_error
from edge_agent.publish.mqtt import MqttSink
from edge_agent.publish.mqtt5 import puback_outcome

IDENTITY = Identity("pump-1", Path("c.pem"), Path("k.pem"), None)


class ScriptedTransport:
    """Connects when started (unless told not to); publishes wait for the test to settle them."""

    def __init__(self, events: ConnectionEvents, *, auto_connect: bool = True) -> None:
        self.events = events
        self.auto_connect = auto_connect
        self.wire: list[tuple[str, bytes]] = []
        self.pending: list[asyncio.Future[None]] = []
        self.starts = 0
        self.stops = 0

    def start(self) -> None:
        self.starts += 1
        if self.auto_connect:
            asyncio.get_running_loop().call_soon(self.events.on_connected)

    async def stop(self) -> None:
        self.stops += 1

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        self.wire.append((topic, payload))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        return future


def make_sink(**overrides: Any) -> tuple[MqttSink, list[ScriptedTransport]]:
    transports: list[ScriptedTransport] = []

    def factory(config: MqttPublishConfig, identity: Identity, events: ConnectionEvents) -> ScriptedTransport:
        transports.append(ScriptedTransport(events))
        return transports[-1]

    settings_: dict[str, Any] = {"connect_jitter": 0.0, "rate_limit": RateLimit(enabled=False)}
    config = MqttPublishConfig(**(settings_ | overrides))
    return MqttSink(config, IDENTITY, transport_factory=factory, rng=random.Random(7)), transports


def batch(seq: int, *, kind: BatchKind = BatchKind.TELEMETRY, readings: int = 1, device: str = "pump-1") -> Batch:
    return Batch(device=device, site="s1", asset_type="pump", epoch="e", seq=seq, start=0, end=1,
                 readings=tuple(Reading(device, f"p{i}", 1, 1.0) for i in range(readings)), kind=kind,
                 alarms=({"name": "a"},) if kind is BatchKind.ALARM else ())


async def drain(transport: ScriptedTransport, outcome: BaseException | None = None) -> None:
    """Settle every publish handed over so far, and keep doing so until told to stop."""
    while True:
        for future in transport.pending:
            if not future.done():
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)
        await asyncio.sleep(0)


async def test_is_a_sink_and_uses_basic_ingest_topics() -> None:
    sink, transports = make_sink(alarm_rule="alarms")
    async with sink:
        assert isinstance(sink, Sink)
        await sink.wait_connected(5)
        settle = asyncio.create_task(drain(transports[0]))
        await sink.send(batch(1))
        await sink.send(batch(2, kind=BatchKind.ALARM))
        settle.cancel()
    assert [topic for topic, _ in transports[0].wire] == [
        "$aws/rules/edgeferry_telemetry/dt/s1/pump/pump-1/telemetry",
        "$aws/rules/alarms/dt/s1/pump/pump-1/alarm",
    ]
    assert transports[0].wire[0][1] == batch(1).encode()


async def test_without_rule_topics_are_plain() -> None:
    sink, _ = make_sink(rule=None)
    assert sink.topic_for(batch(1)) == "dt/s1/pump/pump-1/telemetry"


@settings(max_examples=40, deadline=None)
@given(window=st.integers(1, 8), count=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_wire_order_is_issue_order_and_window_is_bounded(window: int, count: int, seed: int) -> None:
    async def scenario() -> None:
        sink, transports = make_sink(max_in_flight=window)
        rng = random.Random(seed)
        async with sink:
            await sink.wait_connected(5)
            transport = transports[0]
            sends = [asyncio.create_task(sink.send(batch(seq))) for seq in range(1, count + 1)]
            while not all(s.done() for s in sends):
                await asyncio.sleep(0)
                open_ = [f for f in transport.pending if not f.done()]
                assert len(open_) <= window
                if open_:  # PUBACKs arrive in any order
                    rng.choice(open_).set_result(None)
            await asyncio.gather(*sends)
        assert [payload for _, payload in transport.wire] == [batch(s).encode() for s in range(1, count + 1)]
        assert sink.counters.get("acked") == count

    asyncio.run(scenario())


async def test_not_connected_raises_retryable_at_once() -> None:
    sink, transports = make_sink()
    async with sink:
        await sink.wait_connected(5)
        sink.on_connection_lost(None)
        with pytest.raises(Retryable, match="not connected"):
            await sink.send(batch(1))
    assert transports[0].wire == []
    assert sink.counters.get("retried") == 1


async def test_oversized_batch_is_rejected_before_the_wire() -> None:
    sink, transports = make_sink()
    async with sink:
        await sink.wait_connected(5)
        with pytest.raises(Rejected, match="131072"):
            await sink.send(batch(1, readings=4000))
    assert transports[0].wire == []
    assert sink.counters.get("rejected") == 1


async def test_missing_puback_times_out_as_retryable_and_frees_the_slot() -> None:
    sink, transports = make_sink(publish_timeout=0.05, max_in_flight=1)
    async with sink:
        await sink.wait_connected(5)
        with pytest.raises(Retryable, match="PUBACK"):
            await sink.send(batch(1))
        settle = asyncio.create_task(drain(transports[0]))
        await asyncio.wait_for(sink.send(batch(2)), 5)
        settle.cancel()
    assert sink.counters.snapshot()["in_flight"] == 0


@pytest.mark.parametrize(("outcome", "expected"), [
    (Rejected("PUBACK NOT_AUTHORIZED"), Rejected),
    (Retryable("connection lost"), Retryable),
])
async def test_transport_outcomes_pass_through_and_are_counted(
        outcome: BaseException, expected: type[BaseException]) -> None:
    sink, transports = make_sink()
    async with sink:
        await sink.wait_connected(5)
        settle = asyncio.create_task(drain(transports[0], outcome))
        with pytest.raises(expected):
            await sink.send(batch(1))
        settle.cancel()
    assert sink.counters.get("rejected" if expected is Rejected else "retried") == 1


async def test_connection_loss_stops_then_reconnects_after_jitter() -> None:
    sink, transports = make_sink(connect_jitter=0.2)
    async with sink:
        await sink.wait_connected(5)
        transport = transports[0]
        sink.on_connection_lost(None)
        assert not sink.connected
        await sink.wait_connected(5)
        assert (transport.starts, transport.stops) == (2, 1)
        counters = sink.counters.snapshot()
        assert (counters["connects"], counters["disconnects"]) == (2, 1)
    assert transport.stops == 2


async def test_connection_reported_while_holding_off_is_ignored() -> None:
    sink, _ = make_sink(connect_jitter=5.0)
    async with sink:
        assert sink.state is ConnectionState.WAITING
        sink.on_connected()
        assert not sink.connected
        assert sink.counters.get("connects") == 0


async def test_no_reconnect_once_closing() -> None:
    sink, transports = make_sink()
    async with sink:
        await sink.wait_connected(5)
    sink.on_connection_lost(None)
    await asyncio.sleep(0.05)
    assert transports[0].starts == 1
    assert sink.state is ConnectionState.STOPPED


def test_puback_reason_codes() -> None:
    assert puback_outcome(PubackReasonCode.SUCCESS) is None
    assert puback_outcome(PubackReasonCode.NO_MATCHING_SUBSCRIBERS) is None
    assert isinstance(puback_outcome(PubackReasonCode.NOT_AUTHORIZED), Rejected)
    assert isinstance(puback_outcome(PubackReasonCode.TOPIC_NAME_INVALID), Rejected)
    assert isinstance(puback_outcome(PubackReasonCode.QUOTA_EXCEEDED), Retryable)
    assert isinstance(puback_outcome(PubackReasonCode.UNSPECIFIED_ERROR), Retryable)


def test_client_errors_map_to_retry_or_reject() -> None:
    def crt(name: str) -> Exception:
        error: Exception = crt_exceptions.AwsCrtError(code=0, name=name, message=name)
        return error

    assert isinstance(classify_client_error(crt("AWS_ERROR_MQTT5_PACKET_VALIDATION")), Rejected)
    assert isinstance(classify_client_error(
        crt("AWS_ERROR_MQTT5_OPERATION_FAILED_DUE_TO_OFFLINE_QUEUE_POLICY")), Retryable)
    assert isinstance(classify_client_error(crt("AWS_ERROR_MQTT_TIMEOUT")), Retryable)
    assert isinstance(classify_client_error(OSError("boom")), Retryable)
