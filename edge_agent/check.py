"""What ``edgeferry agent check`` reports about a valid config: devices, points, read plans, and
the traffic it implies (reads per cycle, batches and 5 KB metering units per day)."""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.config import AgentConfig
from edge_agent.envelope import Batch, Reading, metering_units
from edge_agent.sources.modbus.config import ModbusDeviceBase
from edge_agent.sources.modbus.plan import plan_reads
from edge_agent.sources.opcua.config import OpcUaDevice

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class DeviceSummary:
    name: str
    kind: str
    points: int
    reads_per_cycle: int
    poll_interval: float
    plan: list[str]


@dataclass(frozen=True, slots=True)
class ConfigSummary:
    thing: str
    devices: list[DeviceSummary]
    reports_per_second: float
    """Values reported per second after aggregation, with every deadband point changing each poll."""
    quiet_reports_per_second: float
    """The same with deadband points reporting only their heartbeat."""
    batches_per_day: float
    metering_units_per_day: float
    batch_bytes: int

    @property
    def points(self) -> int:
        return sum(d.points for d in self.devices)

    @property
    def reads_per_cycle(self) -> int:
        return sum(d.reads_per_cycle for d in self.devices)


def summarize(config: AgentConfig) -> ConfigSummary:
    devices = [_device_summary(d) for d in config.devices]
    quiet, rate = _reports_per_second(config)
    reading_bytes = _typical_reading_bytes(config)
    batch = config.batching
    if rate <= 0:
        batches_per_day = 0.0
        batch_bytes = 0
    else:
        period = min(batch.max_bytes / (rate * reading_bytes), batch.max_readings / rate,
                     batch.max_age)
        batches_per_day = SECONDS_PER_DAY / period
        polls = max(1, round(rate * period / max(1, len(config.point_names()))))
        batch_bytes = int(min(batch.max_bytes, _sample_batch_bytes(config, polls)))
    units = batches_per_day * metering_units(batch_bytes) if batch_bytes else 0.0
    return ConfigSummary(thing=config.thing, devices=devices, reports_per_second=rate,
                         quiet_reports_per_second=quiet,
                         batches_per_day=batches_per_day, metering_units_per_day=units,
                         batch_bytes=batch_bytes)


def _device_summary(device: object) -> DeviceSummary:
    if isinstance(device, ModbusDeviceBase):
        reads = plan_reads(device)
        return DeviceSummary(name=device.name, kind=str(getattr(device, "type", "modbus")),
                             points=reads.point_count, reads_per_cycle=len(reads.requests),
                             poll_interval=device.poll_interval, plan=reads.describe())
    assert isinstance(device, OpcUaDevice)
    points = sum(p.count for p in device.points)
    polled = sum(p.count for p in device.points if p.sampling == "poll")
    subscribed = points - polled
    plan = []
    if polled:
        plan.append(f"Read service call: {polled} nodes every {device.poll_interval:g} s")
    if subscribed:
        plan.append(f"subscription: {subscribed} monitored items, sampling "
                    f"{device.sampling_interval:g} s, queue {device.queue_size}")
    return DeviceSummary(name=device.name, kind="opcua", points=points,
                         reads_per_cycle=1 if polled else 0, poll_interval=device.poll_interval,
                         plan=plan)


def _reports_per_second(config: AgentConfig) -> tuple[float, float]:
    """Values reported per second after aggregation: (deadband points quiet, every poll a change)."""
    default_mode = config.aggregation.mode
    quiet = busy = 0.0
    for device in config.devices:
        interval = device.poll_interval if not isinstance(device, OpcUaDevice) else (
            device.sampling_interval)
        for point in device.points:
            mode = point.mode or default_mode
            if mode == "window":
                rate = point.count / config.aggregation.window
                quiet, busy = quiet + rate, busy + rate
            elif mode == "raw":
                quiet, busy = quiet + point.count / interval, busy + point.count / interval
            else:
                band = point.deadband or config.aggregation.deadband
                heartbeat = band.heartbeat if band is not None else interval
                quiet += point.count / max(heartbeat, interval)
                busy += point.count / interval
    return quiet, busy


def _typical_reading_bytes(config: AgentConfig) -> float:
    """Bytes one more reading adds to a batch in the configured form (``batching.form``)."""
    names = len(config.point_names()) or 1
    return (_sample_batch_bytes(config, 11) - _sample_batch_bytes(config, 1)) / (10 * names)


def _sample_batch_bytes(config: AgentConfig, polls: int) -> int:
    """Size of a batch of ``polls`` polls of every point (four-decimal values, the poll interval
    apart), encoded in the configured form."""
    names = config.point_names() or ["point"]
    step = int(min((d.poll_interval for d in config.devices), default=1.0) * 1000)
    t0 = 1_700_000_000_000
    readings = tuple(Reading(config.thing, name, t0 + k * step, 1234.5678) for k in range(polls) for name in names)
    return len(Batch(device=config.thing, site=config.site, asset_type=config.asset_type, epoch="0" * 16,
                     seq=1, start=t0, end=readings[-1].t, readings=readings,
                     last=dict.fromkeys(names, 1234.5678), compact=config.batching.form == "compact").encode())
