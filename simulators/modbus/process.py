"""``edgeferry sim modbus`` in a child process: for benchmarks (its CPU is counted apart) and demos.

    with SimulatorProcess(["--profile", "pump-station", "--points", "1000"]) as sim:
        ...  # sim.port, sim.cpu_seconds()
"""

from __future__ import annotations

import asyncio
import re
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import IO, Self

import psutil

from edge_agent.errors import EdgeferryError

_SERVING = re.compile(r"^serving .* on (?:opc\.tcp://)?(?P<host>[^\s/]+):(?P<port>\d+)(?:/[^\s,]*)?,")


class SimulatorProcess:
    """Starts the simulator with ``args`` (``--port 0`` unless given: the OS picks a free port)
    and stops it on exit; ``port`` is the port it listens on. ``simulator`` is the ``edgeferry sim``
    sub-command (``modbus``, ``opcua``, ``stream-manager``)."""

    def __init__(self, args: Sequence[str] = (), *, startup_timeout: float = 30.0,
                 simulator: str = "modbus") -> None:
        self.simulator = simulator
        self.args = list(args)
        if "--port" not in self.args and "--serial" not in self.args:
            self.args += ["--port", "0"]
        self.startup_timeout = startup_timeout
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the simulator is not running")
        return self._process.pid

    def start(self) -> None:
        command = [sys.executable, "-m", "edgeferry", "sim", self.simulator, *self.args]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         stdin=subprocess.DEVNULL, text=True)
        line = _read_line(self._process.stdout, self.startup_timeout)
        match = _SERVING.match(line)
        if match is None:
            self.stop()
            raise EdgeferryError(f"the {self.simulator} simulator did not start: {line.strip() or 'no output'}")
        self.port = int(match["port"])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def kill(self) -> None:
        """SIGKILL: the simulator dies as in a crash or a power cut, with no chance to clean up."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def cpu_seconds(self) -> float:
        """User + system CPU the simulator has used so far."""
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)


def _read_line(stream: IO[str] | None, timeout: float) -> str:
    if stream is None:
        return ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            return stream.readline()
    return ""
