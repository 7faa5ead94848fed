"""The agent as users run it: ``edgeferry agent run --config F`` in a child process.

:class:`AgentProcess` writes the config file, starts and stops (SIGTERM) or kills (SIGKILL) the
process, reads its health file and inspects its spool with ``edgeferry spool inspect --json``.
Its output goes to ``agent.log`` beside the config, so a failing test can show what the agent said.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cloud.ledger import Produced

EDGEFERRY = (sys.executable, "-m", "edgeferry")
EXIT_TIMEOUT = 60.0
"""Generous: a graceful stop drains for ``shutdown_grace`` on a loaded machine."""
LIFETIME = 900.0
"""``--duration``: an agent orphaned by a test run that was itself killed stops on its own."""


@dataclass(frozen=True, slots=True)
class SpoolInspection:
    """``edgeferry spool inspect --json`` of an agent's spool."""

    epoch: str
    last_seq: int
    depth: int
    dropped: int
    rejected: int
    last_acked_seq: int

    def produced(self, device: str) -> Produced:
        """What the spool made since it was created: seqs 1..last_seq, ``dropped`` by policy."""
        return Produced(device=device, epoch=self.epoch, first=1, last=self.last_seq, dropped=self.dropped)


class AgentProcess:
    """One ``edgeferry agent run`` child process for the config ``config`` (a parsed YAML mapping).

    ``directory`` holds the config, the log and whatever paths the config names there.
    """

    def __init__(self, directory: Path, config: dict[str, Any]) -> None:
        self.directory = directory
        self.config = config
        self.config_path = directory / "agent.yaml"
        self.log_path = directory / "agent.log"
        self._process: asyncio.subprocess.Process | None = None

    @property
    def thing(self) -> str:
        return str(self.config["thing"])

    @property
    def spool_path(self) -> Path:
        return Path(self.config["spool"]["path"])

    @property
    def health_path(self) -> Path:
        return Path(self.config["status"]["health_file"])

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        """Write the config and start the agent (``edgeferry agent run``), logging to ``agent.log``."""
        if self.running:
            raise RuntimeError("the agent is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.write_config()
        self.health_path.unlink(missing_ok=True)
        log = await asyncio.to_thread(self.log_path.open, "ab")
        with log:
            self._process = await asyncio.create_subprocess_exec(
                *EDGEFERRY, "--log-format", "json", "agent", "run", "--config", str(self.config_path),
                "--no-status", "--duration", str(LIFETIME), stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)

    async def stop(self) -> int:
        """SIGTERM: the agent flushes, drains for ``shutdown_grace`` and exits; its exit code."""
        return await self._signal(signal.SIGTERM)

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the running agent and return at once (SIGHUP: reread the config)."""
        if not self.running:
            raise RuntimeError("the agent is not running")
        assert self._process is not None
        self._process.send_signal(sig)

    def write_config(self) -> None:
        """Write ``config`` to the agent's config file (as :meth:`start` does)."""
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))

    async def kill(self) -> int:
        """SIGKILL, as a power cut or the OOM killer would."""
        return await self._signal(signal.SIGKILL)

    async def _signal(self, sig: signal.Signals) -> int:
        process = self._process
        if process is None:
            raise RuntimeError("the agent was never started")
        if process.returncode is None:
            process.send_signal(sig)
        try:
            code = await asyncio.wait_for(process.wait(), EXIT_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"the agent did not exit within {EXIT_TIMEOUT:g} s of {sig.name}:\n"
                                 f"{self.log_tail()}") from None
        return code

    async def cleanup(self) -> None:
        """Kill the process if a test left it running (never leave a child behind)."""
        if self.running:
            await self.kill()

    def health(self) -> dict[str, Any]:
        """The latest health file ({} before the agent wrote one)."""
        try:
            data = json.loads(self.health_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    async def wait_health(self, condition: Callable[[dict[str, Any]], bool], within: float,
                          what: str) -> dict[str, Any]:
        """Wait until the health file satisfies ``condition``; fail with the agent's log tail."""
        health: dict[str, Any] = {}

        def ready() -> bool:
            nonlocal health
            health = self.health()
            return bool(health) and condition(health)

        await self.wait_until(ready, within, what, detail=lambda: f"health: {health}")
        return health

    async def wait_until(self, condition: Callable[[], bool], within: float, what: str,
                         detail: Callable[[], str] = lambda: "") -> None:
        """Wait until ``condition()`` holds while the agent runs; fail with the agent's log tail."""
        deadline = time.monotonic() + within
        while not condition():
            if self._process is not None and self._process.returncode is not None:
                raise AssertionError(f"{what}: the agent exited with {self._process.returncode}\n"
                                     f"{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {within:g} s; {detail()}\n{self.log_tail()}")
            await asyncio.sleep(0.2)

    async def inspect_spool(self) -> SpoolInspection:
        """``edgeferry spool inspect PATH --json`` (read-only; safe while the agent runs)."""
        process = await asyncio.create_subprocess_exec(
            *EDGEFERRY, "spool", "inspect", str(self.spool_path), "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), EXIT_TIMEOUT)
        assert process.returncode == 0, f"spool inspect failed: {err.decode(errors='replace')}"
        report = json.loads(out)
        return SpoolInspection(epoch=report["epoch"], last_seq=report["last_seq"], depth=report["depth"],
                               dropped=report["dropped"], rejected=report["rejected"],
                               last_acked_seq=report["last_acked_seq"])

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no agent log)"
        return "agent log (tail):\n" + "\n".join(text.splitlines()[-lines:])

    def log_events(self, event: str) -> list[dict[str, Any]]:
        """Every JSON log line of ``event`` the agent wrote so far (all runs)."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") == event:
                found.append(record)
        return found


def published_batches(path: Path) -> list[dict[str, Any]]:
    """The batches a ``file`` sink wrote to ``path`` (a line still being written is left out)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    batches = []
    for line in lines:
        with contextlib.suppress(ValueError):
            batches.append(json.loads(line))
    return batches
