"""``edgeferry component build`` output: the Greengrass layout, and a wheel that installs into a fresh
virtual environment whose entry point starts (and, without a nucleus, says so in one line)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

from components.build import build_component
from components.recipe import recipe_problems


def test_build_writes_the_greengrass_layout(tmp_path: Path) -> None:
    result = build_component(out=tmp_path / "greengrass-build", version="2.0.1", s3_bucket="my-bucket")
    assert result.recipe == tmp_path / "greengrass-build/recipes/com.edgeferry.FieldbusGateway-2.0.1.yaml"
    assert result.artifact.parent == tmp_path / "greengrass-build/artifacts/com.edgeferry.FieldbusGateway/2.0.1"
    recipe = yaml.safe_load(result.recipe.read_text())
    assert recipe_problems(recipe) == []
    uris = {a["URI"] for m in recipe["Manifests"] for a in m["Artifacts"]}
    assert uris == {f"s3://my-bucket/com.edgeferry.FieldbusGateway/2.0.1/{result.artifact.name}"}


@pytest.mark.slow
def test_artifact_installs_into_a_fresh_venv_and_its_entry_point_starts(tmp_path: Path) -> None:
    result = build_component(out=tmp_path / "greengrass-build")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              str(result.artifact)], capture_output=True, text=True, timeout=600, check=False)
    assert install.returncode == 0, install.stderr[-2000:]
    base = {k: v for k, v in os.environ.items() if k not in ("SVCUID", "PYTHONPATH")}
    base.pop("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", None)
    for env, expected in [
        (base, "not started by the Greengrass nucleus"),
        ({**base, "SVCUID": "token", "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(tmp_path / "no.sock")},
         "cannot connect to the Greengrass nucleus IPC socket"),
    ]:
        run = subprocess.run([python, "-m", "components.fieldbus_gateway"], capture_output=True, text=True,
                             timeout=60, env=env, cwd=tmp_path, check=False)
        assert run.returncode == 1
        assert expected in run.stderr
        assert "Traceback" not in run.stderr
    assert sys.executable != str(python)
