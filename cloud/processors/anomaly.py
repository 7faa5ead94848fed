"""Anomaly scores: a streaming random cut forest per key over shingled feature vectors, with a
score and a per-dimension attribution, as Kinesis Data Analytics' ``RANDOM_CUT_FOREST`` /
``RANDOM_CUT_FOREST_WITH_EXPLANATION`` gave them.

The forest is ``krcf``, the Python binding of AWS's own Rust implementation
(random-cut-forest-by-aws): 50 trees of 256 sampled points by default, internal shingling, a
time-decayed reservoir. Features are expressions over a window's aggregates of the key
(``$input.<point>.avg``, ``.min``, ``.max``, ``.first``, ``.last``, ``.n``), so a point is scored per
closed window, not per raw reading. A point scored at or above ``threshold`` for ``sustain``
windows in a row raises an alert; its attribution (which feature, up or down) is computed only
then, since it costs as much as the score itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from krcf import RandomCutForest

from cloud.processors.actions import Action
from cloud.processors.expressions import Expression, Scope
from cloud.processors.windows import WindowResult
from cloud.rules.actions.base import CloudModel
from cloud.stores.records import MessageKey, Record, Row


class AnomalySpec(CloudModel):
    """One anomaly detector: which window feeds it, its features, the forest and the alert rule."""

    name: str
    window: str
    features: dict[str, str]
    """Feature name -> expression over the window's aggregates."""
    shingle_size: int = 4
    number_of_trees: int = 50
    sample_size: int = 256
    output_after: int = 64
    time_decay: float | None = None
    threshold: float = 2.0
    sustain: int = 2
    learn_anomalies: bool = False
    """False: a point scored at or above the threshold is not learnt, so that a fault that lasts
    does not become the new normal."""
    random_seed: int = 0
    notify: tuple[Action, ...] = ()
    """Actions (as a detector model's) for each alert; the payload carries score and attribution."""

    def compiled(self) -> list[tuple[str, Expression]]:
        return [(name, Expression(source)) for name, source in self.features.items()]


@dataclass(frozen=True, slots=True)
class AnomalyScore:
    detector: str
    key: str
    t: int
    """The window's start (ms)."""
    score: float
    alert: bool
    attribution: Mapping[str, float] | None = None
    """Per feature: the score's share in its direction (positive: above normal, negative: below),
    summed over the shingle; only for alerts."""


class _Forest:
    __slots__ = ("forest", "run", "seen")

    def __init__(self, spec: AnomalySpec, dimensions: int) -> None:
        options: dict[str, Any] = {
            "dimensions": dimensions, "shingle_size": spec.shingle_size, "num_trees": spec.number_of_trees,
            "sample_size": spec.sample_size, "output_after": spec.output_after,
            "random_seed": spec.random_seed, "internal_shingling": True, "parallel_execution_enabled": False}
        if spec.time_decay is not None:
            options["lambda"] = spec.time_decay
        self.forest = RandomCutForest(options)  # type: ignore[arg-type]
        self.run = 0
        self.seen = 0


class AnomalyOperator:
    """Scores the closed windows of one key after another, a forest per key."""

    def __init__(self, spec: AnomalySpec) -> None:
        self.spec = spec
        self._features = spec.compiled()
        self._forests: dict[str, _Forest] = {}

    def vector(self, windows: Sequence[WindowResult]) -> list[float] | None:
        """The feature vector of one key's windows of one start; None if a feature is undefined."""
        inputs: dict[str, Any] = {}
        for w in windows:
            inputs |= {f"{w.point}.avg": w.avg, f"{w.point}.min": w.min, f"{w.point}.max": w.max,
                       f"{w.point}.first": w.first, f"{w.point}.last": w.last, f"{w.point}.n": w.n}
        scope = Scope(inputs, {})
        values = [expression.evaluate(scope) for _, expression in self._features]
        if any(not isinstance(v, int | float) or isinstance(v, bool) or v != v for v in values):
            return None
        return [float(v) for v in values]

    def score(self, key: str, t: int, point: list[float]) -> AnomalyScore:
        """Score ``point`` against the key's forest, then learn it."""
        state = self._forests.get(key)
        if state is None:
            state = self._forests[key] = _Forest(self.spec, len(point))
        forest = state.forest
        score = forest.score(point) if state.seen >= self.spec.output_after else 0.0
        state.run = state.run + 1 if score >= self.spec.threshold else 0
        alert = state.run == self.spec.sustain
        attribution = self._explain(forest, point) if alert else None
        if self.spec.learn_anomalies or score < self.spec.threshold:
            forest.update(point)
            state.seen += 1
        return AnomalyScore(self.spec.name, key, t, score, alert, attribution)

    def _explain(self, forest: RandomCutForest, point: list[float]) -> dict[str, float]:
        vector = forest.attribution(point)
        names = [name for name, _ in self._features]
        out = dict.fromkeys(names, 0.0)
        for i, (high, low) in enumerate(zip(vector["high"], vector["low"], strict=True)):
            out[names[i % len(names)]] += high - low
        return out


def score_records(scores: Sequence[AnomalyScore]) -> list[Record]:
    """Scores as time-series rows ``anomaly#<detector>`` at the window's start, keyed so that a
    replay writes nothing twice."""
    records = []
    for s in scores:
        key = MessageKey(s.key, f"anomaly:{s.detector}", s.t)
        row = Row(device=s.key, point=f"anomaly#{s.detector}", t=s.t, kind="reading", value=s.score,
                  text=None, q=0, epoch=key.epoch, seq=s.t)
        records.append(Record(key=key, device=s.key, data=json.dumps([s.score, s.alert]).encode(),
                              rows=(row,), latest={}))
    return records
