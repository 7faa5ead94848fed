"""Every dropped batch is counted and logged, but a flood of drops must not flood the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class DropLog:
    """Logs drops at most once per ``interval`` seconds, carrying the drops it held back.

    The first drop is logged at once, so an operator sees the moment a spool starts losing data.
    """

    def __init__(self, spool: str, *, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._spool = spool
        self._interval = interval
        self._clock = clock
        self._held: dict[str, int] = {}
        self._last_seq = 0
        self._last_logged: float | None = None

    def record(self, reason: str, count: int, last_seq: int) -> None:
        """Note ``count`` batches dropped for ``reason`` (``max_bytes``, ``max_age``, ...)."""
        if count <= 0:
            return
        self._held[reason] = self._held.get(reason, 0) + count
        self._last_seq = max(self._last_seq, last_seq)
        now = self._clock()
        if self._last_logged is None or now - self._last_logged >= self._interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        """Log whatever is held back (call on close)."""
        if not self._held:
            return
        for reason, count in self._held.items():
            logger.warning("spool_dropped", extra={"spool": self._spool, "reason": reason,
                                                   "batches": count, "up_to_seq": self._last_seq})
        self._held.clear()
        self._last_logged = self._clock() if now is None else now
