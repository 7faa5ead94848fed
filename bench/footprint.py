"""Footprint of the edge install: the component's wheelhouse archive per platform, the installed
size of the edge install (a fresh venv installed offline from that wheelhouse, against this
checkout's development venv), and the reefer agent run from it against the rig: cold start to
the first Modbus request, and resident memory after the run.

    python bench/footprint.py [--quick] [--seconds N]

``--quick`` builds the host platform's archive only and runs the agent for 30 s (default 600 s).
Building needs PyPI (pip download); the install itself runs with ``--no-index``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from pathlib import Path
from typing import Any

import psutil
import yaml

from cloud.rig import Rig
from components.build import build_component
from components.platforms import PLATFORMS, host_platform
from simulators.modbus.server import ModbusSimulator

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def reefer_config(sim: ModbusSimulator, rig: Rig, state: Path) -> dict[str, Any]:
    """examples/reefer.yaml with the simulated controller on Modbus/TCP and the rig as IoT Core."""
    example = yaml.safe_load((ROOT / "examples/reefer.yaml").read_text())
    rtu = example["devices"][0]
    device = {k: v for k, v in rtu.items() if k not in ("port", "baudrate", "parity")}
    return {**example, "devices": [{**device, "type": "modbus_tcp", "host": sim.host, "port": sim.port}],
            "spool": {**example["spool"], "path": str(state / "spool.db")},
            "publish": {**example["publish"], "endpoint": rig.host, "port": rig.port, "connect_jitter": "0s"},
            "identity": {"dir": str(state / "identity")}}


async def run_reefer(python: Path, work: Path, seconds: float) -> tuple[float, float]:
    """(seconds from spawn to the first Modbus request, RSS MiB at the end of the run)."""
    with Rig(work / "rig") as rig:
        async with ModbusSimulator("reefer", port=0) as sim:
            rig.issue_identity("reefer-0001", work / "state" / "identity")
            config = work / "reefer.yaml"
            config.write_text(yaml.safe_dump(reefer_config(sim, rig, work / "state")))
            started = time.monotonic()
            agent = await asyncio.create_subprocess_exec(
                python, "-m", "edgeferry", "agent", "run", "--config", str(config), "--no-status", cwd=work,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while sim.stats.get("requests") == 0:
                    if agent.returncode is not None:
                        raise RuntimeError("the agent exited before its first poll")
                    await asyncio.sleep(0.01)
                first_poll = time.monotonic() - started
                await asyncio.sleep(seconds)
                rss = psutil.Process(agent.pid).memory_info().rss / MIB
            finally:
                agent.terminate()
                await asyncio.wait_for(agent.wait(), 60)
    return first_poll, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    seconds = args.seconds or (30.0 if args.quick else 600.0)
    python_version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        platforms = [host_platform()] if args.quick else list(PLATFORMS.values())
        built = build_component(out=work / "gb", version="1.0.0", platforms=platforms)
        print("component artifact (wheelhouse archive for CPython 3.11-3.13) per platform:")
        for platform, archive in built.artifacts.items():
            print(f"  {platform:14} {archive.stat().st_size / MIB:6.1f} MiB")
        for reason in built.skipped.values():
            print(f"  left out: {reason}")
        wheelhouse = work / "wheelhouse"
        zipfile.ZipFile(built.artifacts[host_platform().name]).extractall(wheelhouse)
        env = work / "edge"
        venv.create(env, with_pip=True)
        python = env / "bin" / "python"
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-index", "--disable-pip-version-check",
                        "--find-links", str(wheelhouse), "edgeferry==1.0.0"], check=True)
        # as the component's install step and the image's installer leave it
        subprocess.run([python, "-m", "pip", "uninstall", "--quiet", "--yes", "pip", "setuptools"], check=True)
        bytecode = sum(tree_size(p) for p in env.rglob("__pycache__"))
        print(f"edge install (Python {python_version}, venv installed offline): {tree_size(env) / MIB:.0f} MiB on disk, "
              f"of which {bytecode / MIB:.0f} MiB compiled bytecode")
        dev = ROOT / ".venv"
        if dev.is_dir():
            print(f"development venv (.venv, edgeferry[dev]): {tree_size(dev) / MIB:.0f} MiB")
        first_poll, rss = asyncio.run(run_reefer(python, work, seconds))
        print("reefer agent (examples/reefer.yaml, Modbus/TCP simulator, MQTT to the rig), from the edge install:")
        print(f"  cold start to first poll: {first_poll:.2f} s")
        print(f"  RSS after {seconds:.0f} s: {rss:.1f} MiB")
        os.sync()


if __name__ == "__main__":
    main()
