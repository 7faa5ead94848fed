"""A few SQLite worker threads shared by every trailer's spool, instead of one thread per spool."""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from itertools import cycle
from types import TracebackType
from typing import Self


class SpoolWorkers:
    """``count`` single-thread executors handed out in turn: each spool stays on one thread (its
    SQLite connection is thread-confined) while thousands of spools share a handful of threads,
    and their fsyncs still overlap across threads."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("at least one spool worker is needed")
        self._executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fleet-spool-{n}")
                           for n in range(count)]
        self._turn = cycle(self._executors)

    def assign(self) -> Executor:
        """The executor of the next spool."""
        return next(self._turn)

    def shutdown(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown()
