"""``edgeferry component build``: per platform a self-contained wheelhouse archive, and the
recipe, in the layout the Greengrass CLI and GDK expect::

    greengrass-build/recipes/<name>-<version>.yaml
    greengrass-build/artifacts/<name>/<version>/edgeferry-<version>-linux-<arch>.zip

ready for a local deployment with the Greengrass CLI (:meth:`BuildResult.local_deployment`) or for
upload to S3. Each archive holds the edgeferry wheel of that version and every dependency's wheel
for the platform, so the Install step needs no network. A platform for which a dependency has no wheel is left out of the recipe,
with the reason.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from components.platforms import PLATFORMS, PYTHONS, Platform
from components.recipe import PlatformArtifact, RecipeParams, dump_recipe, recipe_problems, render_recipe
from components.wheelhouse import PlatformUnavailable, download_wheelhouse, zip_wheelhouse
from edge_agent.errors import EdgeferryError

COMPONENT_NAME = "com.edgeferry.FieldbusGateway"
SOURCE_DIR = Path(__file__).resolve().parent.parent
"""The source checkout, when the package runs from one (it holds ``pyproject.toml``)."""
LOCAL_BUCKET = "BUCKET_NAME"
"""Placeholder bucket for local deployments: the Greengrass CLI takes artifacts from
``--artifactDir`` and only uses the URI's file name (component-recipe-reference, Artifacts)."""
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_VERSION_LINE = re.compile(r'^version = "[^"]*"$', re.MULTILINE)


GREENGRASS_CLI = "/greengrass/v2/bin/greengrass-cli"
"""Where the Greengrass CLI component (``aws.greengrass.Cli``) puts the CLI on a core device whose
root folder is the default ``/greengrass/v2`` (verify-local-development-tools.html); it is not on
PATH."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    recipe: Path
    artifacts: dict[str, Path]
    """Platform name -> its wheelhouse archive."""
    version: str
    skipped: dict[str, str] = field(default_factory=dict)
    """Platform name -> why it was left out."""

    def local_deployment(self, name: str) -> str:
        """The command that deploys this build on the core device it was built on. The paths are
        absolute: the nucleus, not the CLI's working directory, reads them."""
        recipes = self.recipe.parent.resolve()
        artifacts = (self.recipe.parent.parent / "artifacts").resolve()
        return (f"sudo {GREENGRASS_CLI} deployment create --recipeDir {recipes} "
                f"--artifactDir {artifacts} --merge \"{name}={self.version}\"")


def installed_version() -> str:
    return importlib.metadata.version("edgeferry")


def is_source_checkout(project: Path = SOURCE_DIR) -> bool:
    pyproject = project / "pyproject.toml"
    return pyproject.is_file() and tomllib.loads(pyproject.read_text()).get("project", {}).get("name") == "edgeferry"


def build_wheel(project: Path, version: str, out: Path) -> Path:
    """The project's wheel (no dependencies bundled) carrying ``version``: built from a copy of
    the sources whose ``pyproject.toml`` says that version."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    source = out / "source"
    source.mkdir(parents=True)
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        for package in project.glob(pattern.removesuffix("*")):
            if (package / "__init__.py").is_file():
                shutil.copytree(package, source / package.name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(project / "README.md", source / "README.md")
    (source / "pyproject.toml").write_text(
        _VERSION_LINE.sub(f'version = "{version}"', (project / "pyproject.toml").read_text(), count=1))
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source)]
    if all(importlib.util.find_spec(m) is not None for m in ("setuptools", "wheel")):
        command.insert(4, "--no-build-isolation")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(out.glob(f"edgeferry-{version}-*.whl"))
    if done.returncode != 0 or not wheels:
        errors = [line.strip() for line in done.stderr.splitlines() if "error" in line.lower()]
        raise EdgeferryError(f"building the wheel failed: {(errors or ['no wheel produced'])[0]}")
    return wheels[0]


def build_component(*, out: Path, version: str | None = None, s3_bucket: str | None = None,
                    name: str = COMPONENT_NAME, rule: str = "edgeferry_telemetry",
                    platforms: list[Platform] | None = None, pythons: tuple[str, ...] = PYTHONS,
                    wheel: Path | None = None, project: Path = SOURCE_DIR) -> BuildResult:
    """Build the wheel (or take ``wheel``), a wheelhouse archive per platform, render and check
    the recipe, and write them under ``out``."""
    version = checked_version(version, wheel, project)
    artifact_dir = out / "artifacts" / name / version
    shutil.rmtree(artifact_dir, ignore_errors=True)
    artifacts: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        wheel = wheel or build_wheel(project, version, Path(tmp) / "wheel")
        for platform in platforms or list(PLATFORMS.values()):
            try:
                wheels = download_wheelhouse(wheel, platform, pythons, Path(tmp) / platform.slug)
            except PlatformUnavailable as exc:
                skipped[platform.name] = str(exc)
                continue
            artifacts[platform.name] = zip_wheelhouse(wheels, artifact_dir / f"edgeferry-{version}-{platform.slug}.zip")
    if not artifacts:
        raise EdgeferryError("no platform could be built: " + "; ".join(skipped.values()))
    recipe = render_recipe(RecipeParams(name=name, version=version, rule=rule, artifacts=tuple(
        PlatformArtifact(PLATFORMS[p], a.name, f"s3://{s3_bucket or LOCAL_BUCKET}/{name}/{version}/{a.name}")
        for p, a in artifacts.items())))
    problems = recipe_problems(recipe)
    if problems:
        raise EdgeferryError("rendered recipe is invalid: " + "; ".join(problems))
    recipe_path = out / "recipes" / f"{name}-{version}.yaml"
    recipe_path.parent.mkdir(parents=True, exist_ok=True)
    recipe_path.write_text(dump_recipe(recipe))
    return BuildResult(recipe=recipe_path, artifacts=artifacts, version=version, skipped=skipped)


def checked_version(version: str | None, wheel: Path | None, project: Path = SOURCE_DIR) -> str:
    """The version to build (default: the given wheel's, else the installed package's), checked:
    MAJOR.MINOR.PATCH, equal to the wheel's, and buildable (a wheel given or a source checkout)."""
    version = version or (_wheel_version(wheel) if wheel else installed_version())
    if not _VERSION.match(version):
        raise EdgeferryError(f"version {version!r}: Greengrass component versions are MAJOR.MINOR.PATCH")
    if wheel is not None and _wheel_version(wheel) != version:
        raise EdgeferryError(f"{wheel.name} is version {_wheel_version(wheel)}, not {version}")
    if wheel is None and not is_source_checkout(project):
        raise EdgeferryError("no source checkout to build the wheel from; pass --wheel edgeferry-<version>-*.whl")
    return version


def _wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]
