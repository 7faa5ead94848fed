"""What processors consume: one :class:`DeviceInput` per device and reading time, decoded from
the shared wire envelope (``edge_agent.envelope``, the only edge module the cloud imports).

Readings of one poll share their time ``t``, so a batch decodes into one input per distinct
``t``, in time order, each carrying every point read at that time. A window in the envelope
counts as a reading of its ``avg`` at the window's last millisecond.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge_agent.envelope import Batch, EnvelopeError, Value, decode_batch

__all__ = ["DeviceInput", "EnvelopeError", "inputs_of"]


@dataclass(frozen=True, slots=True)
class DeviceInput:
    """The points one device reported at one time ``t`` (ms since the epoch)."""

    device: str
    t: int
    values: Mapping[str, Value | None]
    site: str = ""
    asset_type: str = ""


def inputs_of(payload: bytes) -> list[DeviceInput]:
    """Decode one stream record; raises :class:`EnvelopeError` for anything but a batch."""
    return batch_inputs(decode_batch(payload))


def batch_inputs(batch: Batch) -> list[DeviceInput]:
    by_time: dict[int, dict[str, Value | None]] = {}
    for reading in batch.readings:
        by_time.setdefault(reading.t, {})[reading.point] = reading.v
    for window in batch.windows:
        by_time.setdefault(window.t + window.w - 1, {})[window.point] = window.avg
    return [DeviceInput(batch.device, t, values, batch.site, batch.asset_type)
            for t, values in sorted(by_time.items())]
