"""The agent's downlink over the MQTT sink, against the policy-enforcing rig (MQTT 5 and 3.1.1)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cloud.rig import Rig
from edge_agent.downlink import Downlink, Message
from edge_agent.errors import Rejected
from edge_agent.publish.mqtt import MqttSink
from tests.fixtures.broker import MqttClientFactory, wait_until
from tests.integration.publish.test_mqtt_sink import THING, device_identity, sink_config

PROTOCOLS = ["mqtt5", "mqtt311"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_commands_reach_the_device_again_after_the_broker_restarts(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path, protocol: str) -> None:
    cloud = await mqtt_client(rig.cloud_identity)
    received: asyncio.Queue[Message] = asyncio.Queue()

    async def on_command(message: Message) -> None:
        await received.put(message)

    async with Downlink() as downlink, MqttSink(sink_config(rig, protocol=protocol),
                                                device_identity(rig, tmp_path)) as sink:
        downlink.bind(sink)
        await downlink.subscribe(f"cmd/{THING}/#", on_command)
        await downlink.wait_connected(30)
        await cloud.publish(f"cmd/{THING}/setpoint", b'{"id":"1"}')
        first = await asyncio.wait_for(received.get(), 10)
        assert (first.topic, first.json()) == (f"cmd/{THING}/setpoint", {"id": "1"})

        await cloud.stop()
        rig.restart()  # the clean session is gone: the downlink must subscribe again
        await wait_until(lambda: sink.counters.snapshot().get("connects", 0) >= 2, 60)
        await downlink.wait_connected(30)
        await cloud.start()
        await cloud.publish(f"cmd/{THING}/defrost", b'{"id":"2"}')
        second = await asyncio.wait_for(received.get(), 10)
        assert (second.topic, second.json()) == (f"cmd/{THING}/defrost", {"id": "2"})
        assert received.empty()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_another_things_commands_are_refused_and_replies_go_up(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path, protocol: str) -> None:
    cloud = await mqtt_client(rig.cloud_identity)
    await cloud.subscribe("dt/#")

    async def ignore(message: Message) -> None:
        raise AssertionError(f"no message expected, got {message}")

    async with Downlink() as downlink, MqttSink(sink_config(rig, protocol=protocol),
                                                device_identity(rig, tmp_path)) as sink:
        downlink.bind(sink)
        await downlink.wait_connected(30)
        with pytest.raises(Rejected, match="cmd/victim/#"):
            await downlink.subscribe("cmd/victim/#", ignore)
        await cloud.publish("cmd/victim/setpoint", b"{}")
        await downlink.publish(f"dt/site1/pump/{THING}/telemetry", {"hello": 1})
        message = await cloud.next_message()
        assert (message.topic, message.json()) == (f"dt/site1/pump/{THING}/telemetry", {"hello": 1})
        await asyncio.sleep(0.5)
    counters = downlink.counters.snapshot()
    assert (counters.get("received", 0), counters["subscribe_failures"], counters["published"]) == (0, 1, 1)
