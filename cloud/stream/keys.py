"""The set of message keys a stream holds, kept small: batch keys (``device/epoch/seq``) as
ranges of sequence numbers per (device, epoch) — batches mostly arrive in order, so a device
costs a range or two, not an entry per batch — and other keys (raw-message digests) as is."""

from __future__ import annotations

import bisect


class SeqRanges:
    """Disjoint, sorted, inclusive ranges of integers."""

    __slots__ = ("_his", "_los")

    def __init__(self) -> None:
        self._los: list[int] = []
        self._his: list[int] = []

    def __contains__(self, n: int) -> bool:
        i = bisect.bisect_right(self._los, n) - 1
        return i >= 0 and n <= self._his[i]

    def add(self, n: int) -> None:
        if n in self:
            return
        i = bisect.bisect_right(self._los, n)
        joins_left = i > 0 and self._his[i - 1] == n - 1
        joins_right = i < len(self._los) and self._los[i] == n + 1
        if joins_left and joins_right:
            self._his[i - 1] = self._his[i]
            del self._los[i], self._his[i]
        elif joins_left:
            self._his[i - 1] = n
        elif joins_right:
            self._los[i] = n
        else:
            self._los.insert(i, n)
            self._his.insert(i, n)

    def __len__(self) -> int:
        """Number of ranges (not of integers)."""
        return len(self._los)


class KeyIndex:
    """Which message keys are present."""

    def __init__(self) -> None:
        self._batches: dict[tuple[str, str], SeqRanges] = {}
        self._other: set[str] = set()

    @staticmethod
    def _split(key: str) -> tuple[tuple[str, str], int] | None:
        head, sep, seq = key.rpartition("/")
        device, sep2, epoch = head.partition("/")
        if not (sep and sep2 and seq.isdigit()) or epoch.startswith("sha256:"):
            return None
        return (device, epoch), int(seq)

    def __contains__(self, key: str) -> bool:
        split = self._split(key)
        if split is None:
            return key in self._other
        ranges = self._batches.get(split[0])
        return ranges is not None and split[1] in ranges

    def add(self, key: str) -> None:
        split = self._split(key)
        if split is None:
            self._other.add(key)
        else:
            self._batches.setdefault(split[0], SeqRanges()).add(split[1])
