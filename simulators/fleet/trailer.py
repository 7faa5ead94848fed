"""One simulated trailer: a real edge agent (aggregator, SQLite spool, MQTT sink) fed by a
simulated reefer controller, with its own certificate and its own connection."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig, DeviceConfig, parse_config
from edge_agent.identity import Identity, IdentityConfig
from edge_agent.interfaces import Sink
from edge_agent.publish.config import MqttPublishConfig
from edge_agent.publish.mqtt import MqttSink
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.sqlite import SqliteSpool
from edge_agent.supervisor import Agent
from simulators.fleet.clock import FleetClock
from simulators.fleet.link import CellularLink
from simulators.fleet.source import ReeferSource
from simulators.profiles.modbus_map import reefer_map
from simulators.profiles.reefer import Reefer

logger = logging.getLogger(__name__)

CONTROLLER = "controller"
"""The device name of each trailer's reefer controller (``Reading.device``)."""
ALARMS = (
    {"name": "warm_cargo", "when": "reefer_return_air > reefer_setpoint + 3",
     "message": "return air 3 degC above setpoint"},
    {"name": "door_open", "when": "reefer_door_open and reefer_speed < 1", "message": "door open at a stop"},
    {"name": "low_fuel", "when": "reefer_fuel_level < 15", "message": "genset fuel below 15 %"},
)
BUNDLE_BYTES = 64 * 1024
"""Room for a 5-minute raw bundle of every point in one batch (13 points x 10 scans is ~9 KB)."""
STATUS_INTERVAL = 3600.0
"""No health file per trailer: the fleet samples status itself, so the agents' timer sleeps long."""


@dataclass(frozen=True, slots=True)
class TrailerSettings:
    """What every trailer of a fleet shares."""

    site: str
    report_every: float
    batch_every: float
    publish: MqttPublishConfig
    batch_form: str = "full"
    shutdown_grace: float = 30.0
    time_scale: float = 1.0


def fleet_agent_config(settings: TrailerSettings) -> AgentConfig:
    """The agent configuration of a trailer (thing, spool and identity are set per trailer):
    the reefer controller's points polled every report interval, raw bundles closed every batch
    interval, alarms at once."""
    document: dict[str, Any] = {
        "thing": "template", "site": settings.site, "asset_type": "reefer",
        "devices": [{"type": "modbus_tcp", "name": CONTROLLER, "host": "127.0.0.1",
                     "poll_interval": settings.report_every,
                     "points": [entry.point_config() for entry in reefer_map()]}],
        "aggregation": {"mode": "raw"},
        "batching": {"max_age": settings.batch_every, "max_readings": 10_000, "max_bytes": BUNDLE_BYTES,
                     "fill_metering_units": False, "form": settings.batch_form},
        "alarms": [dict(a) for a in ALARMS],
        "publish": settings.publish.model_dump(),
        "status": {"interval": STATUS_INTERVAL, "shutdown_grace": settings.shutdown_grace},
    }
    return parse_config(document, "fleet trailer config")


class Trailer:
    """A trailer's agent and the handles the fleet drives: its link (dead zones) and its spool."""

    def __init__(self, index: int, identity: Identity, directory: Path, template: AgentConfig,
                 settings: TrailerSettings, clock: FleetClock, executor: Executor, phase: float) -> None:
        self.index = index
        self.thing = identity.thing_name
        self.directory = directory
        self.spool_path = directory / "spool.db"
        spool = SqliteSpoolConfig(path=self.spool_path)
        self.config = template.model_copy(update={
            "thing": self.thing, "spool": spool, "identity": IdentityConfig(dir=identity.cert_path.parent)})
        self.spool = SqliteSpool(spool, executor=executor)
        self.link = CellularLink(MqttSink(settings.publish, identity))
        self._clock = clock
        self._phase = phase
        self._settings = settings
        self.agent = Agent(self.config, spool=self.spool, sink_factory=self._sink,
                           source_factory=self._source)
        self.start_seq = 0
        """The spool's last seq when this run began: batches above it were made in this run."""
        self.start_dropped = 0
        self.start_rejected = 0
        self.error: Exception | None = None
        self._finished = asyncio.Event()

    def _sink(self, _: AgentConfig) -> Sink:
        return self.link

    def _source(self, _: DeviceConfig) -> ReeferSource:
        model = Reefer(seed=self.index, container=f"EFRU{self.index:07d}")
        return ReeferSource(CONTROLLER, model, self._clock, self._phase,
                            time_scale=self._settings.time_scale, origin=self._clock.origin)

    async def run(self, stop: asyncio.Event) -> None:
        """Run the agent until ``stop`` is set (then it flushes, drains for a grace period, stops).
        A trailer that fails keeps its error in ``error`` and does not take the fleet down."""
        try:
            await self.agent.run(stop)
        except Exception as exc:
            self.error = exc
            logger.error("trailer_failed", extra={"thing": self.thing, "error": repr(exc)})
        finally:
            self._finished.set()

    async def started(self) -> bool:
        """Wait until the agent runs (True) or has failed (False)."""
        running = asyncio.create_task(self.agent.running.wait())
        finished = asyncio.create_task(self._finished.wait())
        await asyncio.wait((running, finished), return_when=asyncio.FIRST_COMPLETED)
        for task in (running, finished):
            task.cancel()
        return self.agent.running.is_set()

    def note_start(self) -> None:
        """Remember where this run's seqs begin (call once the agent is running)."""
        self.start_seq = self.spool.last_seq
        stats = self.spool.stats()
        self.start_dropped, self.start_rejected = stats.dropped, stats.rejected
