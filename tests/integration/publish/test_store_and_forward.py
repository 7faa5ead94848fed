"""Store and forward end to end: SQLite spool -> Forwarder -> MqttSink -> the rig, across a broker crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cloud.rig import Rig
from edge_agent.envelope import Batch
from edge_agent.forwarder import Forwarder
from edge_agent.identity import Identity, IdentityConfig
from edge_agent.publish.config import MqttPublishConfig, RateLimit
from edge_agent.publish.mqtt import MqttSink
from edge_agent.spool.config import SqliteSpoolConfig
from tests.fixtures.broker import wait_until
from tests.integration.publish.test_mqtt_sink import make_batch


class RecordingSink(MqttSink):
    """Notes the key of every batch the broker acknowledged."""

    acked_keys: list[tuple[str, str, int]]

    async def send(self, batch: Batch) -> None:
        await super().send(batch)
        self.acked_keys.append(batch.key)


async def test_every_spooled_batch_is_acknowledged_across_a_broker_crash(rig: Rig, tmp_path: Path) -> None:
    count = 400
    identity = Identity.load(IdentityConfig(dir=rig.issue_identity("pump-1", tmp_path / "id")), "pump-1")
    config = MqttPublishConfig(endpoint=rig.host, port=rig.port, connect_jitter=0.3, reconnect_min=0.2,
                               reconnect_max=1.0, publish_timeout=10, max_in_flight=10,
                               rate_limit=RateLimit(publishes_per_second=200))
    async with SqliteSpoolConfig(path=tmp_path / "spool.db").build() as spool:
        keys = {("pump-1", spool.epoch, seq) for seq in range(1, count + 1)}
        for seq in range(1, count + 1):
            await spool.put(make_batch(seq, epoch=spool.epoch))
        sink = RecordingSink(config, identity)
        sink.acked_keys = []
        async with sink:
            forwarder = Forwarder(spool, sink, window=config.max_in_flight, retry_min=0.1, retry_max=1.0)
            task = asyncio.create_task(forwarder.run())
            try:
                await wait_until(lambda: len(sink.acked_keys) >= count // 4, within=60)
                rig.kill()
                await wait_until(lambda: forwarder.counters.get("retried") >= 1, within=60)
                rig.start()
                await wait_until(lambda: spool.stats().depth == 0, within=120)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    assert set(sink.acked_keys) == keys  # at least once: nothing lost across the crash
    assert sink.counters.get("disconnects") >= 1
    assert sink.counters.get("connects") >= 2
