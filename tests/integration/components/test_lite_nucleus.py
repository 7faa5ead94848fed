"""The test harness's Nucleus Lite (real ggconfigd, ggipcd, iotcored, ggpubsubd, recipe-runner):
a component started by recipe-runner gets its SVCUID, reads its configuration over IPC,
publishes through iotcored to the rig over mutual TLS and reports its state.

Nucleus exercised: Greengrass Nucleus Lite 2.6 (tests/fixtures/lite_nucleus.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from tests.fixtures.broker import MqttClientFactory, wait_until
from tests.fixtures.lite_nucleus import LiteNucleus

PROBE = Path(__file__).with_name("lite_probe.py")
NAME = "com.example.Probe"


def _probe_recipe(directory: Path, topic: str) -> Path:
    recipe = {
        "RecipeFormatVersion": "2020-01-25", "ComponentName": NAME, "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": {
            "topic": topic, "count": 42, "nested": {"enabled": True},
            "accessControl": {"aws.greengrass.ipc.mqttproxy": {f"{NAME}:mqttproxy:1": {
                "operations": ["aws.greengrass#PublishToIoTCore"], "resources": [topic]}}}}},
        "Manifests": [{"Platform": {"os": "linux", "runtime": "*"}, "Lifecycle": {
            "run": {"Script": f"{sys.executable} {PROBE} {{work:path}}/configuration.json"}}}],
    }
    path = directory / f"{NAME}-1.0.0.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


async def test_component_publishes_through_iotcored_to_the_rig(
        lite_nucleus: LiteNucleus, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    topic = f"$aws/rules/edgeferry_telemetry/dt/plant/gateway/{lite_nucleus.thing}/telemetry"
    cloud = await mqtt_client(lite_nucleus.rig.cloud_identity)
    await cloud.subscribe("$aws/rules/#")
    (tmp_path / "artifacts").mkdir()
    probe = lite_nucleus.deploy(_probe_recipe(tmp_path, topic), tmp_path / "artifacts")

    process = lite_nucleus.start_phase(probe)
    message = await cloud.next_message(within=60)

    assert (message.topic, message.json()) == (topic, {"probe": 1})
    await wait_until(lambda: process.poll() is not None, within=30)
    assert process.returncode == 0, lite_nucleus.log(f"{NAME}-1.0.0")
    assert lite_nucleus.states(NAME) == ["RUNNING"]
    # Lite's GetConfiguration hands YAML scalars back as strings (the Java nucleus keeps types).
    seen = json.loads((lite_nucleus.root / "work" / NAME / "configuration.json").read_text())
    assert (seen["topic"], seen["count"], seen["nested"]) == (topic, "42", {"enabled": "true"})


DOWNLINK_PROBE = Path(__file__).with_name("downlink_probe.py")


def _downlink_recipe(directory: Path, name: str) -> Path:
    own = ["cmd/{iot:thingName}/#"]
    recipe = {
        "RecipeFormatVersion": "2020-01-25", "ComponentName": name, "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": {"accessControl": {"aws.greengrass.ipc.mqttproxy": {
            f"{name}:mqttproxy:1": {"operations": ["aws.greengrass#PublishToIoTCore"],
                                    "resources": ["dt/plant/gateway/{iot:thingName}/telemetry"]},
            f"{name}:mqttproxy:2": {"operations": ["aws.greengrass#SubscribeToIoTCore"], "resources": own}}}}},
        "Manifests": [{"Platform": {"os": "linux", "runtime": "*"}, "Lifecycle": {
            "run": {"Script": f"{sys.executable} {DOWNLINK_PROBE} {{iot:thingName}}"}}}],
    }
    path = directory / f"{name}-1.0.0.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


async def test_component_receives_commands_through_subscribe_to_iot_core(
        lite_nucleus: LiteNucleus, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    thing, name = lite_nucleus.thing, "com.example.Downlink"
    cloud = await mqtt_client(lite_nucleus.rig.cloud_identity)
    reply_topic = f"dt/plant/gateway/{thing}/telemetry"
    await cloud.subscribe(reply_topic)
    (tmp_path / "artifacts").mkdir()
    process = lite_nucleus.start_phase(lite_nucleus.deploy(_downlink_recipe(tmp_path, name), tmp_path / "artifacts"))

    ready = await cloud.next_message(within=60)
    assert (ready.topic, ready.json()) == (reply_topic, {"ready": True})
    await cloud.publish(f"cmd/{thing}/setpoint", b'{"id": "c-1", "args": {"value": -20}}')
    answer = await cloud.next_message(within=30)

    assert answer.json() == {"topic": f"cmd/{thing}/setpoint", "command": {"id": "c-1", "args": {"value": -20}}}
    await wait_until(lambda: process.poll() is not None, within=30)
    assert process.returncode == 0, lite_nucleus.log(f"{name}-1.0.0")
