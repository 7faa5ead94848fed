"""Anomaly detection on the labelled reefer set: per fault, detection rate and lead time; false
alerts per healthy trailer-day; random-cut-forest points/s per core.

The set (simulators/profiles/reefer_faults.py) runs each trailer for ``--days`` days at one sample
every 30 s, healthy for the first day, its fault starting on the second. The detector is the one
shipped in examples/processors/reefer-anomalies.yaml: 10-minute windows of the trailer, features
over them, a random cut forest per trailer (50 trees, 256 samples, shingles of 3), an alert when
the score stays above its threshold for two windows.

- detection: a faulty trailer with an alert after its fault began;
- lead time: from that first alert to the start of the first breach, the return air above the
  cargo's ordered setpoint + 3 °C for 5 minutes (where there is one; a stuck sensor hides it);
- false alerts: alerts of hot-weather trailers (healthy by construction) and of every trailer
  before its fault, per trailer-day after the first (learning) day;
- points/s/core: score + update of the forest per CPU-second, over the whole set (where each
  trailer's forest spends half its points filling its sample) and in the steady state (one forest
  with a full sample).

    .venv/bin/python bench/anomaly.py [--per-fault N] [--days D] [--seed S] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cloud.processors.anomaly import AnomalyOperator
from cloud.processors.inputs import DeviceInput
from cloud.processors.model import load_config
from cloud.processors.windows import WindowOperator, WindowResult
from simulators.profiles.reefer import SIGNALS
from simulators.profiles.reefer_faults import DAY, FAULTS, FaultCase, cases, run

CONFIG = Path(__file__).resolve().parent.parent / "examples" / "processors" / "reefer-anomalies.yaml"
NAMES = {spec.key: spec.point_name for spec in SIGNALS}
START = 1_795_000_000.0
BREACH_S = 300.0
"""A breach: the return air above the ordered setpoint + 3 °C for 5 minutes (the seed alarm's rule;
a door opened at a stop may pass the line for a minute or two without harm)."""


@dataclass
class Outcome:
    case: FaultCase
    alerts: list[float] = field(default_factory=list)
    """Seconds after the start at which alerts were raised."""
    breach: float | None = None
    points: int = 0
    cpu: float = 0.0
    vectors: list[list[float]] = field(default_factory=list)


def evaluate(case: FaultCase, days: float, overrides: dict[str, object]) -> Outcome:
    config = load_config(CONFIG)
    spec = config.anomalies[0].model_copy(update=overrides)
    windows = WindowOperator(next(w for w in config.windows if w.name == spec.window))
    detector = AnomalyOperator(spec)
    out = Outcome(case)
    above: float | None = None
    for t, values in run(case, start=START, days=days):
        elapsed = t - START
        warm = float(values["Reefer.ReturnAir"]) > case.setpoint + 3.0  # type: ignore[arg-type]
        above = (above if above is not None else elapsed) if warm else None
        if out.breach is None and above is not None and above >= case.onset \
                and elapsed - above >= BREACH_S and case.fault != "stuck_sensor":
            out.breach = above
        closed, _ = windows.add(DeviceInput(case.trailer, int(t * 1000),
                                            {NAMES[k]: v for k, v in values.items() if k in NAMES}))
        for start, group in _by_start(closed).items():
            point = detector.vector(group)
            if point is None:
                continue
            began = time.process_time()
            score = detector.score(case.trailer, start, point)
            out.cpu += time.process_time() - began
            out.points += 1
            out.vectors.append(point)
            if score.alert:
                out.alerts.append((start + spec_window_ms(windows)) / 1000 - START)
    return out


def spec_window_ms(windows: WindowOperator) -> int:
    return windows.spec.size_ms


def _by_start(closed: list[WindowResult]) -> dict[int, list[WindowResult]]:
    groups: dict[int, list[WindowResult]] = defaultdict(list)
    for w in closed:
        groups[w.start].append(w)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-fault", type=int, default=20, help="trailers per fault kind")
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="4 trailers per fault, 2.5 days")
    parser.add_argument("--threshold", type=float, help="override the detector's score threshold")
    parser.add_argument("--sustain", type=int, help="override how many windows in a row alert")
    args = parser.parse_args()
    per_fault, days = (4, 2.5) if args.quick else (args.per_fault, args.days)
    began = time.perf_counter()
    overrides = {k: v for k, v in (("threshold", args.threshold), ("sustain", args.sustain)) if v is not None}
    outcomes = [evaluate(case, days, overrides) for case in cases(per_fault, seed=args.seed)]
    print(f"{len(outcomes)} trailers x {days:g} days, seed {args.seed}, "
          f"{time.perf_counter() - began:.0f} s")
    print(f"{'fault':<16}{'detected':>10}{'lead median':>14}{'lead min':>10}{'breached':>10}")
    false_alerts, healthy_days = 0, 0.0
    for fault in FAULTS:
        group = [o for o in outcomes if o.case.fault == fault]
        for o in group:
            learned = [a for a in o.alerts if a >= DAY]
            before = [a for a in learned if not o.case.faulty or a < o.case.onset]
            false_alerts += len(before)
            healthy_days += (days * DAY - DAY if not o.case.faulty else max(0.0, o.case.onset - DAY)) / DAY
        if fault == "hot_weather":
            continue
        detected = [o for o in group if any(a >= o.case.onset for a in o.alerts)]
        leads = [(o.breach - min(a for a in o.alerts if a >= o.case.onset)) / 60 for o in detected
                 if o.breach is not None]
        breached = sum(1 for o in group if o.breach is not None)
        median = f"{statistics.median(leads):.0f} min" if leads else "-"
        low = f"{min(leads):.0f} min" if leads else "-"
        print(f"{fault:<16}{len(detected)}/{len(group):<8}{median:>14}{low:>10}{breached:>7}/{len(group)}")
    print(f"false alerts per healthy trailer-day: {false_alerts / healthy_days:.3f} "
          f"({false_alerts} in {healthy_days:.0f} trailer-days)")
    points, cpu = sum(o.points for o in outcomes), sum(o.cpu for o in outcomes)
    print(f"random cut forest over the set: {points} points, {points / cpu:,.0f} points/s/core "
          "(score + update, 50 trees, sample 256; each forest's first 256 points fill its sample)")
    spec = load_config(CONFIG).anomalies[0]
    for decay in (spec.time_decay, None):
        label = f"time decay {decay:g}" if decay is not None else "krcf's default time decay"
        print(f"random cut forest, steady state, {label}: {steady_rate(outcomes, decay):,.0f} points/s/core "
              "(one forest, sample full, the set's feature vectors one after another)")


def steady_rate(outcomes: list[Outcome], decay: float | None, warmup: int = 2_000) -> float:
    """Score + update per CPU-second of one forest whose sample is full, on the set's own vectors."""
    spec = load_config(CONFIG).anomalies[0]
    detector = AnomalyOperator(spec.model_copy(update={"threshold": float("inf"), "time_decay": decay}))
    vectors = [v for o in outcomes for v in o.vectors]
    for n, point in enumerate(vectors[:warmup]):
        detector.score("steady", n, point)
    began = time.process_time()
    for n, point in enumerate(vectors[warmup:]):
        detector.score("steady", n, point)
    return (len(vectors) - warmup) / (time.process_time() - began)


if __name__ == "__main__":
    main()
