"""A broker outage for the whole fleet: stop the rig, wait, start it again.

On IoT Core the rules engine is subscribed whenever devices can publish. A restarted rig broker
forgets every subscription, so the cloud ledger must subscribe again before the first trailer
publishes, or batches the broker acknowledges would reach nobody. :class:`DeviceHold` gives the
ledger that head start: the broker comes back with the fleet's certificates on its CRL (their TLS
handshakes fail and the clients keep backing off), the ledger subscribes, then the CRL is put back
and the broker reloads it (mosquitto 2.0 reloads listener TLS settings on SIGHUP). The moment of
that reload is the broker's return as the fleet sees it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from cloud.rig import Rig
from cloud.rig.files import write_private
from simulators.fleet.trailer import Trailer

logger = logging.getLogger(__name__)


def certificate_serial(cert_path: Path) -> int:
    return int(x509.load_pem_x509_certificate(cert_path.read_bytes()).serial_number)


class DeviceHold:
    """Keeps the given certificates out of the rig's broker between :meth:`engage` and :meth:`release`."""

    def __init__(self, rig: Rig, serials: Iterable[int]) -> None:
        self.rig = rig
        self.serials = frozenset(serials)
        self._original: bytes | None = None

    def engage(self) -> None:
        """Write a CRL that also revokes the held certificates (read by the broker at its start)."""
        path = self.rig.crl_path
        self._original = path.read_bytes() if path.exists() else None
        revoked: set[int] = set(self.serials)
        if self._original:
            revoked.update(entry.serial_number for entry in x509.load_pem_x509_crl(self._original))
        write_private(path, self.rig.ca.revocation_list(revoked), 0o644)

    def release(self) -> None:
        """Put the CRL back as it was and make the running broker reload it."""
        path = self.rig.crl_path
        write_private(path, self._original if self._original is not None else self.rig.ca.revocation_list(()),
                      0o644)
        self.rig.reload()


@dataclass(slots=True)
class Recovery:
    """How the fleet came back after the broker returned (times in seconds after the return)."""

    returned_at: float
    """Seconds into the run when the broker took the fleet back."""
    expected: int = 0
    back: list[float] = field(default_factory=list)
    """When each trailer was connected again (trailers in a dead zone are not waited for)."""
    drained_after: float | None = None
    backlog: int = 0
    """Trailers holding spooled batches when the broker returned."""
    outage: dict[str, float] = field(default_factory=dict)
    """Seconds each step of the outage took (stop, detach, down, start, attach, release)."""

    @property
    def all_back_after(self) -> float | None:
        return max(self.back) if self.back and len(self.back) >= self.expected else None

    def to_json(self) -> dict[str, Any]:
        ordered = sorted(self.back)
        return {
            "returned_at": round(self.returned_at, 2), "expected": self.expected, "back": len(self.back),
            "all_back_after": _round(self.all_back_after),
            "half_back_after": _round(ordered[len(ordered) // 2] if ordered else None),
            "drained_after": _round(self.drained_after), "backlog_trailers": self.backlog,
            "reconnects_per_second": _per_second(ordered), "outage": self.outage,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _per_second(times: list[float]) -> list[int]:
    """How many trailers came back in each second after the return."""
    if not times:
        return []
    counts = [0] * (int(max(times)) + 1)
    for t in times:
        counts[int(t)] += 1
    return counts


async def broker_outage(rig: Rig, hold: DeviceHold, down: float, detach: Callable[[], Awaitable[None]],
                        attach: Callable[[], Awaitable[None]]) -> dict[str, float]:
    """Stop the broker, wait ``down`` seconds, bring it back with the fleet held out, let the
    cloud side ``attach`` again, then release the fleet. Returns how long each step took (s)."""
    steps: dict[str, float] = {}
    clock = time.monotonic
    began = clock()

    def lap(name: str) -> None:
        steps[name] = round(clock() - began - sum(steps.values()), 3)

    await asyncio.to_thread(rig.stop)
    lap("stop")
    await detach()
    lap("detach")
    await asyncio.sleep(down)
    lap("down")
    await asyncio.to_thread(hold.engage)
    await asyncio.to_thread(rig.start)
    lap("start")
    await attach()
    lap("attach")
    await asyncio.to_thread(hold.release)
    lap("release")
    logger.info("fleet_storm_broker_back", extra=steps)
    return steps


async def watch_recovery(trailers: Sequence[Trailer], recovery: Recovery, elapsed: Callable[[], float],
                         within: float, interval: float = 0.1) -> None:
    """Note when each trailer is connected again and when the backlog of spools has drained."""
    waiting = {i for i, t in enumerate(trailers) if t.link.online}
    backlog = {i for i, t in enumerate(trailers) if t.spool.stats().depth > 0}
    recovery.expected, recovery.backlog = len(waiting), len(backlog)
    deadline = recovery.returned_at + within
    while (waiting or backlog) and elapsed() < deadline:
        now = elapsed() - recovery.returned_at
        for i in list(waiting):
            link = trailers[i].link
            if link.connected:
                recovery.back.append(now)
                waiting.discard(i)
            elif not link.online:  # drove into a dead zone meanwhile: not waited for
                waiting.discard(i)
                recovery.expected -= 1
        backlog = {i for i in backlog if trailers[i].spool.stats().depth > 0}
        if not backlog and recovery.drained_after is None:
            recovery.drained_after = now
        await asyncio.sleep(interval)
