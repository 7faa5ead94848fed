"""The two seed alarms of examples/processors/reefer.yaml, on event time."""

from __future__ import annotations

from cloud.processors.alarms import AlarmState, Command
from cloud.processors.partition import PartitionProcessor, Step
from tests.unit.cloud.processors.scenarios import SETPOINT, reefer_config, trailer

WARM, COLD = SETPOINT + 4.0, SETPOINT + 0.5


def run(*trailers: list[bytes]) -> tuple[PartitionProcessor, Step]:
    processor = PartitionProcessor(reefer_config(), 0)
    step = Step()
    for payloads in trailers:
        step.extend(processor.process(payloads))
    return processor, step


def raised(step: Step) -> list[str]:
    return [c.alarm.occurrence for c in step.changes if c.notifies]


def encoded(device: str, temps: list[float], **kw: object) -> list[bytes]:
    return [b.encode() for b in trailer(device, temps, **kw)]  # type: ignore[arg-type]


def test_warm_for_five_minutes_raises_one_alarm_at_the_five_minute_mark() -> None:
    temps = [COLD] * 4 + [WARM] * 20 + [COLD] * 4   # warm from sample 4 (t=120 s) for 10 minutes
    processor, step = run(encoded("r1", temps))
    occurrences = raised(step)
    assert len(occurrences) == 1
    assert occurrences[0].startswith("return-air-high/ReturnAirHigh/r1/")
    first_warm = int(occurrences[0].rsplit("/", 1)[1]) - 300_000
    assert first_warm == step.changes[0].t - 300_000
    # the alarm fires at the first reading on or after 5 minutes of warmth, and clears when cold
    assert [c.alarm.state for c in step.changes] == [AlarmState.ACTIVE, AlarmState.NORMAL]
    assert processor.instances["return-air-high"]["r1"].state == "Normal"
    assert {n.action.kind for n in step.notifications} == {"iot_topic_publish", "current_state"}


def test_warm_for_less_than_five_minutes_raises_nothing_and_clears_the_timer() -> None:
    temps = [COLD] * 4 + [WARM] * 9 + [COLD] * 30   # 4.5 minutes warm, then 15 cold
    processor, step = run(encoded("r1", temps))
    assert raised(step) == []
    assert processor.instances["return-air-high"]["r1"].timers == {}


def test_door_open_while_moving_raises_at_once_and_once_per_opening() -> None:
    _processor, step = run(encoded("r2", [COLD] * 20, door_at={5, 6, 7, 12}))
    occurrences = raised(step)
    assert len(occurrences) == 2
    assert all(o.startswith("door-open-moving/DoorOpenWhileMoving/r2/") for o in occurrences)
    assert int(occurrences[0].rsplit("/", 1)[1]) == step.changes[0].t


def test_acknowledge_then_recover_returns_to_normal_and_snooze_silences() -> None:
    processor, step = run(encoded("r3", [COLD] * 2 + [WARM] * 15))
    assert len(raised(step)) == 1
    alarm = processor.alarms[("return-air-high", "ReturnAirHigh", "r3")]
    ack = processor.command("return-air-high", "ReturnAirHigh", "r3", Command.ACKNOWLEDGE, processor.clock)
    assert alarm.state is AlarmState.ACKNOWLEDGED
    assert ack.notifications == []
    processor.command("return-air-high", "ReturnAirHigh", "r3", Command.SNOOZE, processor.clock,
                      snooze_ms=3_600_000)
    assert alarm.state is AlarmState.SNOOZE_DISABLED
    later = trailer("r3", [COLD] * 2 + [WARM] * 15, start=processor.clock + 60_000)
    step = processor.process(b.encode() for b in later)
    assert raised(step) == []  # snoozed for an hour
    reset = processor.command("return-air-high", "ReturnAirHigh", "r3", Command.RESET, processor.clock)
    assert alarm.state is AlarmState.NORMAL
    assert reset.changes


def test_an_undecodable_record_is_counted_not_fatal() -> None:
    processor, step = run([b"not json", *encoded("r4", [COLD] * 3)])
    assert len(step.undecodable) == 1
    assert "not JSON" in step.undecodable[0][0]
    assert "r4" in processor.instances["door-open-moving"]


def test_a_device_behind_the_others_fires_its_timers_on_its_own_event_time() -> None:
    _, step = run(encoded("ahead", [COLD] * 120), encoded("behind", [COLD] * 2 + [WARM] * 12))
    assert [o.split("/")[2] for o in raised(step)] == ["behind"]


def test_live_the_wall_clock_fires_the_timer_of_a_device_gone_quiet_stamped_with_its_due_time() -> None:
    processor, step = run(encoded("quiet", [COLD] * 2 + [WARM] * 3))  # warm for 1.5 min, then silence
    assert raised(step) == []
    due = processor.instances["return-air-high"]["quiet"].next_due()
    assert due is not None
    assert raised(processor.tick(due - 1)) == []
    assert raised(processor.tick(due + 60_000)) == [f"return-air-high/ReturnAirHigh/quiet/{due}"]

