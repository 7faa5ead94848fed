"""``edgeferry component build``: the wheel artifact and the recipe, in the layout the Greengrass
CLI and GDK expect::

    greengrass-build/recipes/<name>-<version>.yaml
    greengrass-build/artifacts/<name>/<version>/edgeferry-<v>-py3-none-any.whl

ready for a local deployment with the Greengrass CLI (:meth:`BuildResult.local_deployment`) or for
upload to S3.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from components.recipe import RecipeParams, dump_recipe, recipe_problems, render_recipe
from edge_agent.errors import EdgeferryError

COMPONENT_NAME = "com.edgeferry.FieldbusGateway"
PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCAL_BUCKET = "BUCKET_NAME"
"""Placeholder bucket for local deployments: the Greengrass CLI takes artifacts from
``--artifactDir`` and only uses the URI's file name (component-recipe-reference, Artifacts)."""


GREENGRASS_CLI = "/greengrass/v2/bin/greengrass-cli"
"""Where the Greengrass CLI component (``aws.greengrass.Cli``) puts the CLI on a core device whose
root folder is the default ``/greengrass/v2`` (verify-local-development-tools.html); it is not on
PATH."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    recipe: Path
    artifact: Path
    version: str

    def local_deployment(self, name: str) -> str:
        """The command that deploys this build on the core device it was built on. The paths are
        absolute: the nucleus, not the CLI's working directory, reads them."""
        recipes = self.recipe.parent.resolve()
        artifacts = self.artifact.parents[2].resolve()
        return (f"sudo {GREENGRASS_CLI} deployment create --recipeDir {recipes} "
                f"--artifactDir {artifacts} --merge \"{name}={self.version}\"")


def project_version(project: Path = PROJECT_DIR) -> str:
    return str(tomllib.loads((project / "pyproject.toml").read_text())["project"]["version"])


def build_wheel(project: Path, out: Path) -> Path:
    """Build the project's wheel (no dependencies bundled) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(project)]
    if all(importlib.util.find_spec(m) is not None for m in ("setuptools", "wheel")):
        command.insert(4, "--no-build-isolation")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(out.glob("edgeferry-*.whl"))
    if done.returncode != 0 or not wheels:
        errors = [line.strip() for line in done.stderr.splitlines() if "error" in line.lower()]
        last = (errors or ["no wheel produced"])[0]
        raise EdgeferryError(f"building the wheel failed: {last}")
    return wheels[-1]


def build_component(*, out: Path, version: str | None = None, s3_bucket: str | None = None,
                    name: str = COMPONENT_NAME, rule: str = "edgeferry_telemetry",
                    project: Path = PROJECT_DIR) -> BuildResult:
    """Build the wheel, render and check the recipe, and write both under ``out``."""
    version = version or project_version(project)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(project, Path(tmp))
        artifact_dir = out / "artifacts" / name / version
        if artifact_dir.exists():
            shutil.rmtree(artifact_dir)
        artifact_dir.mkdir(parents=True)
        artifact = Path(shutil.copy2(wheel, artifact_dir / wheel.name))
    uri = f"s3://{s3_bucket or LOCAL_BUCKET}/{name}/{version}/{artifact.name}"
    recipe = render_recipe(RecipeParams(name=name, version=version, wheel=artifact.name, artifact_uri=uri,
                                        rule=rule))
    problems = recipe_problems(recipe)
    if problems:
        raise EdgeferryError("rendered recipe is invalid: " + "; ".join(problems))
    recipe_path = out / "recipes" / f"{name}-{version}.yaml"
    recipe_path.parent.mkdir(parents=True, exist_ok=True)
    recipe_path.write_text(dump_recipe(recipe))
    return BuildResult(recipe=recipe_path, artifact=artifact, version=version)
