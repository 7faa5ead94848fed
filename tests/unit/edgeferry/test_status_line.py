"""The agent's status line: errors counted where the user looks, devices down, the link's problem,
what the spool lost."""

from __future__ import annotations

from typing import Any

from edge_agent.status import AgentStatus
from edgeferry.status_line import render


def status(**parts: dict[str, Any]) -> AgentStatus:
    base: dict[str, dict[str, Any]] = {
        "agent": {"readings": 0, "bad_readings": 0, "batches_spooled": 2},
        "forwarder": {"acked": 0}, "spool": {"depth": 2}, "sink": {"state": "connecting"}}
    return AgentStatus(thing="t1", uptime=10.0, parts=base | parts)


def test_a_modbus_device_that_cannot_connect_counts_as_errors_and_is_shown_down() -> None:
    line = render(status(**{"source.plc": {"connect_failures": 7, "connected": 0}}), {}).plain
    assert "errors 7" in line
    assert "down: plc" in line


def test_errors_sum_timeouts_exceptions_and_connect_errors_of_every_source() -> None:
    parts = {"source.plc": {"timeouts": 2, "exceptions": 1, "decode_errors": 1, "connected": 1},
             "source.booster": {"connect_errors": 3, "connected": 1}}
    line = render(status(**parts), {}).plain
    assert "errors 7" in line
    assert "down" not in line


def test_the_link_says_why_it_is_not_connected() -> None:
    line = render(status(sink={"state": "connecting", "link_problem": "unknown CA"}), {}).plain
    assert line.endswith("  link connecting (unknown CA)")
    assert render(status(sink={"state": "connected", "link_problem": ""}), {}).plain.endswith("link connected")


def test_subscriptions_are_said_to_report_changes_only() -> None:
    polled = render(status(**{"source.plc": {"connected": 1}}), {"readings": 1000.0}).plain
    subscribed = render(status(**{"source.booster": {"notifications": 12, "connected": 1}}),
                        {"readings": 833.0}).plain
    assert "1,000 readings/s  " in polled
    assert "833 readings/s (on change)  bad" in subscribed


def test_after_the_agent_stopped_no_device_is_called_down() -> None:
    line = render(status(sink={"state": "stopped"}, **{"source.plc": {"connected": 0}}), {}).plain
    assert "down" not in line


def test_the_status_fits_80_columns() -> None:
    worst = status(**{"source.plc": {"notifications": 1, "connect_failures": 12_345, "connected": 0}},
                   sink={"state": "connecting", "link_problem": "device certificate refused"},
                   agent={"readings": 10**7, "bad_readings": 10**6, "batches_spooled": 10**6},
                   forwarder={"acked": 10**6}, spool={"depth": 10**6})
    lines = render(AgentStatus("riverside-ps-01", 1.0, worst.parts), {"readings": 12_345.0}).plain.split("\n")
    assert len(lines) == 3
    assert max(len(line) for line in lines) <= 80, lines


def spool_status(**spool: int) -> AgentStatus:
    return AgentStatus(thing="pump-1", uptime=10.0, parts={"spool": {"depth": 3, **spool},
                                                            "sink": {"state": "connected"}})


def test_drops_and_disk_full_refusals_are_on_the_status_line() -> None:
    assert "dropped" not in render(spool_status(), {}).plain
    assert "dropped 12 (5 disk full)" in render(spool_status(dropped=12, disk_full=5), {}).plain
    assert "dropped 12\n" in render(spool_status(dropped=12), {}).plain


def test_the_final_status_says_stopped_without_a_problem_or_devices_down() -> None:
    parts = {"sink": {"state": "connecting", "link_problem": "refused"}, "source.plc": {"connected": 0}}
    line = render(status(**parts), {}, stopped=True).plain
    assert line.endswith("  link stopped")
