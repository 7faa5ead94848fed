"""The end-to-end demo: simulators, a local IoT Core, agents, the cloud side, and an outage.

Timeline for a run of ``duration`` seconds: everything starts; at 35 % of the run the broker
stops for ``outage`` seconds (agents keep polling and spooling), then comes back (agents
reconnect with jitter and drain oldest-first); at the end the agents stop, flush and drain, and
the cloud's ledger is reconciled with what every agent produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from cloud.ledger import BatchLedger, Produced, Reconciliation
from cloud.rig import Rig, free_port
from cloud.rules.mqtt_attach import MqttAttachment, MqttSettings
from cloud.rules.rulesfile import load_rules
from cloud.rules.runner import RulesRunner
from edge_agent.errors import EdgeferryError
from edge_agent.supervisor import Agent
from edgeferry.agent_cli import sink_factory_for
from edgeferry.demo import scenario
from edgeferry.demo.alarms import alarm_round
from provisioning.service.api import TemplateEntry
from provisioning.service.service import ProvisioningService
from provisioning.service.templates import DEFAULT_TEMPLATE_PATH, load_template
from simulators.modbus.server import ModbusSimulator
from simulators.opcua.server import OpcUaSimulator

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    run_dir: Path
    duration: float = 60.0
    outage: float = 15.0
    reefers: int = 3


@dataclass
class AgentTrack:
    """One agent in the demo and the highest spool depth seen."""

    agent: Agent
    peak_depth: int = 0

    @property
    def thing(self) -> str:
        return self.agent.config.thing


@dataclass
class DemoState:
    phase: str = "starting"
    started: float = field(default_factory=time.monotonic)
    agents: list[AgentTrack] = field(default_factory=list)
    ledger: BatchLedger = field(default_factory=BatchLedger)
    runner: RulesRunner | None = None
    outages: list[tuple[float, float]] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    """What the alarm round showed, a line per step."""

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def sample(self) -> None:
        for track in self.agents:
            depth = int(track.agent.status().get("spool", "depth"))
            track.peak_depth = max(track.peak_depth, depth)


@dataclass(frozen=True, slots=True)
class DemoResult:
    state: DemoState
    reconciliations: list[Reconciliation]

    @property
    def lost(self) -> int:
        return sum(r.missing for r in self.reconciliations)


async def run_demo(options: DemoOptions, on_tick: Callable[[DemoState], None]) -> DemoResult:
    """Run the whole data path once in a fresh ``run_dir``; ``on_tick`` is called about every
    250 ms with the state."""
    options.run_dir.mkdir(parents=True, exist_ok=True)
    if any(p.name != "demo.log" for p in options.run_dir.iterdir()):
        raise EdgeferryError(f"{options.run_dir} is not empty; the demo needs a fresh run directory")
    state = DemoState()
    async with AsyncExitStack() as stack:
        ticker = asyncio.create_task(_tick(state, on_tick))
        stack.callback(ticker.cancel)
        rig = Rig(options.run_dir / "rig")
        state.phase = "starting the local IoT Core"
        await asyncio.to_thread(rig.start)
        stack.callback(rig.stop)

        state.phase = "starting simulators"
        pump_modbus = await stack.enter_async_context(ModbusSimulator("pump-station", port=0, points=710))
        pump_opcua = await stack.enter_async_context(
            OpcUaSimulator("pump-station", port=free_port(), points=290))
        reefer_sims = [await stack.enter_async_context(ModbusSimulator("reefer", port=0, seed=i))
                       for i in range(options.reefers)]

        state.phase = "starting the cloud side"
        cloud = rig.cloud_identity
        arrived = asyncio.Event()
        attachment: MqttAttachment | None = None

        async def republish(topic: str, payload: bytes, qos: int) -> None:
            assert attachment is not None
            await attachment.publish(topic, payload, qos)

        rules = load_rules(scenario.EXAMPLES / "rules.yaml")
        runner = await stack.enter_async_context(
            RulesRunner(rules, data_dir=options.run_dir / "cloud", publish=republish))
        state.runner = runner

        async def receive(topic: str, payload: bytes) -> None:
            state.ledger.record(payload)
            arrived.set()
            await runner.process(topic, payload)

        attachment = MqttAttachment(
            MqttSettings(rig.host, rig.port, rig.ca_path, cloud.cert_path, cloud.key_path,
                         client_id="edgeferry-demo-cloud"), receive, [])
        await attachment.start()
        stack.push_async_callback(attachment.stop)

        state.phase = "starting fleet provisioning"
        templates = {scenario.TEMPLATE: TemplateEntry(load_template(DEFAULT_TEMPLATE_PATH, scenario.TEMPLATE))}
        provisioning = await stack.enter_async_context(ProvisioningService(rig, templates))

        state.phase = "agents provision themselves from claim certificates"
        endpoints = scenario.Endpoints(
            broker_host=rig.host, broker_port=rig.port, ca=rig.ca_path,
            provisioning_host=provisioning.host, provisioning_port=provisioning.port,
            pump_modbus_port=pump_modbus.port, pump_opcua_endpoint=pump_opcua.endpoint,
            reefer_modbus_ports=tuple(s.port for s in reefer_sims))
        configs = [scenario.pump_station(options.run_dir, endpoints)] + [
            scenario.reefer(options.run_dir, endpoints, i) for i in range(options.reefers)]
        for config in configs:
            claim = scenario.claim_dir(options.run_dir, config.thing)
            await asyncio.to_thread(provisioning.issue_claim, f"claim-{config.thing}", claim)
        sink_factories = await asyncio.gather(*(sink_factory_for(c) for c in configs))
        state.agents = [AgentTrack(Agent.from_config(c, f)) for c, f in zip(configs, sink_factories, strict=True)]
        stop = asyncio.Event()
        running = [asyncio.create_task(t.agent.run(stop), name=t.thing) for t in state.agents]

        await _timeline(state, rig, options)
        state.phase = "stopping agents: flush and drain"
        stop.set()
        await asyncio.gather(*running)
        state.phase = "reconciling the cloud's ledger"
        produced = [_produced(t.agent) for t in state.agents]
        await _wait_for(lambda: all(state.ledger.reconcile(p).missing == 0 for p in produced), arrived,
                        within=20.0)
        state.phase = "hot path: a door opens at 80 km/h; the alarm is raised and acknowledged"
        try:
            state.alarms = await alarm_round(options.run_dir, rig.directory, runner)
        except (TimeoutError, OSError, EdgeferryError) as exc:
            state.alarms = [f"alarm round failed: {exc!r}"]
        state.phase = "done"
        on_tick(state)
        return DemoResult(state, [state.ledger.reconcile(p) for p in produced])
    raise AssertionError("unreachable")


async def _timeline(state: DemoState, rig: Rig, options: DemoOptions) -> None:
    outage_at = options.duration * 0.35
    state.phase = "running"
    await asyncio.sleep(max(0.0, outage_at - state.elapsed))
    if options.outage > 0:
        state.phase = f"broker down for {options.outage:g} s: agents keep polling and spooling"
        down = state.elapsed
        await asyncio.to_thread(rig.stop)
        await asyncio.sleep(options.outage)
        await asyncio.to_thread(rig.start)
        state.outages.append((down, state.elapsed))
        state.phase = "broker back: agents reconnect (jittered) and drain oldest-first"
    await asyncio.sleep(max(0.0, options.duration - state.elapsed))


def _produced(agent: Agent) -> Produced:
    """What the agent put into its fresh spool (seq 1 onwards), from its final status."""
    status = agent.status()
    return Produced(device=agent.config.thing, epoch=str(status.get("spool", "epoch", "")), first=1,
                    last=int(status.get("spool", "last_seq")), dropped=int(status.get("spool", "dropped")))


async def _tick(state: DemoState, on_tick: Callable[[DemoState], None]) -> None:
    while True:
        with contextlib.suppress(Exception):  # a display hiccup must never stop the demo
            state.sample()
            on_tick(state)
        await asyncio.sleep(0.25)


async def _wait_for(condition: Callable[[], bool], changed: asyncio.Event, *, within: float) -> None:
    """Re-check ``condition`` whenever ``changed`` is set, for at most ``within`` seconds."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while not condition():
                changed.clear()
                await changed.wait()
