"""How a link that cannot connect is reported: the first failure at once, then a summary now and
then, each at WARNING with the cause in words and what to do (:mod:`.causes`).

The client retries with backoff, so an unreachable broker fails every few seconds for as long as it
stays away; one line per attempt would bury everything else, and none would leave the user guessing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from edge_agent.metrics import Counters
from edge_agent.publish.causes import (
    TLS_UNEXPLAINED,
    Broker,
    ConnectCause,
    error_name,
    explain,
    probe_tls,
)

logger = logging.getLogger("edge_agent.publish.mqtt")

SUMMARY_EVERY = 60.0
"""Seconds between two summaries of the same failing cause."""
PROBE_REUSE = 30.0
"""Seconds a TLS probe's answer serves every client of the process that trusts the same CA for
the same broker: a simulated fleet of thousands failing at once probes the broker once."""

Probe = Callable[[Broker], ConnectCause | None]
_probes: dict[tuple[object, ...], tuple[float, asyncio.Task[ConnectCause | None]]] = {}


class ConnectFailureLog:
    """Counts failed connects of one outage and logs them (see module docstring).

    ``failed`` and ``connected`` are called on the event loop; a TLS failure that awscrt does not
    explain is probed (:func:`~.causes.probe_tls`) in a thread before it is logged. The cause's
    short ``kind`` is kept in the ``link_problem`` gauge of ``counters`` (empty while connected).
    """

    def __init__(self, broker: Broker, counters: Counters, *, summary_every: float = SUMMARY_EVERY,
                 clock: Callable[[], float] = time.monotonic, probe: Probe = probe_tls) -> None:
        self.broker = broker
        self.counters = counters
        self.summary_every = summary_every
        self._clock = clock
        self._probe = probe
        self._probing: asyncio.Task[None] | None = None
        self.failures = 0
        self.cause: ConnectCause | None = None
        self._since = 0.0
        self._reported = 0.0

    def failed(self, error: BaseException | None) -> None:
        now = self._clock()
        if self.failures == 0:
            self._since = now
        self.failures += 1
        due = self.cause is None or now - self._reported >= self.summary_every
        if error_name(error) in TLS_UNEXPLAINED:
            if due and (self._probing is None or self._probing.done()):
                self._probing = asyncio.create_task(self._probe_then_report(error), name="mqtt-tls-probe")
            return
        self._report(explain(error, self.broker))

    def connected(self) -> None:
        """The link is up: say so if it had failed, and start a new count."""
        if self.failures:
            logger.info("mqtt_connected_after_failures", extra={
                "thing": self.broker.thing, "failures": self.failures,
                "down_for": f"{self._clock() - self._since:.0f}s"})
        self.failures = 0
        self.cause = None
        self.counters.set("link_problem", "")

    def close(self) -> None:
        if self._probing is not None:
            self._probing.cancel()

    async def _probe_then_report(self, error: BaseException | None) -> None:
        cause = await asyncio.shield(self._shared_probe())
        if self.failures:  # not connected meanwhile
            self._report(cause or explain(error, self.broker))

    def _shared_probe(self) -> asyncio.Task[ConnectCause | None]:
        """This broker's probe: the one in flight or answered within ``PROBE_REUSE``, else a new one."""
        key = (asyncio.get_running_loop(), self.broker.endpoint, self.broker.port, self.broker.ca_path,
               self._probe)
        now = self._clock()
        found = _probes.get(key)
        if found is not None and (not found[1].done() or now - found[0] < PROBE_REUSE):
            return found[1]
        task = asyncio.create_task(asyncio.to_thread(self._probe, self.broker), name="mqtt-tls-probe")
        _probes[key] = (now, task)
        return task

    def _report(self, cause: ConnectCause) -> None:
        now = self._clock()
        changed = self.cause is None or cause.kind != self.cause.kind
        if not changed and now - self._reported < self.summary_every:
            return
        self._reported = now
        event = "mqtt_connect_failed" if changed else "mqtt_still_unreachable"
        fields: dict[str, object] = {"thing": self.broker.thing, "endpoint": self.broker.address}
        if not changed:
            fields |= {"failures": self.failures, "for": f"{now - self._since:.0f}s"}
        logger.warning(event, extra={**fields, "cause": cause.text, "hint": cause.hint})
        self.cause = cause
        self.counters.set("link_problem", cause.kind)
