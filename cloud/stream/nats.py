"""The stream on NATS JetStream (self-hosted scale-out of the embedded log).

Subjects are ``<prefix>.<stream>.<partition key>``; the message key travels in ``Nats-Msg-Id``,
so JetStream drops a redelivery within the stream's duplicate window (idempotent puts).
"""

from __future__ import annotations

import logging
import re
from typing import Any

logger = logging.getLogger(__name__)


class NatsStream:
    """One JetStream stream, created if missing; an asynchronous resource (start / stop)."""

    def __init__(self, servers: list[str], stream: str, *, subject_prefix: str = "edgeferry",
                 duplicate_window: float = 120.0) -> None:
        self.servers = servers
        self.stream = re.sub(r"[^A-Za-z0-9_-]", "_", stream)
        self.subject_prefix = subject_prefix
        self.duplicate_window = duplicate_window
        self._nc: Any = None
        self._js: Any = None

    @property
    def subjects(self) -> str:
        return f"{self.subject_prefix}.{self.stream}.>"

    async def start(self) -> None:
        import nats
        from nats.js.api import StreamConfig
        from nats.js.errors import BadRequestError

        self._nc = await nats.connect(servers=self.servers, connect_timeout=5, max_reconnect_attempts=-1)
        self._js = self._nc.jetstream()
        config = StreamConfig(name=self.stream, subjects=[self.subjects],
                              duplicate_window=self.duplicate_window)
        try:
            await self._js.add_stream(config)
        except BadRequestError:
            await self._js.update_stream(config)
        logger.info("nats_stream_ready", extra={"stream": self.stream, "servers": self.servers})

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.drain()
            self._nc = None

    async def maintain(self) -> None:
        return None

    async def put(self, partition_key: str, data: bytes, *, key: str) -> tuple[int, bool]:
        """Publish once JetStream stored it; (stream sequence, whether it was a duplicate)."""
        if self._js is None:
            raise RuntimeError(f"NATS stream {self.stream} is not started")
        token = re.sub(r"[^A-Za-z0-9_:-]", "_", partition_key) or "_"
        ack = await self._js.publish(f"{self.subject_prefix}.{self.stream}.{token}", data,
                                     headers={"Nats-Msg-Id": key})
        return int(ack.seq), bool(ack.duplicate)
