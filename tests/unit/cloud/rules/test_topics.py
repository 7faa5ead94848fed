from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cloud.rules.topics import filter_problem, strip_basic_ingest

filters = st.lists(st.sampled_from(["a", "b", "+", ""]), min_size=1, max_size=5).flatmap(
    lambda ls: st.sampled_from(["/".join(ls), "/".join([*ls, "#"]), "#"])).filter(bool)


@given(filters)
def test_well_formed_filters_have_no_problem(topic_filter: str) -> None:
    assert filter_problem(topic_filter) is None


def test_filter_problems() -> None:
    assert filter_problem("a/#/b") is not None
    assert filter_problem("a/b#") is not None
    assert filter_problem("a/+b") is not None
    assert filter_problem("") is not None


def test_strip_basic_ingest() -> None:
    assert strip_basic_ingest("$aws/rules/r/a/b") == ("a/b", True)
    assert strip_basic_ingest("$aws/rules/r") == ("$aws/rules/r", False)
    assert strip_basic_ingest("a/b") == ("a/b", False)
