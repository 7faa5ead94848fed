from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cloud.stream.keys import KeyIndex, SeqRanges


@given(st.lists(st.integers(min_value=0, max_value=60)), st.integers(min_value=-1, max_value=61))
def test_seq_ranges_hold_exactly_what_was_added(added: list[int], probe: int) -> None:
    ranges = SeqRanges()
    for n in added:
        ranges.add(n)
    assert (probe in ranges) == (probe in set(added))
    assert all(n in ranges for n in added)


def test_in_order_sequence_numbers_cost_one_range() -> None:
    ranges = SeqRanges()
    for n in [*range(1, 500), *range(600, 1000), *range(500, 600)]:
        ranges.add(n)
    assert len(ranges) == 1


def test_key_index_separates_batch_keys_from_digests() -> None:
    index = KeyIndex()
    index.add("pump-1/e1/5")
    index.add("sha256:ab/0")
    index.add("free-form")
    assert "pump-1/e1/5" in index
    assert "pump-1/e1/6" not in index
    assert "pump-1/e2/5" not in index
    assert "sha256:ab/0" in index
    assert "free-form" in index
