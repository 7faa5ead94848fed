"""Fixtures for Modbus integration tests: a virtual null-modem cable, a port nobody listens on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tty
from collections.abc import AsyncIterator, Iterator

import pytest


class NullModem:
    """Two pseudo-terminals whose masters are bridged: what one slave writes, the other reads."""

    def __init__(self) -> None:
        self._fds: list[int] = []
        self._masters: list[int] = []
        self.paths: list[str] = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)
            self._fds += [master, slave]
            self._masters.append(master)
            self.paths.append(os.ttyname(slave))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        a, b = self._masters
        loop.add_reader(a, self._relay, a, b)
        loop.add_reader(b, self._relay, b, a)

    @staticmethod
    def _relay(src: int, dst: int) -> None:
        with contextlib.suppress(OSError):
            os.write(dst, os.read(src, 4096))

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        for master in self._masters:
            loop.remove_reader(master)
        for fd in self._fds:
            os.close(fd)


@pytest.fixture
async def null_modem() -> AsyncIterator[NullModem]:
    loop = asyncio.get_running_loop()
    modem = NullModem()
    modem.start(loop)
    yield modem
    modem.close(loop)


@pytest.fixture
def closed_port() -> int:
    """A TCP port on loopback where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port on loopback that accepts connections (in the kernel) but never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]
