"""The hash chain's links: any change to any entry, or a missing or repeated one, is named."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.audit.chain import GENESIS, ChainError, Entry, check_links


def _chain(n: int) -> list[Entry]:
    entries: list[Entry] = []
    prev = GENESIS
    for i in range(n):
        entry = Entry(index=i, op="seal", partition=f"date=2026-01-{i % 28 + 1:02d}",
                      file=f"part-{i:012d}-{i:012d}.parquet", rows=10 + i, sha256=f"{i:064x}",
                      t_min=1000 * i, t_max=1000 * i + 999, at=5000 + i, prev=prev)
        entry = dataclasses.replace(entry, hash=entry.content_hash())
        entries.append(entry)
        prev = entry.hash
    return entries


def test_an_intact_chain_checks_out() -> None:
    chain = _chain(5)
    assert list(check_links(chain)) == chain


def test_entries_round_trip_through_json() -> None:
    entry = _chain(1)[0]
    assert Entry.from_json(entry.to_json()) == entry


FIELDS = ("op", "partition", "file", "rows", "sha256", "t_min", "t_max", "at")


@given(n=st.integers(min_value=1, max_value=8), data=st.data())
def test_any_altered_field_of_any_entry_is_named(n: int, data: st.DataObject) -> None:
    chain = _chain(n)
    victim = data.draw(st.integers(min_value=0, max_value=n - 1))
    name = data.draw(st.sampled_from(FIELDS))
    old = getattr(chain[victim], name)
    new = ("expire" if old == "seal" else "seal") if name == "op" else (
        old + 1 if isinstance(old, int) else old + "x")
    chain[victim] = dataclasses.replace(chain[victim], **{name: new})
    with pytest.raises(ChainError, match=f"entry #{victim} .*altered"):
        list(check_links(chain))


@given(n=st.integers(min_value=2, max_value=8), data=st.data())
def test_a_removed_entry_is_named(n: int, data: st.DataObject) -> None:
    chain = _chain(n)
    victim = data.draw(st.integers(min_value=0, max_value=n - 2))
    del chain[victim]
    with pytest.raises(ChainError, match=f"entry #{victim} is missing"):
        list(check_links(chain))


def test_a_rehashed_entry_breaks_the_next_link() -> None:
    chain = _chain(3)
    forged = dataclasses.replace(chain[1], rows=99)
    chain[1] = dataclasses.replace(forged, hash=forged.content_hash())
    with pytest.raises(ChainError, match=r"entry #2 .* does not link to entry #1"):
        list(check_links(chain))
