"""Rendered recipes against the recipe rules: the schema and the component's own checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from components.platforms import PLATFORMS
from components.recipe import (
    LITE_RECIPE_LIMIT,
    PlatformArtifact,
    RecipeParams,
    dump_recipe,
    recipe_problems,
    render_recipe,
)

NAME = "com.edgeferry.FieldbusGateway"
PARAMS = RecipeParams(name=NAME, version="1.2.3", artifacts=tuple(
    PlatformArtifact(PLATFORMS[p], f"edgeferry-1.2.3-{PLATFORMS[p].slug}.zip",
                     f"s3://bucket/{NAME}/1.2.3/edgeferry-1.2.3-{PLATFORMS[p].slug}.zip")
    for p in ("linux/amd64", "linux/aarch64")))


@pytest.fixture
def recipe() -> dict[str, Any]:
    return render_recipe(PARAMS)


def _mqtt_policy(recipe: dict[str, Any], number: int = 1) -> dict[str, Any]:
    access = recipe["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    return access["aws.greengrass.ipc.mqttproxy"][f"{NAME}:mqttproxy:{number}"]  # type: ignore[no-any-return]


def test_rendered_recipe_is_valid(recipe: dict[str, Any]) -> None:
    assert recipe_problems(recipe) == []
    assert recipe["ComponentVersion"] == "1.2.3"
    assert [m["Platform"] for m in recipe["Manifests"]] == [
        {"os": "linux", "architecture": "amd64", "runtime": "*"},
        {"os": "linux", "architecture": "aarch64", "runtime": "*"}]
    assert [a["URI"].rsplit("/", 1)[1] for m in recipe["Manifests"] for a in m["Artifacts"]] == [
        "edgeferry-1.2.3-linux-amd64.zip", "edgeferry-1.2.3-linux-aarch64.zip"]
    install = recipe["Manifests"][1]["Lifecycle"]["install"]["Script"]
    assert "--no-index" in install
    assert "--find-links {artifacts:decompressedPath}/edgeferry-1.2.3-linux-aarch64" in install
    assert "{work:path}/env-1.2.3" in recipe["Manifests"][1]["Lifecycle"]["run"]["Script"]
    assert _mqtt_policy(recipe)["resources"][:2] == [
        "$aws/rules/edgeferry_telemetry/dt/+/+/{iot:thingName}/telemetry",
        "$aws/rules/edgeferry_alarms/dt/+/+/{iot:thingName}/alarm"]
    assert _mqtt_policy(recipe, 2)["operations"] == ["aws.greengrass#SubscribeToIoTCore"]
    assert "cmd/{iot:thingName}/#" in _mqtt_policy(recipe, 2)["resources"]


def test_access_control_holds_only_the_mqtt_proxy(recipe: dict[str, Any]) -> None:
    access = recipe["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    assert list(access) == ["aws.greengrass.ipc.mqttproxy"]


def test_armv7l_manifest_names_the_architecture_detail() -> None:
    armv7l = PLATFORMS["linux/armv7l"]
    recipe = render_recipe(RecipeParams(NAME, "1.2.3", (PlatformArtifact(armv7l, "a.zip", "s3://b/a.zip"),)))
    assert recipe["Manifests"][0]["Platform"] == {"os": "linux", "architecture": "arm",
                                                  "architecture.detail": "armv7l", "runtime": "*"}


def test_dumped_recipe_has_no_yaml_aliases_round_trips_and_fits_lite(recipe: dict[str, Any]) -> None:
    text = dump_recipe(recipe)
    assert "&id" not in text
    assert "*id" not in text
    assert yaml.safe_load(text) == recipe
    assert len(text.encode()) <= LITE_RECIPE_LIMIT


def _lifecycle(recipe: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return recipe["Manifests"][index]["Lifecycle"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda r: _mqtt_policy(r)["resources"].append("$aws/rules/edgeferry_telemetry/dt/+/+/+/telemetry"),
     "is not one of the device's own topics for aws.greengrass#PublishToIoTCore"),
    (lambda r: _mqtt_policy(r)["resources"].append("#"), "is not one of the device's own topics"),
    (lambda r: _mqtt_policy(r)["resources"].append("cmd/other-thing/+/response"), "is not one of the device's own"),
    (lambda r: _mqtt_policy(r, 2)["resources"].append("$aws/things/+/shadow/#"),
     "is not one of the device's own topics for aws.greengrass#SubscribeToIoTCore"),
    (lambda r: _mqtt_policy(r, 2)["resources"].append("$aws/rules/edgeferry_telemetry/dt/+/+/{iot:thingName}/telemetry"),
     "is not one of the device's own topics for aws.greengrass#SubscribeToIoTCore"),
    (lambda r: _mqtt_policy(r)["operations"].append("aws.greengrass#SubscribeToIoTCore"), "per policy"),
    (lambda r: r["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"].update(
        {"aws.greengrass.ipc.config": {}}), "not an IPC authorisation service"),
    (lambda r: r["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"].update(
        {"aws.greengrass.SecretManager": {"c:secrets:1": {"operations": ["*"], "resources": ["*"]}}}),
     "only aws.greengrass#GetSecretValue is allowed"),
    (lambda r: _lifecycle(r).update(install="pip install edgeferry"), "--no-index"),
    (lambda r: _lifecycle(r)["install"].update(
        Script=_lifecycle(r)["install"]["Script"].replace("env-1.2.3", "venv")), "must create {work:path}/env-1.2.3"),
    (lambda r: _lifecycle(r, 1).update(run="python3 agent.py"), "must start the entry point"),
    (lambda r: r["Manifests"][0]["Platform"].pop("runtime"), "no runtime"),
    (lambda r: r["Manifests"][0]["Artifacts"][0].update(Unarchive="NONE"), "exactly one wheelhouse archive"),
    (lambda r: _lifecycle(r).update(Install=_lifecycle(r).pop("install")), "Additional properties"),
    (lambda r: r.update(ComponentVersion="1.2"), "ComponentVersion"),
    (lambda r: r.update(Colour="blue"), "Additional properties are not allowed"),
    (lambda r: r["Manifests"][0]["Artifacts"][0].update(URI="http://example.com/x.zip"), "URI"),
    (lambda r: r["ComponentConfiguration"]["DefaultConfiguration"]["agent"]["devices"][0].update(port=70000),
     "agent: devices[0].port"),
    (lambda r: r.update(ComponentDescription="x" * LITE_RECIPE_LIMIT), "Nucleus Lite reads recipes of at most"),
])
def test_recipe_checks_catch_mistakes(recipe: dict[str, Any], mutate: Any, expected: str) -> None:
    broken = copy.deepcopy(recipe)
    mutate(broken)
    problems = recipe_problems(broken)
    assert any(expected in p for p in problems), problems


def test_a_read_only_secret_policy_is_accepted(recipe: dict[str, Any]) -> None:
    with_secrets = copy.deepcopy(recipe)
    with_secrets["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"][
        "aws.greengrass.SecretManager"] = {f"{NAME}:secrets:1": {
            "operations": ["aws.greengrass#GetSecretValue"],
            "resources": ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:plant/plc1-AbCdEf"]}}
    assert recipe_problems(with_secrets) == []
