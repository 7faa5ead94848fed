"""MQTT topic-filter matching against a reference made of the MQTT 3.1.1 rules (section 4.7)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.topic_filter import topic_matches


def reference_match(topic_filter: str, topic: str) -> bool:
    """The MQTT 3.1.1 rules (section 4.7) as a regular expression."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    pattern = "/".join("[^/]*" if level == "+" else ".*" if level == "#" else re.escape(level)
                       for level in topic_filter.split("/"))
    if topic_filter.endswith("/#"):
        pattern = pattern[: -len("/.*")] + "(/.*)?"
    return re.fullmatch(pattern, topic) is not None


levels = st.sampled_from(["a", "b", "c", "$x", ""])
topics = st.lists(levels, min_size=1, max_size=5).map("/".join)
filters = st.lists(st.sampled_from(["a", "b", "+", ""]), min_size=1, max_size=5).flatmap(
    lambda ls: st.sampled_from(["/".join(ls), "/".join([*ls, "#"]), "#"])).filter(bool)


@given(filters, topics)
def test_matching_agrees_with_the_mqtt_reference(topic_filter: str, topic: str) -> None:
    assert topic_matches(topic_filter, topic) == reference_match(topic_filter, topic)


@pytest.mark.parametrize(("topic_filter", "topic", "expected"), [
    ("sport/#", "sport", True),
    ("sport/+/player1", "sport/tennis/player1", True),
    ("sport/+", "sport/tennis/player1", False),
    ("#", "$SYS/x", False),
    ("#", "$aws/rules/r/x", False),
    ("$aws/rules/#", "$aws/rules/r/x", True),
    ("cmd/pump-1/#", "cmd/pump-1/setpoint", True),
    ("cmd/pump-1/+", "cmd/pump-1/setpoint/response", False),
    ("cmd/+/setpoint", "cmd/pump-2/setpoint", True),
    ("cmd/pump-1/setpoint", "cmd/pump-1/setpoint2", False),
    ("a/b", "a", False),
    ("a", "a/b", False),
    ("$aws/things/+/shadow/+/delta", "$aws/things/pump-1/shadow/update/delta", True),
    ("$aws/provisioning-templates/+/provision/json/accepted",
     "$aws/provisioning-templates/t1/provision/json/accepted", True),
])
def test_examples(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected
