"""Every directory the commands and the examples write by default is ignored by git: they hold the
rig's CA key, devices' private keys and data, which ``git add .`` must never pick up."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cloud.rules.rulesfile import RulesFile
from edge_agent.identity import IdentityConfig
from edge_agent.spool.config import SqliteSpoolConfig, StreamManagerSpoolConfig
from edgeferry.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DIR_OPTION = re.compile(r"--(?:dir|broker-dir|data) +([^\s`'\"]+)")
KEY_OUT = re.compile(r"(?:issue-cert|issue-claim|edgeferry provision)\b.*?--out +([^\s`'\"]+)")
"""``--out`` of the commands that write private keys; other outputs (exports) are the user's to keep."""
PLACEHOLDER = re.compile(r"^[A-Z_]+/?$|[<>]")

pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                                reason="needs git and a checkout")


def command_defaults() -> list[Path]:
    return [build_parser("demo").parse_args(["demo"]).dir,
            build_parser("sim").parse_args(["sim", "fleet", "--trailers", "1"]).dir,
            build_parser("component").parse_args(["component", "build"]).out,
            RulesFile.model_fields["data_dir"].default, IdentityConfig.model_fields["dir"].default,
            SqliteSpoolConfig.model_fields["path"].default,
            StreamManagerSpoolConfig.model_fields["position_file"].default]


PATH_KEYS = {"path", "dir", "health_file", "position_file", "dataDir"}


def _path_values(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k in PATH_KEYS and isinstance(v, str)] + \
            [p for v in node.values() for p in _path_values(v)]
    if isinstance(node, list):
        return [p for v in node for p in _path_values(v)]
    return []


def example_paths() -> list[Path]:
    """Paths the example files name, relative to the file as the loaders resolve them."""
    paths = [Path(v) for f in sorted(EXAMPLES.glob("*.yaml"))
             for v in _path_values(yaml.safe_load(f.read_text()))]
    return [(EXAMPLES / p).resolve().relative_to(ROOT) for p in paths if not p.is_absolute()]


def documented_dirs() -> list[Path]:
    """Run directories (``--dir``, ``--broker-dir``, ``--data``) and key stores (``--out`` of the
    commands that write keys) in the README, docs and example headers."""
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(EXAMPLES.glob("*.yaml"))]
    commands = [line for text in texts for line in text.read_text().replace("\\\n", " ").splitlines()]
    found = {m for line in commands for pattern in (DIR_OPTION, KEY_OUT) for m in pattern.findall(line)}
    return [Path(v) for v in sorted(found) if not PLACEHOLDER.search(v) and not v.startswith("/")]


def ignored(path: Path) -> bool:
    inside = path / "ca.key.pem"  # a file in it, as the run would create
    for candidate in (path, inside):
        if subprocess.run(["git", "check-ignore", "-q", str(candidate)], cwd=ROOT).returncode == 0:
            return True
    return False


def test_the_lists_are_not_empty() -> None:
    assert Path(".demo") in command_defaults()
    assert Path(".run/edgeferry-data") in example_paths()
    assert {Path(".run/rig"), Path("identity"), Path(".run/pump-station/identity")} <= set(documented_dirs())


@pytest.mark.parametrize("source", [command_defaults, example_paths, documented_dirs])
def test_every_default_run_directory_is_ignored(source: object) -> None:
    assert callable(source)
    paths: list[Path] = source()
    assert [p for p in paths if not ignored(p)] == []
