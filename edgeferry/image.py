"""``edgeferry image build``: one archive that installs the standalone agent on a device with no
Greengrass and no network (a reefer modem image), from an agent config::

    edgeferry-image/
      install.sh            ./install.sh [ROOT]: offline install into ROOT (default /)
      VERSION
      wheelhouse/*.whl      edgeferry and every dependency, for the platform
      agent.yaml            the agent config (validated at build time)
      edgeferry.service     systemd unit: Type=notify, watchdog, restart always

The installer makes one environment per version under ``/opt/edgeferry/<version>`` (``current``
links to it), keeps an existing ``/etc/edgeferry/agent.yaml``, and creates the identity and
spool directories the config names, mode 0700 (systemd's ``StateDirectory=`` hands them to the
service's user at start), and the system user ``edgeferry`` where the root has a user database.
"""

from __future__ import annotations

import io
import shlex
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from components.build import SOURCE_DIR, build_wheel, checked_version
from components.platforms import PYTHONS, Platform
from components.wheelhouse import download_wheelhouse
from edge_agent.config import AgentConfig, load_config
from edge_agent.errors import EdgeferryError

PREFIX = "/opt/edgeferry"
CONFIG_PATH = "/etc/edgeferry/agent.yaml"
STATE_DIR = Path("/var/lib/edgeferry")
WATCHDOG_SECONDS = 120

_INSTALLER = """#!/bin/sh
# Installs edgeferry {version} offline into ROOT (default /): ./install.sh [ROOT]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=${{1:-/}}
root=${{root%/}}
python=${{PYTHON:-python3}}
env="$root{prefix}/{version}"
rm -rf "$env"
mkdir -p "$root{prefix}"
"$python" -m venv "$env"
"$env/bin/python" -m pip install --quiet --no-index --disable-pip-version-check \\
  --find-links "$here/wheelhouse" "edgeferry=={version}"
"$env/bin/python" -m pip uninstall --quiet --yes pip setuptools  # 24 MB the agent does not use
ln -sfn "{version}" "$root{prefix}/current"
mkdir -p "$root/etc/edgeferry" "$root/etc/systemd/system"
[ -f "$root{config}" ] || install -m 0640 "$here/agent.yaml" "$root{config}"
install -m 0644 "$here/edgeferry.service" "$root/etc/systemd/system/edgeferry.service"
for dir in {directories}; do
  mkdir -p "$root$dir" && chmod 0700 "$root$dir"
done
if [ -f "$root/etc/passwd" ] && ! grep -q '^edgeferry:' "$root/etc/passwd" && command -v useradd >/dev/null; then
  useradd ${{root:+--root "$root"}} --system --no-create-home --shell /usr/sbin/nologin edgeferry
fi
echo "edgeferry {version} installed in $root{prefix}/{version}"
"""

_UNIT = """[Unit]
Description=edgeferry agent ({thing})
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=notify
ExecStart={prefix}/current/bin/python -m edgeferry --log-format json agent run --config {config} --no-status
WatchdogSec={watchdog}
Restart=always
RestartSec=10
TimeoutStopSec=60
User=edgeferry
Group=edgeferry
SupplementaryGroups=dialout
StateDirectory={state_dirs}
StateDirectoryMode=0700
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
"""


@dataclass(frozen=True, slots=True)
class ImageResult:
    archive: Path
    version: str
    wheels: int


def state_directories(config: AgentConfig) -> list[Path]:
    """The directories the agent writes: its identity store and its spool's folder."""
    directories = [config.identity.dir]
    spool_path = getattr(config.spool, "path", None)
    if spool_path is not None:
        directories.append(Path(spool_path).parent)
    return sorted({d if d.is_absolute() else STATE_DIR / d for d in directories})


def unit_file(config: AgentConfig) -> str:
    state = sorted({str(d.relative_to("/var/lib")) for d in state_directories(config)
                    if d.is_relative_to("/var/lib")})
    return _UNIT.format(thing=config.thing, prefix=PREFIX, config=CONFIG_PATH, watchdog=WATCHDOG_SECONDS,
                        state_dirs=" ".join(state or ["edgeferry"]))


def installer(config: AgentConfig, version: str) -> str:
    directories = " ".join(shlex.quote(str(d)) for d in state_directories(config))
    return _INSTALLER.format(version=version, prefix=PREFIX, config=CONFIG_PATH, directories=directories)


def build_image(*, config_path: Path, platform: Platform, out: Path, version: str | None = None,
                pythons: tuple[str, ...] = PYTHONS, wheel: Path | None = None,
                project: Path = SOURCE_DIR) -> ImageResult:
    """Write ``out/edgeferry-<version>-<thing>-<platform>.tar.gz``."""
    config = load_config(config_path)
    version = checked_version(version, wheel, project)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = wheel or build_wheel(project, version, Path(tmp) / "wheel")
        wheels = download_wheelhouse(wheel, platform, pythons, Path(tmp) / "wheelhouse")
        out.mkdir(parents=True, exist_ok=True)
        archive = out / f"edgeferry-{version}-{config.thing}-{platform.slug}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            _add(tar, "install.sh", installer(config, version), 0o755)
            _add(tar, "VERSION", version + "\n", 0o644)
            _add(tar, "agent.yaml", config_path.read_text(), 0o640)
            _add(tar, "edgeferry.service", unit_file(config), 0o644)
            for path in wheels:
                tar.add(path, f"edgeferry-image/wheelhouse/{path.name}")
    if not wheels:
        raise EdgeferryError("the wheelhouse is empty")
    return ImageResult(archive=archive, version=version, wheels=len(wheels))


def _add(tar: tarfile.TarFile, name: str, text: str, mode: int) -> None:
    data = text.encode()
    info = tarfile.TarInfo(f"edgeferry-image/{name}")
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))
