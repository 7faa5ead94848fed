"""Greengrass recipes: render the template in ``recipes/`` and check the result.

Checks are the recipe format's JSON schema (``recipes/recipe.schema.json``, written from the
component recipe reference) plus what this component must honour: publish rights only on its own
basic-ingest topics, an Install step that builds a virtual environment from the wheel artifact,
a Run step that starts the entry point, manifests for Linux amd64, aarch64 and armv7l, and a
default agent configuration that validates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from edge_agent.config import parse_config
from edge_agent.errors import ConfigError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"
TEMPLATE = RECIPES_DIR / "com.edgeferry.FieldbusGateway.yaml"
SCHEMA = RECIPES_DIR / "recipe.schema.json"
ENTRY_POINT = "-m components.fieldbus_gateway"
REQUIRED_PLATFORMS = {("linux", "amd64"), ("linux", "aarch64"), ("linux", "arm")}
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")


@dataclass(frozen=True, slots=True)
class RecipeParams:
    name: str
    version: str
    wheel: str
    artifact_uri: str
    rule: str = "edgeferry_telemetry"
    alarm_rule: str = "edgeferry_alarms"

    def values(self) -> dict[str, str]:
        return {"COMPONENT_NAME": self.name, "COMPONENT_VERSION": self.version, "WHEEL": self.wheel,
                "ARTIFACT_URI": self.artifact_uri, "RULE": self.rule, "ALARM_RULE": self.alarm_rule}


def render_recipe(params: RecipeParams, template: Path = TEMPLATE) -> dict[str, Any]:
    """The template with every ``{{PLACEHOLDER}}`` filled; an unknown placeholder is an error."""
    values = params.values()

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ValueError(f"{template}: unknown placeholder {match.group(0)}")
        return values[match.group(1)]

    recipe = yaml.safe_load(_PLACEHOLDER.sub(fill, template.read_text()))
    assert isinstance(recipe, dict)
    return recipe


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_recipe(recipe: dict[str, Any]) -> str:
    """YAML without anchors or aliases (each manifest spelled out, as Greengrass shows it)."""
    return yaml.dump(recipe, Dumper=_NoAliases, sort_keys=False, width=110)


def recipe_problems(recipe: dict[str, Any]) -> list[str]:
    """Every problem found, as ``path: message``; empty when the recipe is good."""
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(recipe)'}: {e.message}"
                for e in sorted(validator.iter_errors(recipe), key=lambda e: list(e.absolute_path))]
    if problems:
        return problems
    return _access_problems(recipe) + _lifecycle_problems(recipe) + _configuration_problems(recipe)


def _access_problems(recipe: dict[str, Any]) -> list[str]:
    name = recipe["ComponentName"]
    access = recipe.get("ComponentConfiguration", {}).get("DefaultConfiguration", {}).get("accessControl", {})
    policies = access.get("aws.greengrass.ipc.mqttproxy", {})
    problems = []
    if not policies:
        problems.append("accessControl: no aws.greengrass.ipc.mqttproxy policy (PublishToIoTCore would be denied)")
    own_topic = re.compile(r"^\$aws/rules/[A-Za-z0-9_]+/dt/\+/\+/\{iot:thingName\}/(telemetry|alarm)$")
    for policy_id, policy in policies.items():
        where = f"accessControl/aws.greengrass.ipc.mqttproxy/{policy_id}"
        if not policy_id.startswith(f"{name}:"):
            problems.append(f"{where}: policy id must start with the component name {name}:")
        if policy.get("operations") != ["aws.greengrass#PublishToIoTCore"]:
            problems.append(f"{where}/operations: only aws.greengrass#PublishToIoTCore is allowed")
        for topic in policy.get("resources", []):
            if not own_topic.match(topic):
                problems.append(f"{where}/resources: {topic!r} is not one of the device's own basic-ingest topics")
    for policy_id, policy in access.get("aws.greengrass.ipc.config", {}).items():
        if policy.get("resources") != [name]:
            problems.append(f"accessControl/aws.greengrass.ipc.config/{policy_id}/resources: "
                            f"must be [{name}] (its own configuration only)")
    return problems


def _lifecycle_problems(recipe: dict[str, Any]) -> list[str]:
    problems = []
    platforms = set()
    for index, manifest in enumerate(recipe["Manifests"]):
        where = f"Manifests/{index}"
        platform = manifest.get("Platform", {})
        platforms.add((platform.get("os"), platform.get("architecture")))
        lifecycle = manifest.get("Lifecycle", {})
        install = _script(lifecycle.get("Install"))
        run = _script(lifecycle.get("Run"))
        artifacts = [a["URI"].rsplit("/", 1)[-1] for a in manifest.get("Artifacts", [])]
        wheels = [a for a in artifacts if a.endswith(".whl")]
        if len(wheels) != 1:
            problems.append(f"{where}/Artifacts: expected exactly one wheel artifact, found {wheels}")
        if "venv" not in install or not any(f"{{artifacts:path}}/{w}" in install for w in wheels):
            problems.append(f"{where}/Lifecycle/Install: must create a virtual environment and install "
                            "the wheel artifact")
        if ENTRY_POINT not in run:
            problems.append(f"{where}/Lifecycle/Run: must start the entry point ({ENTRY_POINT})")
    missing = REQUIRED_PLATFORMS - platforms
    if missing:
        problems.append(f"Manifests: no manifest for {', '.join(sorted('/'.join(p) for p in missing))}")
    return problems


def _configuration_problems(recipe: dict[str, Any]) -> list[str]:
    default = recipe.get("ComponentConfiguration", {}).get("DefaultConfiguration", {})
    agent = default.get("agent")
    if not isinstance(agent, dict):
        return ["ComponentConfiguration/DefaultConfiguration/agent: missing"]
    try:
        parse_config({"thing": "recipe-check", **agent}, "DefaultConfiguration.agent")
    except ConfigError as exc:
        return [f"ComponentConfiguration/DefaultConfiguration/agent: {p}" for p in exc.problems]
    return []


def _script(step: object) -> str:
    if isinstance(step, dict):
        return str(step.get("Script", ""))
    return str(step or "")
