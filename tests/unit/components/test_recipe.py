"""Rendered recipes against the recipe rules: the schema and the component's own checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from components.recipe import RecipeParams, dump_recipe, recipe_problems, render_recipe

PARAMS = RecipeParams(name="com.edgeferry.FieldbusGateway", version="1.2.3",
                      wheel="edgeferry-1.2.3-py3-none-any.whl",
                      artifact_uri="s3://bucket/com.edgeferry.FieldbusGateway/1.2.3/edgeferry-1.2.3-py3-none-any.whl")


@pytest.fixture
def recipe() -> dict[str, Any]:
    return render_recipe(PARAMS)


def _mqtt_policy(recipe: dict[str, Any]) -> dict[str, Any]:
    access = recipe["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    return next(iter(access["aws.greengrass.ipc.mqttproxy"].values()))  # type: ignore[no-any-return]


def test_rendered_recipe_is_valid(recipe: dict[str, Any]) -> None:
    assert recipe_problems(recipe) == []
    assert recipe["ComponentVersion"] == "1.2.3"
    assert {(m["Platform"]["os"], m["Platform"]["architecture"]) for m in recipe["Manifests"]} == {
        ("linux", "amd64"), ("linux", "aarch64"), ("linux", "arm")}
    assert "aws.greengrass.StreamManager" in recipe["ComponentDependencies"]
    assert _mqtt_policy(recipe)["resources"] == [
        "$aws/rules/edgeferry_telemetry/dt/+/+/{iot:thingName}/telemetry",
        "$aws/rules/edgeferry_alarms/dt/+/+/{iot:thingName}/alarm"]


def test_dumped_recipe_has_no_yaml_aliases_and_round_trips(recipe: dict[str, Any]) -> None:
    text = dump_recipe(recipe)
    assert "&id" not in text
    assert "*id" not in text
    assert yaml.safe_load(text) == recipe


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda r: _mqtt_policy(r)["resources"].append("$aws/rules/edgeferry_telemetry/dt/+/+/+/telemetry"),
     "is not one of the device's own basic-ingest topics"),
    (lambda r: _mqtt_policy(r)["resources"].append("#"), "is not one of the device's own basic-ingest topics"),
    (lambda r: _mqtt_policy(r)["operations"].append("aws.greengrass#SubscribeToIoTCore"),
     "only aws.greengrass#PublishToIoTCore"),
    (lambda r: r["Manifests"].pop(), "no manifest for linux/arm"),
    (lambda r: r["Manifests"][0]["Lifecycle"].update(Install="pip install edgeferry"),
     "must create a virtual environment and install the wheel artifact"),
    (lambda r: r["Manifests"][1]["Lifecycle"].update(Run="python3 agent.py"), "must start the entry point"),
    (lambda r: r.update(ComponentVersion="1.2"), "ComponentVersion"),
    (lambda r: r.update(Colour="blue"), "Additional properties are not allowed"),
    (lambda r: r["Manifests"][0]["Artifacts"][0].update(URI="http://example.com/x.whl"), "URI"),
    (lambda r: r["ComponentConfiguration"]["DefaultConfiguration"]["agent"]["devices"][0].update(port=70000),
     "agent: devices[0].port"),
])
def test_recipe_checks_catch_mistakes(recipe: dict[str, Any], mutate: Any, expected: str) -> None:
    broken = copy.deepcopy(recipe)
    mutate(broken)
    problems = recipe_problems(broken)
    assert any(expected in p for p in problems), problems
