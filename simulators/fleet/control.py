"""A fleet process driven by another: commands arrive as JSON lines on stdin, samples and answers
leave as JSON lines on stdout.

When one process cannot hold the whole fleet (open files, cores), ``edgeferry sim fleet
--processes P`` runs P shards of it this way and does the storm itself: it tells every shard when
the broker goes (``storm``) and when it is back (``returned``: watch the recovery); each shard's
ledger stays attached and rejoins its session by itself. ``stop`` ends the run.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

COMMANDS = frozenset({"storm", "returned", "stop"})


class Control:
    """The shard's side of the protocol."""

    def __init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        self._reader = reader

    async def command(self) -> str:
        """The next command; ``stop`` when the controlling process is gone (end of input)."""
        assert self._reader is not None
        while True:
            line = await self._reader.readline()
            if not line:
                return "stop"
            try:
                command = json.loads(line).get("command")
            except (ValueError, AttributeError):
                continue
            if command in COMMANDS:
                return str(command)

    @staticmethod
    def send(message: dict[str, Any]) -> None:
        print(json.dumps(message), flush=True)
