from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from cloud.rules.topics import filter_problem, strip_basic_ingest, topic_matches


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
    assert filter_problem(topic_filter) is None
    assert topic_matches(topic_filter, topic) == reference_match(topic_filter, topic)


def test_examples() -> None:
    assert topic_matches("sport/#", "sport")
    assert topic_matches("sport/+/player1", "sport/tennis/player1")
    assert not topic_matches("sport/+", "sport/tennis/player1")
    assert not topic_matches("#", "$SYS/x")
    assert topic_matches("$aws/things/+/shadow", "$aws/things/t1/shadow")


def test_filter_problems() -> None:
    assert filter_problem("a/#/b") is not None
    assert filter_problem("a/b#") is not None
    assert filter_problem("a/+b") is not None
    assert filter_problem("") is not None


def test_strip_basic_ingest() -> None:
    assert strip_basic_ingest("$aws/rules/r/a/b") == ("a/b", True)
    assert strip_basic_ingest("$aws/rules/r") == ("$aws/rules/r", False)
    assert strip_basic_ingest("a/b") == ("a/b", False)
