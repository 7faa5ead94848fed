"""The rules runner attached to the rig's broker: agent-shaped batches through basic ingest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from cloud.rig import Rig
from cloud.rules.mqtt_attach import MqttSettings
from cloud.rules.rulesfile import RulesFile, parse_rules
from cloud.rules.runner import RulesRunner
from cloud.stores.sql import SqlDatabase
from tests.fixtures.broker import MqttClientFactory
from tests.integration.cloud.stored import stored
from tests.unit.cloud.batches import make_batch

WAIT = 30.0


def settings(rig: Rig) -> MqttSettings:
    identity = rig.cloud_identity
    return MqttSettings(rig.host, rig.port, rig.ca_path, identity.cert_path, identity.key_path)


def rules(data: Path) -> RulesFile:
    return parse_rules({"dataDir": str(data), "rules": [
        {"name": "telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
         "actions": [{"stream": {"streamName": "telemetry"}}, {"lake": {}}],
         "errorAction": {"dlq": {}}},
        {"name": "plant1", "sql": "SELECT device, last FROM 'dt/plant1/#' WHERE last.p0 > 250",
         "actions": [{"republish": {"topic": "cmd/${topic(4)}/check", "qos": 1}}]},
    ], "processors": [{"name": "rows", "stream": "telemetry", "timeseries": {"retention": "3650d"},
                       "current_state": {}}]})


async def until(condition: Callable[[], bool], within: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_batches_through_basic_ingest_reach_every_sink_once(rig: Rig, mqtt_client: MqttClientFactory,
                                                                  tmp_path: Path) -> None:
    device = await mqtt_client(rig.issue_identity("pump-1", tmp_path / "pump-1"))
    topic = "$aws/rules/telemetry/dt/plant1/pump/pump-1/telemetry"
    async with RulesRunner(rules(tmp_path / "data"), mqtt=settings(rig)) as runner:
        for seq in (1, 2, 3, 2, 1):
            await device.publish(topic, make_batch(seq=seq, readings=5).encode())
        await until(lambda: runner.counters["messages"] >= 5)
        await device.publish("$aws/rules/telemetry/dt/plant1/pump/pump-1/telemetry", b"\xff\x00garbage")
        await device.publish("$aws/rules/missing/dt/plant1/pump/pump-1/telemetry", b"{}")
        await until(lambda: runner.counters["messages"] >= 7)
        assert runner.counters["rule_not_found"] == 1
        assert runner.counters["fired"] == 6
        assert runner.counters.get("action_errors", 0) == 0
    held = await stored(tmp_path / "data", shards=4)
    binary = [r.data for r in held["stream"] if r.data.startswith(b"\xff")]
    assert binary == [b"\xff\x00garbage"], "SELECT * passes a binary payload through"
    assert sorted(json.loads(r.data)["seq"] for r in held["stream"] if r.data.startswith(b"{")) == [1, 2, 3]
    assert held["lake"] == 15
    assert held["timeseries"] == 15
    assert {s.point: s.value for s in held["state"]} == {"p0": 303, "p1": 304, "p2": 302}
    assert held["dlq"] == []


async def test_overlapping_filters_run_a_message_once_and_republish_reaches_the_device(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    device = await mqtt_client(rig.issue_identity("pump-1", tmp_path / "pump-1"))
    await device.subscribe("cmd/pump-1/#")
    async with RulesRunner(rules(tmp_path / "data"), mqtt=settings(rig)) as runner:
        await device.publish("dt/plant1/pump/pump-1/telemetry", make_batch(seq=3, readings=3).encode())
        message = await device.next_message(WAIT)
        assert message.topic == "cmd/pump-1/check"
        assert message.json()["device"] == "pump-1"
        await until(lambda: runner.counters["fired"] >= 2)
        await device.assert_silent(1.0)
        assert runner.counters["messages"] == 1, "one message, however many subscriptions matched"
        assert runner.counters["fired"] == 2


async def test_the_runner_keeps_running_when_an_action_fails(rig: Rig, mqtt_client: MqttClientFactory,
                                                             tmp_path: Path) -> None:
    doc = parse_rules({"dataDir": str(tmp_path / "data"), "rules": [
        {"name": "telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
         "actions": [{"timeseries": {"retention": "3650d"}}, {"republish": {"topic": "forbidden/${topic(4)}"}}],
         "errorAction": {"dlq": {}}}]})
    device = await mqtt_client(rig.issue_identity("pump-1", tmp_path / "pump-1"))
    async with RulesRunner(doc, mqtt=settings(rig)) as runner:
        for seq in (1, 2):
            await device.publish("$aws/rules/telemetry/dt/plant1/pump/pump-1/telemetry",
                                 make_batch(seq=seq).encode())
        await until(lambda: runner.counters["messages"] >= 2 and runner.counters["dlq"] >= 2)
        assert runner.counters["action_errors"] == 2
    dlq = SqlDatabase(path=tmp_path / "data" / "dlq" / "dlq.db")
    dlq.open(())
    rows = dlq.transact(lambda tx: tx.query("SELECT message FROM dlq ORDER BY id"))
    dlq.close()
    letters = [json.loads(m) for (m,) in rows]
    assert [len(m["failures"]) for m in letters] == [1, 1]
    assert letters[0]["failures"][0]["failedAction"] == "RepublishAction"


async def test_a_message_the_runner_did_not_finish_is_delivered_again(rig: Rig, mqtt_client: MqttClientFactory,
                                                                      tmp_path: Path) -> None:
    from cloud.rules.mqtt_attach import MqttAttachment

    device = await mqtt_client(rig.issue_identity("pump-1", tmp_path / "pump-1"))
    started, never = asyncio.Event(), asyncio.Event()

    async def stuck(topic: str, payload: bytes) -> None:
        started.set()
        await never.wait()

    crashed = MqttAttachment(settings(rig), stuck, [])
    await crashed.start()
    await device.publish("$aws/rules/telemetry/dt/plant1/pump/pump-1/telemetry", b'{"n":1}')
    await asyncio.wait_for(started.wait(), WAIT)
    crashed._client.stop()  # a crash: no PUBACK was sent for the message being processed
    await asyncio.wait_for(crashed._stopped.wait(), WAIT)
    for task in crashed._workers:
        task.cancel()
    await asyncio.gather(*crashed._workers, return_exceptions=True)

    received: list[tuple[str, bytes]] = []

    async def record(topic: str, payload: bytes) -> None:
        received.append((topic, payload))

    resumed = MqttAttachment(settings(rig), record, [])
    await resumed.start()
    try:
        await until(lambda: bool(received))
        assert received == [("$aws/rules/telemetry/dt/plant1/pump/pump-1/telemetry", b'{"n":1}')]
    finally:
        await resumed.stop()
