"""Fleet plans: storm and dead-zone arguments, the dead-zone schedule, the fleet clock's slots."""

from __future__ import annotations

import asyncio
import itertools
import resource
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from edge_agent.errors import EdgeferryError
from edgeferry.cli import main
from simulators.fleet.clock import FleetClock
from simulators.fleet.config import DeadZones, FleetConfig, Storm
from simulators.fleet.limits import FILES_PER_TRAILER, files_needed, processes_needed, raise_open_file_limit
from simulators.fleet.schedule import dead_zone_events


def test_storm_parses_durations() -> None:
    assert Storm.parse("2m:30s") == Storm(at=120.0, down=30.0)
    with pytest.raises(ValueError, match="AT:DOWN"):
        Storm.parse("2m")


def test_dead_zones_parse_and_check_their_order() -> None:
    assert DeadZones.parse("0.1:2m-10m") == DeadZones(fraction=0.1, shortest=120.0, longest=600.0)
    with pytest.raises(ValueError, match="FRACTION:MIN-MAX"):
        DeadZones.parse("0.1:2m")
    with pytest.raises(ValidationError, match="shorter"):
        DeadZones.parse("0.1:5m-1m")
    with pytest.raises(ValidationError):
        DeadZones.parse("1.5:1m-2m")


def test_models_run_faster_when_trailers_report_faster(tmp_path: object) -> None:
    assert FleetConfig(trailers=1, directory="x", report_every=1.0).time_scale == 30.0
    assert FleetConfig(trailers=1, directory="x").time_scale == 1.0


def test_dead_zones_alternate_and_end_before_the_settle_time() -> None:
    plan = DeadZones(fraction=0.5, shortest=2.0, longest=5.0)
    events = dead_zone_events(plan, 100, until=60.0, seed=3)
    assert events == sorted(events)
    by_trailer: dict[int, list[bool]] = {}
    for event in events:
        by_trailer.setdefault(event.trailer, []).append(event.online)
        assert event.at <= 60.0
    assert 0 < len(by_trailer) <= 50
    for states in by_trailer.values():
        assert states == [False, True] * (len(states) // 2)
    assert dead_zone_events(plan, 100, until=60.0, seed=3) == events


def test_dead_zones_last_between_the_bounds() -> None:
    events = dead_zone_events(DeadZones(fraction=1.0, shortest=2.0, longest=5.0), 20, until=100.0)
    starts: dict[int, float] = {}
    for event in events:
        if not event.online:
            starts[event.trailer] = event.at
        else:
            assert 2.0 <= event.at - starts.pop(event.trailer) <= 5.0


def test_clock_spreads_subscribers_over_slots_and_unsubscribes() -> None:
    clock = FleetClock(30.0, resolution=0.1)
    assert clock.slots == 300
    seen: list[float] = []
    handle = clock.subscribe(29.99, seen.append)
    clock.subscribe(0.0, seen.append)
    assert len(clock) == 2
    clock.unsubscribe(handle)
    clock.unsubscribe(handle)
    assert len(clock) == 1


async def test_clock_calls_each_subscriber_once_per_period() -> None:
    clock = FleetClock(0.2, resolution=0.05)
    calls: dict[str, list[float]] = {"a": [], "b": []}
    enough = asyncio.Event()

    def record(name: str) -> Callable[[float], None]:
        def on_tick(wall: float) -> None:
            calls[name].append(wall)
            if min(len(v) for v in calls.values()) >= 4:
                enough.set()
        return on_tick

    clock.subscribe(0.0, record("a"))
    clock.subscribe(0.1, record("b"))
    task = asyncio.create_task(clock.run())
    try:
        await asyncio.wait_for(enough.wait(), 20)
    finally:
        task.cancel()
    a, b = calls["a"], calls["b"]
    assert [round(y - x, 3) for x, y in itertools.pairwise(a)][:3] == [0.2, 0.2, 0.2]
    assert round(b[0] - a[0], 3) == 0.1


def test_cli_refuses_a_bad_storm_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    code = main(["sim", "fleet", "--trailers", "3", "--storm", "soon", "--dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1
    assert "AT:DOWN" in err[0]


def test_cli_lists_every_bad_setting(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    code = main(["sim", "fleet", "--trailers", "0", "--max-in-flight", "0", "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "trailers" in err
    assert "max_in_flight" in err


def test_open_files_decide_how_many_processes_a_fleet_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 20_000))
    assert files_needed(1000) == 1000 * FILES_PER_TRAILER + 200
    assert processes_needed(3000) == 1
    assert processes_needed(8000) == 3
    assert processes_needed(19_000) == 6
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, resource.RLIM_INFINITY))
    assert processes_needed(100_000) == 1


def test_a_fleet_beyond_an_unraisable_hard_limit_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 2000))

    def refuse(*_: object) -> None:
        raise ValueError("not allowed to raise maximum limit")

    monkeypatch.setattr(resource, "setrlimit", refuse)
    with pytest.raises(EdgeferryError, match="need about 6200 open files but the hard limit is 2000"):
        raise_open_file_limit(1000)
