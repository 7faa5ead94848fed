"""MqttSink against a real Mosquitto with mTLS and the exported device policy (the local IoT Core rig)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from cloud.rig import Rig
from edge_agent.envelope import MAX_PAYLOAD_BYTES, Batch, BatchKind, Reading, decode_batch
from edge_agent.errors import Rejected, Retryable
from edge_agent.identity import Identity, IdentityConfig
from edge_agent.publish.config import MqttPublishConfig, RateLimit
from edge_agent.publish.connection import ConnectionState
from edge_agent.publish.mqtt import MqttSink
from tests.fixtures.broker import MqttClientFactory, MqttTestClient, wait_until

THING = "pump-1"


def make_batch(seq: int, *, device: str = THING, readings: int = 3, kind: BatchKind = BatchKind.TELEMETRY,
               epoch: str = "ep1") -> Batch:
    rows = tuple(Reading(device, f"p{i}", 1_700_000_000_000 + seq, float(i)) for i in range(readings))
    alarms = ({"name": "high", "message": "too high"},) if kind is BatchKind.ALARM else ()
    return Batch(device=device, site="site1", asset_type="pump", epoch=epoch, seq=seq, start=0, end=1,
                 readings=rows, last={"p0": 0.0}, kind=kind, alarms=alarms)


def sink_config(rig: Rig, **overrides: Any) -> MqttPublishConfig:
    settings: dict[str, Any] = {
        "endpoint": rig.host, "port": rig.port, "connect_jitter": 0.2, "reconnect_min": 0.2,
        "reconnect_max": 2.0, "publish_timeout": 15.0, "rate_limit": RateLimit(enabled=False),
        "max_in_flight": 20,
    }
    return MqttPublishConfig(**(settings | overrides))


def device_identity(rig: Rig, tmp_path: Path, thing: str = THING) -> Identity:
    return Identity.load(IdentityConfig(dir=rig.issue_identity(thing, tmp_path / thing)), thing)


@pytest.fixture
async def cloud(rig: Rig, mqtt_client: MqttClientFactory) -> MqttTestClient:
    client = await mqtt_client(rig.cloud_identity)
    await client.subscribe("$aws/rules/#", "dt/#")
    return client


@pytest.mark.parametrize("protocol", ["mqtt5", "mqtt311"])
async def test_every_batch_arrives_once_in_issue_order(rig: Rig, cloud: MqttTestClient, tmp_path: Path,
                                                       protocol: str) -> None:
    # the agent's own rate limiter: the rig, like IoT Core, drops publishes beyond 100/s per connection
    config = sink_config(rig, protocol=protocol, alarm_rule="edgeferry_alarms", rate_limit=RateLimit())
    async with MqttSink(config, device_identity(rig, tmp_path)) as sink:
        await sink.wait_connected(30)
        batches = [make_batch(seq) for seq in range(1, 301)]
        await asyncio.gather(*(sink.send(b) for b in batches))
        await sink.send(make_batch(301, kind=BatchKind.ALARM))
    messages = await cloud.collect(301)
    await cloud.assert_silent(0.5)
    keys = [decode_batch(m.payload).key for m in messages]
    assert keys == [(THING, "ep1", seq) for seq in range(1, 302)]  # exactly once, wire order = issue order
    telemetry = "$aws/rules/edgeferry_telemetry/dt/site1/pump/pump-1/telemetry"
    assert {m.topic for m in messages[:-1]} == {telemetry}
    assert messages[-1].topic == "$aws/rules/edgeferry_alarms/dt/site1/pump/pump-1/alarm"
    counters = sink.counters.snapshot()
    assert (counters["published"], counters["acked"], counters["connects"]) == (301, 301, 1)
    assert counters["state"] == "stopped"


async def test_in_flight_window_is_bounded(rig: Rig, cloud: MqttTestClient, tmp_path: Path) -> None:
    async with MqttSink(sink_config(rig, max_in_flight=3), device_identity(rig, tmp_path)) as sink:
        await sink.wait_connected(30)
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, int(sink.counters.snapshot().get("in_flight", 0)))
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(sink.send(make_batch(seq)) for seq in range(1, 101)))
        watcher.cancel()
    assert 1 <= peak <= 3
    assert len(await cloud.collect(100)) == 100


@pytest.mark.parametrize("protocol", ["mqtt5", "mqtt311"])
async def test_broker_down_fails_fast_and_sink_reconnects_after_restart(
        rig: Rig, cloud: MqttTestClient, tmp_path: Path, protocol: str) -> None:
    async with MqttSink(sink_config(rig, protocol=protocol), device_identity(rig, tmp_path)) as sink:
        await sink.wait_connected(30)
        await sink.send(make_batch(1))
        rig.stop()
        await wait_until(lambda: not sink.connected)
        started = time.monotonic()
        with pytest.raises(Retryable):
            await sink.send(make_batch(2))
        assert time.monotonic() - started < 1.0
        rig.start()
        await sink.wait_connected(30)
        await sink.send(make_batch(3))
    assert sink.counters.get("connects") >= 2
    assert sink.counters.get("disconnects") >= 1
    assert sink.counters.get("retried") >= 1


async def test_send_during_broker_kill_raises_retryable(rig: Rig, tmp_path: Path) -> None:
    async with MqttSink(sink_config(rig, max_in_flight=50), device_identity(rig, tmp_path)) as sink:
        await sink.wait_connected(30)
        sends = [asyncio.create_task(sink.send(make_batch(seq))) for seq in range(1, 2001)]
        await asyncio.sleep(0.05)
        rig.kill()
        results = await asyncio.wait_for(asyncio.gather(*sends, return_exceptions=True), 30)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures, "the kill came too late to interrupt any send"
    assert all(isinstance(f, Retryable) for f in failures), {type(f) for f in failures}


async def test_payload_over_128kb_is_rejected_without_publishing(rig: Rig, cloud: MqttTestClient,
                                                                 tmp_path: Path) -> None:
    big = make_batch(1, readings=3000)
    assert len(big.encode()) > MAX_PAYLOAD_BYTES
    async with MqttSink(sink_config(rig), device_identity(rig, tmp_path)) as sink:
        await sink.wait_connected(30)
        with pytest.raises(Rejected, match="bytes"):
            await sink.send(big)
        await sink.send(make_batch(2))
    assert decode_batch((await cloud.next_message()).payload).seq == 2
    assert sink.counters.get("rejected") == 1
    assert sink.counters.get("published") == 1


async def test_publish_for_another_device_is_rejected_by_puback(rig: Rig, cloud: MqttTestClient,
                                                                tmp_path: Path) -> None:
    async with MqttSink(sink_config(rig), device_identity(rig, tmp_path)) as sink:
        await sink.wait_connected(30)
        with pytest.raises(Rejected, match="NOT_AUTHORIZED"):
            await sink.send(make_batch(1, device="pump-2"))
        assert sink.connected
    await cloud.assert_silent(0.5)


@pytest.mark.parametrize(("limit", "readings", "measure"), [
    (RateLimit(publishes_per_second=40), 3, "publishes"),
    (RateLimit(publishes_per_second=1000, bytes_per_second=128 * 1024), 60, "bytes"),
])
async def test_rate_limit_holds_within_5_percent(rig: Rig, cloud: MqttTestClient, tmp_path: Path,
                                                 limit: RateLimit, readings: int, measure: str) -> None:
    count, burst = 120, 10
    batches = [make_batch(seq, readings=readings) for seq in range(1, count + 1)]
    size = len(batches[-1].encode())
    async with MqttSink(sink_config(rig, rate_limit=limit), device_identity(rig, tmp_path)) as sink:
        await sink.wait_connected(30)
        await asyncio.gather(*(sink.send(b) for b in batches))
    arrivals = [m.received for m in await cloud.collect(count)]
    # a full bucket lets the first few through at once; from then on they are spaced at the rate
    measured = (count - 1 - burst) / (arrivals[-1] - arrivals[burst])
    expected = limit.publishes_per_second if measure == "publishes" else limit.bytes_per_second / size
    assert measured == pytest.approx(expected, rel=0.05)


async def test_sink_started_before_the_broker_connects_when_it_comes_up(rig: Rig, tmp_path: Path) -> None:
    identity = device_identity(rig, tmp_path)
    rig.stop()
    async with MqttSink(sink_config(rig, connect_jitter=0.3), identity) as sink:
        assert sink.state is ConnectionState.WAITING
        await wait_until(lambda: sink.counters.get("connect_failures") >= 2)
        assert sink.counters.snapshot()["state"] == "connecting"
        with pytest.raises(Retryable, match="connecting"):
            await sink.send(make_batch(1))
        rig.start()
        await sink.wait_connected(30)
        await sink.send(make_batch(2))
    assert sink.counters.snapshot()["state"] == "stopped"
