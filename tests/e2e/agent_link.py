"""A WAN link the test can cut: a TCP relay between the agent and the broker.

While the link is down nothing listens on its port (connects are refused) and the connections it
carried are reset, as when a cellular modem loses its carrier. The broker keeps running, so the
cloud side stays subscribed throughout; only the agent is cut off. TLS passes through untouched
(the broker's certificate names 127.0.0.1), so mutual TLS is still end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

from cloud.rig import free_port

CHUNK = 64 * 1024


class WanLink:
    """Relays ``127.0.0.1:port`` to ``target_host:target_port`` while up. Starts down."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def down(self) -> None:
        """Stop listening and reset every connection the link carries."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._relays):
            task.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.down()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        self._writers.add(writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            self._relays.discard(task)
            return
        self._writers.add(upstream_writer)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_pipe(reader, upstream_writer))
                group.create_task(_pipe(upstream_reader, writer))
        except* (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, upstream_writer):
                self._writers.discard(w)
                w.transport.abort()
            self._relays.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then close the other side (so one close ends both directions)."""
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.close()
