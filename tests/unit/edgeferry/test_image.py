"""The modem image's installer and systemd unit, as rendered from an agent config."""

from __future__ import annotations

import subprocess
from pathlib import Path

from edge_agent.config import load_config
from edgeferry.image import installer, state_directories, unit_file

ROOT = Path(__file__).resolve().parents[3]
REEFER = load_config(ROOT / "examples/reefer.yaml")


def test_state_directories_are_the_identity_store_and_the_spool_folder() -> None:
    assert state_directories(REEFER) == [Path("/var/lib/edgeferry"), Path("/var/lib/edgeferry/identity")]


def test_unit_is_supervised_by_systemd() -> None:
    unit = unit_file(REEFER)
    for line in ("Type=notify", "WatchdogSec=120", "Restart=always", "StartLimitIntervalSec=0",
                 "StateDirectory=edgeferry edgeferry/identity", "StateDirectoryMode=0700", "User=edgeferry",
                 "ExecStart=/opt/edgeferry/current/bin/python -m edgeferry --log-format json agent run "
                 "--config /etc/edgeferry/agent.yaml --no-status"):
        assert line in unit.splitlines(), line


def test_installer_is_valid_sh_installing_offline_into_a_per_version_environment() -> None:
    script = installer(REEFER, "1.4.0")
    assert subprocess.run(["sh", "-n"], input=script, text=True, check=False).returncode == 0
    assert '--no-index' in script
    assert '"edgeferry==1.4.0"' in script
    assert 'env="$root/opt/edgeferry/1.4.0"' in script
    assert 'ln -sfn "1.4.0" "$root/opt/edgeferry/current"' in script
