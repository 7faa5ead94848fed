"""The edge install (``pip install edgeferry`` without extras) is enough for an agent and the
Greengrass component: nothing they import, eagerly or on their paths, needs a cloud-only package."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOUD_ONLY = ("pyarrow", "boto3", "botocore", "psycopg", "nats", "krcf", "numpy", "matplotlib", "Crypto",
              "google.protobuf")

_PROBE = """
import importlib, pkgutil, sys
for name in {blocked!r}:
    sys.modules[name] = None  # any import of it now raises ImportError
failed = []
for package in ("edge_agent", "components"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if info.name.endswith(".__main__"):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            failed.append(f"{{info.name}}: {{exc}}")
for module in ("edgeferry.agent_cli", "edgeferry.cli", "components.fieldbus_gateway", "edgeferry.provision_cli"):
    try:
        importlib.import_module(module)
    except ImportError as exc:
        failed.append(f"{{module}}: {{exc}}")
print("\\n".join(failed))
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=False)


def test_agent_and_component_import_no_cloud_only_package() -> None:
    done = _run(_PROBE.format(blocked=CLOUD_ONLY))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""


def test_the_probe_notices_a_cloud_only_import() -> None:
    done = _run(_PROBE.format(blocked=("pydantic",)))
    assert "edge_agent.config" in done.stdout


def test_cloud_only_packages_are_the_cloud_extra_not_the_edge_install() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    edge = " ".join(project["dependencies"]).lower()
    cloud = " ".join(project["optional-dependencies"]["cloud"]).lower()
    for package in ("pyarrow", "boto3", "psycopg", "nats-py", "krcf", "numpy", "pycryptodome", "protobuf"):
        assert package not in edge
        assert package in cloud
    assert any(d.startswith("edgeferry[cloud") for d in project["optional-dependencies"]["dev"])


def test_a_command_whose_extra_is_missing_says_so_in_one_line() -> None:
    code = ("import sys\nsys.modules['cloud.cli'] = None\n"
            "from edgeferry.cli import main\nsys.exit(main(['cloud', '--help']))")
    done = _run(code)
    assert done.returncode == 1
    assert "pip install 'edgeferry[cloud]'" in done.stderr
    assert "Traceback" not in done.stderr
