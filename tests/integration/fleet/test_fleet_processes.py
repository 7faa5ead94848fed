"""``edgeferry sim fleet --processes``: shards in their own processes, one storm, one report."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_two_processes_share_one_storm_and_lose_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edgeferry", "sim", "fleet", "--trailers", "40", "--processes", "2",
        "--report-every", "1s", "--batch-every", "4s", "--duration", "25s", "--storm", "6s:3s",
        "--reconnect-max", "5s", "--drain-within", "60s", "--dir", str(run), "--no-dashboard",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(process.communicate(), 200)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()[-2000:]
    report = json.loads((run / "report.json").read_text())
    assert report["shards"] == 2
    assert report["start"]["connected"] == 40
    assert report["batches"]["generated"] > 40 * 3
    assert report["batches"]["lost"] == 0
    assert report["batches"]["received"] == report["batches"]["generated"]
    assert report["storm"]["back"] == report["storm"]["expected"] == 40
    assert report["timeline"][-1]["phase"] == "end"
    for first in (0, 20):
        shard = json.loads((run / f"shard-{first:05d}.json").read_text())
        assert shard["batches"]["lost"] == 0
        assert shard["config"]["first"] == first
