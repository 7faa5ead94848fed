"""The rig's Mosquitto plugin (``edgeferry_iot.c``): built with the C compiler on first use and
cached by its source's hash, so an edited source is rebuilt and concurrent builds do not clash."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from cloud.rig.errors import RigError

SOURCE = Path(__file__).with_name("edgeferry_iot.c")
BUILD_PACKAGES = ("gcc", "libc6-dev", "mosquitto-dev", "libmosquitto-dev", "libssl-dev")
"""Debian packages the build needs (scripts/bootstrap.sh installs them)."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgeferry"


def plugin_path() -> Path:
    """The compiled plugin, built now if this source has not been built yet."""
    source = SOURCE.read_bytes()
    target = cache_dir() / f"edgeferry_iot-{hashlib.sha256(source).hexdigest()[:16]}.so"
    if not target.exists():
        _build(target)
    return target


def _build(target: Path) -> None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not Path("/usr/include/mosquitto_broker.h").exists():
        _install_build_packages()
        compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RigError("no C compiler to build the rig's broker plugin: install "
                       + " ".join(BUILD_PACKAGES))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    result = subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(tmp), str(SOURCE),
                             "-lcrypto"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tmp.unlink(missing_ok=True)
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RigError(f"building the rig's broker plugin failed ({last}): install "
                       + " ".join(BUILD_PACKAGES))
    os.replace(tmp, target)


def _install_build_packages() -> None:
    """As root on Debian, install what the build needs (as :func:`cloud.rig.mosquitto.find_mosquitto`
    installs mosquitto itself)."""
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", *BUILD_PACKAGES], capture_output=True,
                       check=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
