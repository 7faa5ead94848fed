"""The Stream Manager spool's own small state, kept in a JSON file replaced atomically."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edge_agent.files import write_atomic
from edge_agent.spool.errors import SpoolCorrupt


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """What the streams do not know: the epoch, the high-water mark and the read positions."""

    epoch: str = field(default_factory=lambda: secrets.token_hex(8))
    last_seq: int = 0
    dropped: int = 0
    rejected: int = 0
    last_acked_seq: int = 0
    next_read: dict[str, int] = field(default_factory=dict)
    """Per stream: the next sequence number not acknowledged (everything before it was)."""
    acked_ahead: dict[str, list[int]] = field(default_factory=dict)
    """Per stream: sequence numbers after ``next_read`` acknowledged out of order (a batch
    requeued or still in flight holds ``next_read`` back); a restart does not replay them."""


def load_position(path: Path) -> StreamPosition | None:
    """The saved position, None when there is none; :class:`SpoolCorrupt` when unreadable."""
    try:
        raw = json.loads(path.read_bytes())
        return StreamPosition(
            epoch=str(raw["epoch"]), last_seq=int(raw["last_seq"]), dropped=int(raw["dropped"]),
            rejected=int(raw["rejected"]), last_acked_seq=int(raw["last_acked_seq"]),
            next_read={str(k): int(v) for k, v in raw["next_read"].items()},
            acked_ahead={str(k): [int(s) for s in v] for k, v in raw.get("acked_ahead", {}).items()})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SpoolCorrupt(f"{path}: unreadable stream position file ({exc!r})") from None


def save_position(path: Path, position: StreamPosition) -> None:
    write_atomic(path, json.dumps(asdict(position), sort_keys=True).encode())
