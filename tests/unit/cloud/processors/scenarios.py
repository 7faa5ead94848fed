"""Reefer batches for the processor tests: scripted trailers, encoded with the edge's envelope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cloud.processors.model import ProcessorConfig, load_config
from edge_agent.envelope import Batch, Reading, Value

T0 = 1_795_000_020_000
EXAMPLES = Path(__file__).resolve().parents[4] / "examples" / "processors"
SETPOINT = -18.0


def reefer_config(**overrides: object) -> ProcessorConfig:
    """The shipped reefer processors, on event time unless overridden."""
    import yaml

    raw = yaml.safe_load((EXAMPLES / "reefer.yaml").read_text())
    raw.update({"clock": "event", **overrides})
    return load_config(raw)


def reading_values(return_air: float, *, door: bool = False, speed: float = 80.0) -> dict[str, Value]:
    return {"reefer_return_air": return_air, "reefer_setpoint": SETPOINT, "reefer_door_open": door,
            "reefer_speed": speed}


def batch(device: str, seq: int, samples: list[tuple[int, dict[str, Value]]]) -> Batch:
    readings = tuple(Reading(device, point, t, v) for t, values in samples for point, v in values.items())
    return Batch(device=device, site="fleet-eu", asset_type="reefer", epoch="e1", seq=seq,
                 start=samples[0][0], end=samples[-1][0], readings=readings,
                 last=dict(samples[-1][1]))


def trailer(device: str, temps: list[float], *, every_s: int = 30, per_batch: int = 10,
            door_at: set[int] = frozenset(), start: int = T0) -> Iterator[Batch]:
    """One trailer's batches: ``temps[i]`` is the return air at sample ``i`` (every ``every_s``);
    the door is open at the samples in ``door_at``, while driving at 80 km/h."""
    samples = [(start + i * every_s * 1000, reading_values(temp, door=i in door_at))
               for i, temp in enumerate(temps)]
    for seq, at in enumerate(range(0, len(samples), per_batch), start=1):
        yield batch(device, seq, samples[at:at + per_batch])
