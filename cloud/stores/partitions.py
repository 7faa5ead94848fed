"""Hive partition paths of rows (``site=plant1/date=2026-11-22``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from cloud.stores.records import Row

DERIVED_KEYS = ("date", "hour")
"""Partition keys computed from the row time (UTC); any other key names a row field."""
ROW_FIELDS = tuple(Row.__dataclass_fields__)


def partition_keys_valid(keys: Sequence[str]) -> list[str]:
    """The keys that name neither a row field nor a derived key (empty when all are valid)."""
    return [k for k in keys if k not in DERIVED_KEYS and k not in ROW_FIELDS]


def partition_values(row: Row, keys: Sequence[str]) -> dict[str, str]:
    """The row's value of each partition key, usable as a directory name."""
    values = {}
    for key in keys:
        if key in DERIVED_KEYS:
            stamp = datetime.fromtimestamp(row.t / 1000, UTC)
            value = stamp.strftime("%Y-%m-%d") if key == "date" else stamp.strftime("%H")
        else:
            value = str(getattr(row, key))
        values[key] = _safe(value)
    return values


def partition_path(row: Row, keys: Sequence[str]) -> str:
    """The row's partition directory, relative to the table root."""
    return "/".join(f"{key}={value}" for key, value in partition_values(row, keys).items())


def _safe(value: str) -> str:
    """A partition value usable as a directory name."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", value) or "_"
