"""Greengrass recipes: render the template in ``components/recipes/`` and check the result.

Checks are the recipe format's JSON schema (``recipe.schema.json``, written from the component
recipe reference) plus what this component must honour: publish rights only on its own
basic-ingest topics, an Install step that installs the version's own wheelhouse offline into the
version's own virtual environment, a Run step that starts the entry point from it, manifests
Nucleus Lite can select, a recipe small enough for Lite, and a default agent configuration that
validates. The templates ship inside the package, so this works from an installed edgeferry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from components.platforms import Platform
from edge_agent.config import parse_config
from edge_agent.errors import ConfigError

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
TEMPLATE = RECIPES_DIR / "com.edgeferry.FieldbusGateway.yaml"
SCHEMA = RECIPES_DIR / "recipe.schema.json"
ENTRY_POINT = "-m components.fieldbus_gateway"
LITE_RECIPE_LIMIT = 8196
"""Bytes of a recipe file Nucleus Lite reads (``ggl_recipe_get_from_file``); a longer one fails to load."""
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")


@dataclass(frozen=True, slots=True)
class PlatformArtifact:
    """A platform's wheelhouse archive: its file name and the URI the recipe gives it."""

    platform: Platform
    archive: str
    uri: str


@dataclass(frozen=True, slots=True)
class RecipeParams:
    name: str
    version: str
    artifacts: tuple[PlatformArtifact, ...]
    rule: str = "edgeferry_telemetry"
    alarm_rule: str = "edgeferry_alarms"

    def values(self, artifact: PlatformArtifact) -> dict[str, str]:
        return {"COMPONENT_NAME": self.name, "COMPONENT_VERSION": self.version, "RULE": self.rule,
                "ALARM_RULE": self.alarm_rule, "WHEELHOUSE": Path(artifact.archive).stem,
                "ARTIFACT_URI": artifact.uri}


def render_recipe(params: RecipeParams, template: Path = TEMPLATE) -> dict[str, Any]:
    """The template with every ``{{PLACEHOLDER}}`` filled and its manifest repeated for each
    platform artifact; an unknown placeholder is an error."""
    if not params.artifacts:
        raise ValueError("a recipe needs at least one platform artifact")
    text = template.read_text()
    rendered = [_fill(text, params.values(artifact), template) for artifact in params.artifacts]
    recipe = rendered[0]
    manifests = []
    for artifact, each in zip(params.artifacts, rendered, strict=True):
        (manifest,) = each["Manifests"]
        manifest.pop("Platform", None)
        manifests.append({"Name": f"Linux {artifact.platform.name.removeprefix('linux/')}",
                          "Platform": artifact.platform.recipe_platform(), **manifest})
    recipe["Manifests"] = manifests
    return recipe


def _fill(text: str, values: dict[str, str], template: Path) -> dict[str, Any]:
    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ValueError(f"{template}: unknown placeholder {match.group(0)}")
        return values[match.group(1)]

    recipe = yaml.safe_load(_PLACEHOLDER.sub(fill, text))
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
    size = len(dump_recipe(recipe).encode())
    if size > LITE_RECIPE_LIMIT:
        problems.append(f"(recipe): {size} bytes; Nucleus Lite reads recipes of at most {LITE_RECIPE_LIMIT} bytes")
    return problems + _access_problems(recipe) + _lifecycle_problems(recipe) + _configuration_problems(recipe)


SECRET_SERVICE = "aws.greengrass.SecretManager"

_OWN_THING_TOPICS = r"cmd/\{iot:thingName\}/.+|\$aws/things/\{iot:thingName\}/(shadow|jobs|defender)/.+"
OWN_TOPICS = {
    "aws.greengrass#PublishToIoTCore": re.compile(
        r"^(\$aws/rules/[A-Za-z0-9_]+/dt/\+/\+/\{iot:thingName\}/(telemetry|alarm)|" + _OWN_THING_TOPICS + ")$"),
    "aws.greengrass#SubscribeToIoTCore": re.compile(f"^({_OWN_THING_TOPICS})$"),
}
"""What the component may publish and subscribe to through the nucleus: only the core device's
own topics (basic ingest, its commands, its shadow, jobs and Device Defender topics)."""


def _access_problems(recipe: dict[str, Any]) -> list[str]:
    name = recipe["ComponentName"]
    access = recipe.get("ComponentConfiguration", {}).get("DefaultConfiguration", {}).get("accessControl", {})
    policies = access.get("aws.greengrass.ipc.mqttproxy", {})
    problems = [f"accessControl/{service}: not an IPC authorisation service this component uses"
                for service in access if service not in ("aws.greengrass.ipc.mqttproxy", SECRET_SERVICE)]
    # secrets for device passwords and authorizer tokens (edge_agent.secrets): read only
    for policy_id, policy in access.get(SECRET_SERVICE, {}).items():
        if policy.get("operations") != ["aws.greengrass#GetSecretValue"]:
            problems.append(f"accessControl/{SECRET_SERVICE}/{policy_id}/operations: "
                            "only aws.greengrass#GetSecretValue is allowed")
    if not policies:
        problems.append("accessControl: no aws.greengrass.ipc.mqttproxy policy (PublishToIoTCore would be denied)")
    for policy_id, policy in policies.items():
        where = f"accessControl/aws.greengrass.ipc.mqttproxy/{policy_id}"
        if not policy_id.startswith(f"{name}:"):
            problems.append(f"{where}: policy id must start with the component name {name}:")
        operations = policy.get("operations", [])
        unknown = [op for op in operations if op not in OWN_TOPICS]
        if unknown or len(operations) != 1:
            problems.append(f"{where}/operations: one of {', '.join(OWN_TOPICS)} per policy")
            continue
        for topic in policy.get("resources", []):
            if not OWN_TOPICS[operations[0]].match(topic):
                problems.append(f"{where}/resources: {topic!r} is not one of the device's own topics "
                                f"for {operations[0]}")
    return problems


def _lifecycle_problems(recipe: dict[str, Any]) -> list[str]:
    problems = []
    version = recipe["ComponentVersion"]
    env = f"{{work:path}}/env-{version}"
    for index, manifest in enumerate(recipe["Manifests"]):
        where = f"Manifests/{index}"
        if "runtime" not in manifest.get("Platform", {}):
            problems.append(f"{where}/Platform: no runtime (Nucleus Lite skips such a manifest; \"*\" serves both)")
        lifecycle = manifest.get("Lifecycle", {})
        install = " ".join(_script(lifecycle.get("install")).split())
        run = _script(lifecycle.get("run"))
        archives = [a["URI"].rsplit("/", 1)[-1] for a in manifest.get("Artifacts", []) if a.get("Unarchive") == "ZIP"]
        if len(archives) != 1:
            problems.append(f"{where}/Artifacts: expected exactly one wheelhouse archive (Unarchive: ZIP), "
                            f"found {archives}")
            continue
        wheelhouse = f"{{artifacts:decompressedPath}}/{Path(archives[0]).stem}"
        if (f"python3 -m venv {env}" not in install or "--no-index" not in install
                or f"--find-links {wheelhouse}" not in install or f"edgeferry=={version}" not in install):
            problems.append(f"{where}/Lifecycle/install: must create {env} and install edgeferry=={version} "
                            f"into it with --no-index --find-links {wheelhouse}")
        if f"{env}/bin/python {ENTRY_POINT}" not in run:
            problems.append(f"{where}/Lifecycle/run: must start the entry point from {env} ({ENTRY_POINT})")
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
