"""Wheelhouses: the project's wheel and every dependency's wheel for one target platform, made
with ``pip download --only-binary=:all: --platform ...`` so that the target installs with
``pip install --no-index`` and needs no network."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from components.platforms import Platform
from edge_agent.errors import EdgeferryError


class PlatformUnavailable(EdgeferryError):
    """A dependency has no wheel for the platform (the reason names it)."""


def download_wheelhouse(wheel: Path, platform: Platform, pythons: tuple[str, ...], dest: Path) -> list[Path]:
    """Download into ``dest`` the wheels ``wheel`` needs on ``platform`` for each Python version."""
    dest.mkdir(parents=True, exist_ok=True)
    for python in pythons:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                   "--only-binary=:all:", "--implementation", "cp", "--python-version", python,
                   *[f"--platform={tag}" for tag in platform.pip_platforms], "--dest", str(dest), str(wheel)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            errors = [line.strip() for line in done.stderr.splitlines() if line.startswith("ERROR")]
            reason = (errors or [done.stderr.strip()[-300:] or "pip download failed"])[-1]
            raise PlatformUnavailable(f"{platform.name} (Python {python}): {reason}")
    return sorted(dest.glob("*.whl"))


def zip_wheelhouse(wheels: list[Path], archive: Path) -> Path:
    """One archive with the wheels at its top level (Greengrass unpacks it into a folder named
    after the archive)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zipped:
        for wheel in wheels:
            zipped.write(wheel, wheel.name)
    return archive
