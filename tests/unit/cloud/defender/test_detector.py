"""The detector on the seed's two cases and AWS's criteria: a flood of 100x a device's own
baseline, a device probing topics outside its policy, fleet percentiles, consecutive datapoints."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from cloud.defender.detector import Detector
from cloud.defender.profiles import SecurityProfile

FLOOD_AND_PROBE = SecurityProfile.model_validate({
    "securityProfileName": "reefer-fleet",
    "behaviors": [
        {"name": "message-flood", "metric": "aws:num-messages-sent",
         "criteria": {"mlDetectionConfig": {"confidenceLevel": "HIGH"}, "durationSeconds": 300}},
        {"name": "topic-probing", "metric": "aws:num-authorization-failures",
         "criteria": {"comparisonOperator": "less-than", "value": {"count": 3}, "durationSeconds": 300,
                      "consecutiveDatapointsToAlarm": 1, "consecutiveDatapointsToClear": 2}},
    ],
})


def healthy_fleet(detector: Detector, things: int, start: float, end: float, rng: random.Random) -> None:
    """Every thing sends a batch every 30 s, with jitter; a few send twice as often (hot weather)."""
    for n in range(things):
        period = 15.0 if n % 7 == 0 else 30.0
        t = start + rng.uniform(0, period)
        while t < end:
            detector.observe(f"reefer-{n:04d}", "aws:num-messages-sent", 1, t)
            t += period * rng.uniform(0.8, 1.2)


def run(detector: Detector, start: float, end: float, step: float = 5.0) -> list[tuple[str, str, str]]:
    raised = []
    t = start
    while t <= end:
        raised += [(e.kind, e.thing, e.behavior) for e in detector.evaluate(t)]
        t += step
    return raised


def test_a_flood_of_100x_its_own_baseline_alarms_and_healthy_trailers_do_not() -> None:
    rng = random.Random(7)
    detector = Detector([FLOOD_AND_PROBE], baseline_datapoints=20)
    healthy_fleet(detector, 40, 0, 3600, rng)
    assert run(detector, 300, 3600) == [], "learning and a healthy hour raise nothing"
    healthy_fleet(detector, 40, 3600, 3700, rng)
    for i in range(12_000):  # reefer-0003 taken over: 120 messages a second
        detector.observe("reefer-0003", "aws:num-messages-sent", 1, 3600 + i / 120)
    raised = run(detector, 3605, 3700)
    assert raised[0] == ("in-alarm", "reefer-0003", "message-flood")
    assert {thing for _, thing, _ in raised} == {"reefer-0003"}


def test_probing_other_things_topics_alarms_at_once_and_clears_after_two_quiet_datapoints() -> None:
    detector = Detector([FLOOD_AND_PROBE])
    for t in (10.0, 11.0, 12.0):
        detector.observe("reefer-0042", "aws:num-authorization-failures", 1, t)
    detector.observe("reefer-0007", "aws:num-authorization-failures", 1, 12.0)  # one mistyped topic
    [event] = detector.evaluate(15.0)
    assert (event.kind, event.thing, event.behavior, event.value, event.threshold) == (
        "in-alarm", "reefer-0042", "topic-probing", 3.0, 3.0)
    assert detector.in_alarm() == [("reefer-0042", "reefer-fleet", "topic-probing")]
    assert detector.evaluate(320.0) == [], "one compliant datapoint is not enough to clear"
    [cleared] = detector.evaluate(325.0)
    assert (cleared.kind, cleared.thing) == ("cleared", "reefer-0042")


def test_statistical_threshold_is_the_fleet_percentile_of_the_same_window() -> None:
    profile = SecurityProfile.model_validate({
        "securityProfileName": "p", "behaviors": [{
            "name": "bytes", "metric": "aws:all-bytes-out",
            "criteria": {"comparisonOperator": "less-than-equals", "statisticalThreshold": {"statistic": "p99"},
                         "durationSeconds": 300, "consecutiveDatapointsToAlarm": 2}}]})
    detector = Detector([profile])
    for n in range(20):
        detector.observe(f"t{n}", "aws:all-bytes-out", 1000 + n, 100.0)
    detector.observe("t19", "aws:all-bytes-out", 50_000, 101.0)
    assert detector.evaluate(200.0) == [], "two datapoints in a row are needed"
    [event] = detector.evaluate(205.0)
    assert event.thing == "t19"
    assert 1018 < event.threshold < 50_000  # type: ignore[operator]


def test_port_sets() -> None:
    profile = SecurityProfile.model_validate({
        "securityProfileName": "p", "behaviors": [{
            "name": "ports", "metric": "aws:listening-tcp-ports",
            "criteria": {"comparisonOperator": "in-port-set", "value": {"ports": [22, 8883]}}}]})
    detector = Detector([profile])
    detector.observe("a", "aws:listening-tcp-ports", [22], 1.0)
    detector.observe("b", "aws:listening-tcp-ports", [22, 4444], 1.0)
    [event] = detector.evaluate(2.0)
    assert (event.thing, event.value, event.threshold) == ("b", [22, 4444], [22, 8883])


def test_criteria_need_exactly_one_kind_of_threshold() -> None:
    with pytest.raises(ValidationError, match="exactly one of value, statisticalThreshold"):
        SecurityProfile.model_validate({"securityProfileName": "p", "behaviors": [{
            "name": "b", "metric": "aws:num-messages-sent",
            "criteria": {"comparisonOperator": "less-than", "value": {"count": 1},
                         "statisticalThreshold": {"statistic": "p50"}}}]})
    with pytest.raises(ValidationError, match="statistic"):
        SecurityProfile.model_validate({"securityProfileName": "p", "behaviors": [{
            "name": "b", "metric": "aws:num-messages-sent",
            "criteria": {"comparisonOperator": "less-than", "statisticalThreshold": {"statistic": "p42"}}}]})
