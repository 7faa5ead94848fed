import pytest

from edge_agent.aggregate import Aggregator, PointMode, alarm_problems, compile_alarms
from edge_agent.aggregate.alarms import AlarmBank
from edge_agent.aggregate.config import AlarmRule
from edge_agent.clock import ManualClock
from edge_agent.envelope import BatchKind, Quality, Reading, decode_batch
from edge_agent.errors import ConfigError
from edge_agent.metrics import Counters

from .conftest import START_MS as T0
from .conftest import Build

POINTS = ["door_open", "speed", "return_air", "setpoint"]


def rule(name: str, when: str, **extra: object) -> AlarmRule:
    return AlarmRule.model_validate({"name": name, "when": when, **extra})


def bank(*rules: AlarmRule) -> tuple[AlarmBank, Counters]:
    counters = Counters()
    return AlarmBank(compile_alarms(rules, POINTS), counters), counters


def r(point: str, v: object, t: int = T0, q: Quality = Quality.GOOD) -> Reading:
    return Reading("d", point, t, v, q)  # type: ignore[arg-type]


def test_problems_name_the_alarm_and_the_unknown_point() -> None:
    problems = alarm_problems([rule("ok", "speed > 5"), rule("moving", "door_open and spead > 5"),
                               rule("moving", "speed **"), rule("x", "open('f')")], POINTS)
    assert "alarms[1].when: unknown point 'spead'" in problems
    assert "alarms[1].name: 'moving' is used 2 times" in problems
    assert any(p.startswith("alarms[2].when: syntax error") for p in problems)
    assert any(p.startswith("alarms[3].when: \"open('f')\" is not allowed") for p in problems)
    assert alarm_problems([rule("ok", "speed > 5")], POINTS) == []


def test_compile_alarms_raises_one_config_error_with_every_problem() -> None:
    with pytest.raises(ConfigError) as err:
        compile_alarms([rule("a", "nope > 1"), rule("b", "x >")], POINTS)
    assert len(err.value.problems) == 2


def test_fires_on_the_rising_edge_only_and_again_after_clearing() -> None:
    alarms, counters = bank(rule("moving", "door_open and speed > 5", message="door open while moving"))
    assert alarms.observe([r("door_open", False), r("speed", 10)], 0.0) == []
    [fired] = alarms.observe([r("door_open", True, T0 + 100)], 1.0)
    assert fired.to_json() == {"name": "moving", "message": "door open while moving", "t": T0 + 100,
                               "values": {"door_open": True, "speed": 10}}
    assert alarms.observe([r("speed", 12, T0 + 200)], 2.0) == []
    assert alarms.observe([r("speed", 3, T0 + 300)], 3.0) == []
    assert counters.get("alarms_cleared") == 1
    assert len(alarms.observe([r("speed", 7, T0 + 400)], 4.0)) == 1
    assert counters.get("alarms_fired") == 2


def test_for_waits_on_the_monotonic_clock_and_restarts_when_the_condition_drops() -> None:
    alarms, _ = bank(rule("warm", "return_air > setpoint + 3", **{"for": "60s"}))
    assert alarms.observe([r("setpoint", 5.0), r("return_air", 9.0, T0 + 10)], 100.0) == []
    assert alarms.deadline() == 160.0
    assert alarms.due(159.9) == []
    assert alarms.observe([r("return_air", 7.0, T0 + 30_000)], 130.0) == []
    assert alarms.deadline() is None
    alarms.observe([r("return_air", 9.5, T0 + 40_000)], 140.0)
    assert alarms.due(199.0) == []
    [fired] = alarms.due(200.0)
    assert fired.t == T0 + 40_000 + 60_000
    assert alarms.due(300.0) == []
    assert alarms.deadline() is None


def test_unknown_values_neither_fire_nor_clear() -> None:
    alarms, counters = bank(rule("fast", "speed > 5"))
    assert alarms.observe([r("speed", None, q=Quality.BAD)], 0.0) == []
    assert len(alarms.observe([r("speed", 6, T0 + 1)], 1.0)) == 1
    assert alarms.observe([r("speed", None, T0 + 2, Quality.BAD)], 2.0) == []
    assert alarms.observe([r("speed", 6, T0 + 3)], 3.0) == []
    assert counters.get("alarms_cleared") == 0
    assert alarms.observe([r("speed", "fast", T0 + 4)], 4.0) == []


def test_an_older_reading_does_not_replace_a_newer_value() -> None:
    alarms, _ = bank(rule("fast", "speed > 5"))
    alarms.observe([r("speed", 1, T0 + 100)], 0.0)
    assert alarms.observe([r("speed", 9, T0 + 50)], 1.0) == []


def test_alarm_batches_go_out_at_once_and_share_the_seq_space(build: Build, clock: ManualClock) -> None:
    agg: Aggregator = build(dict.fromkeys(POINTS, PointMode("raw")),
                            alarms=[{"name": "moving", "when": "door_open and speed > 5"},
                                    {"name": "fast", "when": "speed > 8"}], next_seq=100)
    assert agg.add([r("door_open", False), r("speed", 1)], clock.monotonic()) == []
    clock.advance(1)
    [alarm] = agg.add([r("door_open", True, T0 + 1000), r("speed", 9, T0 + 1000)], clock.monotonic())
    assert alarm.kind is BatchKind.ALARM
    assert alarm.seq == 100
    assert [a["name"] for a in alarm.alarms] == ["moving", "fast"]
    assert alarm.last == {"door_open": True, "speed": 9}
    assert decode_batch(alarm.encode()) == alarm
    [telemetry] = agg.flush(clock.monotonic())
    assert telemetry.kind is BatchKind.TELEMETRY
    assert telemetry.seq == 101
    assert len(telemetry.readings) == 4
    assert agg.counters.get("alarms_fired") == 2


def test_a_pending_alarm_sets_the_next_deadline(build: Build, clock: ManualClock) -> None:
    agg: Aggregator = build({"speed": PointMode("raw")},
                            alarms=[{"name": "fast", "when": "speed > 8", "for": "30s"}],
                            batching={"max_age": "10m"})
    agg.add([r("speed", 9)], clock.monotonic())
    assert agg.next_deadline() == clock.monotonic() + 30
    clock.advance(30)
    [alarm] = agg.tick(clock.monotonic())
    assert alarm.alarms[0]["t"] == T0 + 30_000


def test_aggregator_refuses_alarms_on_unconfigured_points(build: Build) -> None:
    with pytest.raises(ConfigError, match="unknown point 'spead'"):
        build({"speed": PointMode("raw")}, alarms=[{"name": "a", "when": "spead > 1"}])
