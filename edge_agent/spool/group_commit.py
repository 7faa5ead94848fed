"""Group commit: concurrent writers share one durable commit, each resumes only after it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Commit = Callable[[list[T]], Awaitable[list[R | BaseException]]]
"""Makes a list of items durable at once; returns one result (or the item's error) per item."""


class GroupCommit(Generic[T, R]):
    """Queues items while a commit runs; the next commit takes every item queued meanwhile.

    One commit runs at a time, so its cost (an fsync) is shared by every item that arrived
    during the previous one: under load throughput grows with concurrency, and an idle writer
    still commits alone with no added latency.
    """

    def __init__(self, commit: Commit[T, R]) -> None:
        self._commit = commit
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def queued(self) -> list[T]:
        """Items waiting for the next commit."""
        return [item for item, _ in self._queue]

    async def submit(self, item: T) -> R:
        """Return the item's result once the commit holding it is durable (or raise its error)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._queue.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="group-commit")
        # shield: a cancelled writer must not cancel the commit its item shares with others
        return await asyncio.shield(future)

    async def drain(self) -> None:
        """Wait until every submitted item is committed."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                results = await self._commit([item for item, _ in group])
            except BaseException as exc:  # the whole group failed: every writer learns why
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), result in zip(group, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)


def _retrieve(future: asyncio.Future[R]) -> None:
    """Mark an error as seen: a writer cancelled while waiting leaves its result to nobody."""
    if not future.cancelled():
        future.exception()
