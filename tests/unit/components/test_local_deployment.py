"""The local deployment command ``component build`` prints agrees with docs/greengrass.md and with
Greengrass v2's layout: the CLI at /greengrass/v2/bin, absolute paths."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from components.build import GREENGRASS_CLI, BuildResult

DOCS = Path(__file__).resolve().parents[3] / "docs" / "greengrass.md"


def test_command_uses_the_greengrass_cli_path_and_absolute_directories() -> None:
    out = Path("greengrass-build")
    result = BuildResult(recipe=out / "recipes/com.edgeferry.FieldbusGateway-1.2.3.yaml",
                         artifacts={"linux-amd64": out / "artifacts/com.edgeferry.FieldbusGateway/1.2.3/"
                                                    "edgeferry-1.2.3-linux-amd64.zip"},
                         version="1.2.3")
    words = shlex.split(result.local_deployment("com.edgeferry.FieldbusGateway"))
    assert words[:4] == ["sudo", "/greengrass/v2/bin/greengrass-cli", "deployment", "create"]
    recipe_dir = Path(words[words.index("--recipeDir") + 1])
    artifact_dir = Path(words[words.index("--artifactDir") + 1])
    assert recipe_dir.is_absolute()
    assert recipe_dir == (out / "recipes").resolve()
    assert artifact_dir == (out / "artifacts").resolve()
    assert words[-2:] == ["--merge", "com.edgeferry.FieldbusGateway=1.2.3"]


def test_the_docs_show_the_same_executable() -> None:
    commands = re.findall(r"sudo (\S*greengrass-cli) deployment create", DOCS.read_text())
    assert commands == [GREENGRASS_CLI]
