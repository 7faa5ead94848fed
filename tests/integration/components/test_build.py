"""``edgeferry component build`` output: the Greengrass layout with a wheelhouse archive per
platform, carrying the version asked for; the archive installs offline into a fresh virtual
environment, whose ``edgeferry component validate`` works away from any source checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import yaml

from components.build import BuildResult, build_component
from components.platforms import PLATFORMS, host_platform
from components.recipe import recipe_problems
from edge_agent.errors import EdgeferryError

NAME = "com.edgeferry.FieldbusGateway"
HOST_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    out = tmp_path_factory.mktemp("build") / "greengrass-build"
    return build_component(out=out, version="2.0.1", s3_bucket="my-bucket", pythons=(HOST_PYTHON,),
                           platforms=[host_platform(), PLATFORMS["linux/armv7l"]])


def test_build_writes_the_greengrass_layout_with_the_given_version(built: BuildResult) -> None:
    out = built.recipe.parents[1]
    assert built.recipe == out / f"recipes/{NAME}-2.0.1.yaml"
    archive = built.artifacts[host_platform().name]
    assert archive == out / f"artifacts/{NAME}/2.0.1/edgeferry-2.0.1-{host_platform().slug}.zip"
    recipe = yaml.safe_load(built.recipe.read_text())
    assert recipe_problems(recipe) == []
    assert recipe["ComponentVersion"] == "2.0.1"
    assert [a["URI"] for m in recipe["Manifests"] for a in m["Artifacts"]] == [
        f"s3://my-bucket/{NAME}/2.0.1/{archive.name}"]
    names = zipfile.ZipFile(archive).namelist()
    assert "edgeferry-2.0.1-py3-none-any.whl" in names
    for dependency in ("pydantic", "pymodbus", "awsiotsdk", "awscrt", "asyncua", "cryptography"):
        assert any(n.lower().startswith(f"{dependency}-") for n in names), dependency
    for cloud_only in ("pyarrow", "boto3", "psycopg", "nats"):
        assert not any(n.lower().startswith(f"{cloud_only}") for n in names), cloud_only


def test_a_platform_without_wheels_is_left_out_with_the_reason(built: BuildResult) -> None:
    assert set(built.artifacts) == {host_platform().name}
    reason = built.skipped["linux/armv7l"]
    assert "No matching distribution" in reason
    manifests = yaml.safe_load(built.recipe.read_text())["Manifests"]
    assert all(m["Platform"]["architecture"] != "arm" for m in manifests)


def test_outside_a_source_checkout_build_asks_for_a_wheel(tmp_path: Path) -> None:
    with pytest.raises(EdgeferryError, match="pass --wheel"):
        build_component(out=tmp_path / "out", version="1.0.0", project=tmp_path)
    with pytest.raises(EdgeferryError, match=r"MAJOR\.MINOR\.PATCH"):
        build_component(out=tmp_path / "out", version="1.0")


@pytest.mark.slow
def test_archive_installs_offline_and_the_installed_package_works(built: BuildResult, tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    zipfile.ZipFile(built.artifacts[host_platform().name]).extractall(wheelhouse)
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
                              "--find-links", str(wheelhouse), "edgeferry==2.0.1"],
                             capture_output=True, text=True, timeout=900, check=False)
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
    # The templates ship inside the package: validate and build run away from the checkout.
    validate = subprocess.run([env_dir / "bin" / "edgeferry", "component", "validate", str(built.recipe)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path, env=base, check=False)
    assert (validate.returncode, validate.stdout.strip()) == (0, f"{built.recipe}: OK"), validate.stderr
    build = subprocess.run([env_dir / "bin" / "edgeferry", "component", "build", "--out", str(tmp_path / "gb")],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path, env=base, check=False)
    assert build.returncode == 1
    assert "pass --wheel" in build.stderr
    assert "Traceback" not in build.stderr
