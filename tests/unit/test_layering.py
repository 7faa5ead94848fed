"""The package layering rule: production packages import downwards only.

``cloud`` and the edge meet only in the wire contract (``edge_agent.envelope`` and MQTT topic-filter
matching, ``edge_agent.topic_filter``); ``edge_agent``, ``provisioning`` and
``components`` never import ``cloud``, and the libraries ``edge_agent`` and ``provisioning`` import
neither the simulators nor the Greengrass adapters. Every import counts, lazy or type-only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "edge_agent": {"cloud", "simulators", "components"},
    "provisioning": {"cloud", "simulators", "components"},
    "components": {"cloud"},
}


WIRE_CONTRACT = {"edge_agent.envelope", "edge_agent.topic_filter"}


def imported_packages(source: str) -> set[tuple[int, str]]:
    """(line, top-level package) of every absolute import in a module's ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name.partition(".")[0]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.lineno, node.module.partition(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    sources = sorted((ROOT / package).rglob("*.py"))
    assert sources, f"no sources under {package}/"
    violations = [f"{path.relative_to(ROOT)}:{line} imports {target}"
                  for path in sources for line, target in sorted(imported_packages(path.read_text()))
                  if target in FORBIDDEN[package]]
    assert violations == []


def test_lazy_and_type_only_imports_count() -> None:
    source = ("if TYPE_CHECKING:\n    from cloud.rig import Rig\n"
              "def f() -> None:\n    import simulators.cli\n    from . import sibling\n")
    assert imported_packages(source) == {(2, "cloud"), (4, "simulators")}


def test_cloud_meets_the_edge_only_in_the_envelope() -> None:
    violations = []
    for path in sorted((ROOT / "cloud").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top in ("simulators", "components") or (top == "edge_agent" and module not in WIRE_CONTRACT):
                    violations.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert violations == []
