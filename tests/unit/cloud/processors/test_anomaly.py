"""Anomaly scores in the partition processor: a worn compressor raises an alert that blames the
cooling efficiency, a heat wave does not; scores become time-series rows."""

from __future__ import annotations

from cloud.processors.anomaly import score_records
from cloud.processors.model import load_config
from cloud.processors.partition import PartitionProcessor, Step
from simulators.profiles.reefer import SIGNALS
from simulators.profiles.reefer_faults import DAY, HOUR, FaultCase, run
from tests.unit.cloud.processors.scenarios import EXAMPLES, batch

NAMES = {spec.key: spec.point_name for spec in SIGNALS}


def replay(case: FaultCase, days: float) -> Step:
    config = load_config(EXAMPLES / "reefer-anomalies.yaml")
    processor, step = PartitionProcessor(config, 0), Step()
    samples = [(int(t * 1000), {NAMES[k]: v for k, v in values.items()})
               for t, values in run(case, start=1_795_000_000.0, days=days)]
    for seq, at in enumerate(range(0, len(samples), 10), start=1):
        step.extend(processor.process([batch(case.trailer, seq, samples[at:at + 10]).encode()]))
    return step


def test_a_worn_compressor_raises_an_alert_blaming_the_efficiency() -> None:
    step = replay(FaultCase("worn", "compressor", seed=7, onset=1.2 * DAY, ramp=6 * HOUR), 2.0)
    alerts = [s for s in step.scores if s.alert]
    assert alerts, max(s.score for s in step.scores)
    first = alerts[0]
    assert first.t / 1000 - 1_795_000_000.0 > 1.2 * DAY
    assert first.attribution is not None
    assert min(first.attribution, key=lambda k: first.attribution[k]) == "efficiency"  # type: ignore[index]
    records = score_records(step.scores)
    assert records[0].rows[0].point == "anomaly#reefer-health"


def test_a_heat_wave_on_a_healthy_trailer_raises_no_alert() -> None:
    step = replay(FaultCase("hot", "hot_weather", seed=3, onset=1.2 * DAY), 2.0)
    assert len(step.scores) > 200
    assert [s for s in step.scores if s.alert] == []
