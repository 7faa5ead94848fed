"""Whatever the clocks do, windows partition the readings, nothing is lost or doubled, seqs climb."""

from collections import Counter, defaultdict
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from edge_agent.aggregate import PointMode, byte_limit
from edge_agent.aggregate.config import BatchingConfig
from edge_agent.clock import ManualClock
from edge_agent.envelope import MAX_PAYLOAD_BYTES, Batch, Quality, Reading, Window

from .conftest import START_MS, build_aggregator

WIDTH_MS = 10_000
MODES = {"w1": PointMode("window"), "w2": PointMode("window"), "r1": PointMode("raw")}
ALARMS = [{"name": "high", "when": "w1 > 0 and r1 < 0"}, {"name": "held", "when": "w2 > 0", "for": "3s"}]

value = st.one_of(st.floats(-1e6, 1e6), st.integers(-1000, 1000), st.booleans(), st.sampled_from(["on", "off"]))
reading = st.tuples(st.sampled_from(sorted(MODES)), st.integers(-12_000, 12_000), value,
                    st.sampled_from([Quality.GOOD, Quality.GOOD, Quality.UNCERTAIN, Quality.BAD]))
operation = st.one_of(
    st.tuples(st.just("scan"), st.lists(reading, min_size=1, max_size=8)),
    st.tuples(st.just("scan"), st.lists(reading, min_size=1, max_size=8)),
    st.tuples(st.just("advance"), st.floats(0, 15)),
    st.tuples(st.just("step"), st.integers(-120_000, 120_000)),
    st.tuples(st.just("tick"), st.none()),
)
batching = st.fixed_dictionaries({"max_readings": st.integers(1, 40), "max_bytes": st.integers(512, 8192),
                                  "max_age": st.floats(0.5, 30)})


def is_windowed(r: Reading) -> bool:
    return r.q is not Quality.BAD and isinstance(r.v, int | float)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=3, max_size=40), batch_cfg=batching, lateness=st.sampled_from([0, 2]),
       next_seq=st.integers(1, 10**12))
def test_windows_partition_the_readings_under_clock_jumps(ops: list[tuple[str, Any]], batch_cfg: dict[str, Any],
                                                          lateness: int, next_seq: int) -> None:
    clock = ManualClock(wall_ms=START_MS, monotonic=500.0)
    agg = build_aggregator(MODES, clock=clock, aggregation={"window": WIDTH_MS / 1000, "lateness": lateness},
                           batching=batch_cfg, next_seq=next_seq, alarms=ALARMS)
    inputs: list[Reading] = []
    out: list[Batch] = []
    for op, arg in ops:
        if op == "scan":
            scan = [Reading("d", p, clock.wall_ms() + dt, v, q, 3 if q is Quality.BAD else None)
                    for p, dt, v, q in arg]
            inputs += scan
            out += agg.add(scan, clock.monotonic())
        elif op == "advance":
            clock.advance(arg)
        elif op == "step":
            clock.step_wall(arg)
        else:
            out += agg.tick(clock.monotonic())
        deadline = agg.next_deadline()
        assert deadline is None or deadline > clock.monotonic() or op in ("advance", "step")
    out += agg.flush(clock.monotonic())

    assert [b.seq for b in out] == list(range(next_seq, next_seq + len(out)))
    fired = [a for b in out for a in b.alarms]
    assert len(fired) == agg.counters.get("alarms_fired")
    limit = byte_limit(BatchingConfig.model_validate(batch_cfg))
    for b in out:
        size = len(b.encode())
        assert size <= MAX_PAYLOAD_BYTES
        assert size <= limit or len(b.readings) + len(b.windows) == 1

    raw_out = Counter(r for b in out for r in b.readings)
    assert not raw_out - Counter(inputs), "a reading came out that never went in, or came out twice"
    held = Counter(inputs) - raw_out
    repeated_bad = Counter({r: n for r, n in held.items() if r.q is Quality.BAD})
    windowed = held - repeated_bad
    assert all(r.point in ("w1", "w2") and is_windowed(r) for r in windowed), "a reading was lost"
    assert repeated_bad.total() == agg.counters.get("bad_suppressed"), "only repeated bad readings are held"
    first_bad = {r.point: r for r in reversed(inputs) if r.q is Quality.BAD}
    assert all(raw_out[r] for r in first_bad.values()), "a point turning bad is reported"
    assert all(raw_out[r] == Counter(inputs)[r] for r in inputs
               if r.q is not Quality.BAD and (not is_windowed(r) or r.point == "r1"))

    expected: dict[tuple[str, int], list[Reading]] = defaultdict(list)
    for r in windowed.elements():
        expected[(r.point, r.t // WIDTH_MS * WIDTH_MS)].append(r)
    windows = [w for b in out for w in b.windows]
    parts: dict[tuple[str, int], list[Window]] = defaultdict(list)
    for w in windows:
        parts[(w.point, w.t)].append(w)
    if not agg.counters.get("clock_steps"):
        assert all(len(ws) == 1 for ws in parts.values()), "a window was emitted twice"
    assert {k for k, ws in parts.items() if any(w.n for w in ws)} == set(expected)
    for key, ws in parts.items():
        filled = [w for w in ws if w.n]
        if not filled:
            assert all(w.q is Quality.BAD for w in ws)
            continue
        group = expected[key]
        numbers = [float(r.v) for r in group]  # type: ignore[arg-type]
        assert sum(w.n for w in filled) == len(group)
        assert (min(w.min for w in filled), max(w.max for w in filled)) == (min(numbers), max(numbers))
        total = sum(w.avg * w.n for w in filled)
        assert abs(total - sum(numbers)) <= 1e-9 * len(numbers) * max(1.0, *map(abs, numbers))
        assert max(w.q for w in filled) == max(r.q for r in group)
        if len(ws) == 1:  # a clock step may split a window in parts (each with its own first/last)
            [w] = ws
            first_t, last_t = min(r.t for r in group), max(r.t for r in group)
            assert w.first in [r.v for r in group if r.t == first_t]
            assert w.last in [r.v for r in group if r.t == last_t]
    assert sum(w.n for w in windows) == sum(windowed.values())
    event(f"windows with readings: {min(3, sum(1 for w in windows if w.n))}")
    event(f"late readings: {min(3, agg.counters.get('late_readings'))}")
    event(f"alarms fired: {min(2, len(fired))}")
