"""The agent configuration as each nucleus hands it over: typed (Java nucleus), strings only
(Nucleus Lite decodes YAML scalars into strings), or a file named by ``agent_file``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.gateway import agent_config_from
from components.recipe import TEMPLATE
from edge_agent.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if "devices" in yaml.safe_load(p.read_text()))
"""The example agent configurations (not the rules files)."""


def as_lite_hands_it_over(value: Any) -> Any:
    """Every scalar a string, as Nucleus Lite's GetConfiguration returns a YAML recipe's values."""
    if isinstance(value, dict):
        return {k: as_lite_hands_it_over(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_lite_hands_it_over(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if value is None or isinstance(value, str) else str(value)


def _recipe_default_agent() -> dict[str, Any]:
    text = TEMPLATE.read_text().replace("{{", "").replace("}}", "")
    return yaml.safe_load(text)["ComponentConfiguration"]["DefaultConfiguration"]["agent"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("agent", [_recipe_default_agent(), *(yaml.safe_load(p.read_text()) for p in EXAMPLES)],
                         ids=["recipe-default", *(p.stem for p in EXAMPLES)])
def test_strings_only_configuration_means_the_same(agent: dict[str, Any]) -> None:
    typed = agent_config_from({"agent": agent}, "core-1")
    assert agent_config_from({"agent": as_lite_hands_it_over(agent)}, "core-1") == typed


def test_the_strings_conversion_reaches_every_scalar() -> None:
    assert as_lite_hands_it_over({"a": [1, 2.5, True, None, {"b": False}]}) == {
        "a": ["1", "2.5", "true", None, {"b": "false"}]}


def test_agent_file_takes_precedence_and_its_errors_name_the_file(tmp_path: Path) -> None:
    agent = _recipe_default_agent()
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump({**agent, "site": "from-file"}))
    config = agent_config_from({"agent": agent, "agent_file": str(path)}, "core-1")
    assert (config.site, config.thing) == ("from-file", "core-1")

    path.write_text(yaml.safe_dump({**agent, "devices": [{**agent["devices"][0], "port": 70000}]}))
    with pytest.raises(ConfigError) as bad:
        agent_config_from({"agent_file": str(path)}, "core-1")
    assert bad.value.source == str(path)
    assert any("devices[0].port" in p for p in bad.value.problems)

    with pytest.raises(ConfigError, match="cannot read") as missing:
        agent_config_from({"agent_file": str(tmp_path / "absent.yaml")}, "core-1")
    assert "agent_file" in missing.value.problems[0]
