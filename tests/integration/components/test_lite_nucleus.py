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
