"""The demo's alarm round: a trailer opens its doors at 80 km/h, the hot path raises
DoorOpenWhileMoving within a second, and an operator acknowledges it.

The reading goes in through the rules runner (basic-ingest topic, as an agent's would), to the
embedded stream, to a processors worker running the shipped reefer detector models; the worker
notifies on the rig (``alarms/<trailer>/<alarm>``) and the acknowledgement takes the path of
``edgeferry cloud alarms ack``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud.processors.app import WorkerOptions, open_worker
from cloud.processors.model import load_config
from cloud.rules.runner import RulesRunner
from edge_agent.envelope import Batch, Reading
from edgeferry.demo import scenario

TRAILER = "reefer-door"
TOPIC = f"$aws/rules/edgeferry_telemetry/dt/fleet-eu/reefer/{TRAILER}/telemetry"


async def alarm_round(run_dir: Path, broker_dir: Path, runner: RulesRunner) -> list[str]:
    """Raise and acknowledge one alarm; return what happened, a line per step."""
    config = load_config(scenario.EXAMPLES / "processors" / "reefer.yaml").model_copy(update={"clock": "event"})
    options = WorkerOptions(config=config, state=run_dir / "cloud" / "processors.db",
                            stream=run_dir / "cloud" / "stream" / "telemetry", data=run_dir / "cloud",
                            broker_dir=broker_dir)
    stop = asyncio.Event()
    async with open_worker(options) as worker:
        task = asyncio.create_task(worker.run(stop))
        try:
            sent = time.time()
            t = int(sent * 1000)
            values = {"reefer_door_open": True, "reefer_speed": 80.0, "reefer_return_air": -17.6,
                      "reefer_setpoint": -18.0}
            batch = Batch(device=TRAILER, site="fleet-eu", asset_type="reefer", epoch="demo", seq=1, start=t,
                          end=t, readings=tuple(Reading(TRAILER, p, t, v) for p, v in values.items()),
                          last=values)
            await runner.process(TOPIC, batch.encode())
            active = await _state(worker.checkpoint.alarms, "ACTIVE", within=30.0)
            lines = [f"alarm: {TRAILER} opened its doors at 80 km/h -> {active['alarm']} ACTIVE after "
                     f"{time.time() - sent:.1f} s, notified on alarms/{TRAILER}/{active['alarm']}"]
            await asyncio.to_thread(worker.checkpoint.issue, active["model"], active["alarm"], TRAILER,
                                    "acknowledge")
            await _state(worker.checkpoint.alarms, "ACKNOWLEDGED", within=30.0)
            lines.append(f"alarm: acknowledged (edgeferry cloud alarms ack --model {active['model']} "
                         f"--alarm {active['alarm']} --key {TRAILER}) -> ACKNOWLEDGED")
            return lines
        finally:
            stop.set()
            await task


async def _state(alarms: Callable[[], list[dict[str, Any]]], wanted: str, *, within: float) -> dict[str, Any]:
    """Wait until the trailer's alarm is in state ``wanted`` (the checkpoint is polled: the worker
    commits it from its own task)."""
    async with asyncio.timeout(within):
        while True:
            found = [a for a in await asyncio.to_thread(alarms) if a["key"] == TRAILER and a["state"] == wanted]
            if found:
                return found[0]
            await asyncio.sleep(0.1)
