"""The stream action on NATS JetStream: a test-owned nats-server, redeliveries dropped by message id."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cloud.rules.rulesfile import parse_rules
from cloud.rules.runner import RulesRunner
from tests.unit.cloud.batches import make_batch


async def test_batches_go_to_jetstream_once_whatever_the_redeliveries(nats_url: str, tmp_path: Path) -> None:
    doc = parse_rules({"dataDir": str(tmp_path / "data"), "rules": [{
        "name": "telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
        "actions": [{"stream": {"streamName": "telemetry",
                                "backend": {"type": "nats", "servers": [nats_url]}}}],
        "errorAction": {"dlq": {}}}]})
    topic = "$aws/rules/telemetry/dt/plant1/pump/pump-1/telemetry"
    async with RulesRunner(doc) as runner:
        for seq in (1, 2, 1, 3, 2):
            outcome = await runner.process(topic, make_batch(seq=seq).encode())
            assert outcome.failures == {}

    import nats

    nc = await nats.connect(servers=[nats_url])
    try:
        js = nc.jetstream()
        info = await js.stream_info("telemetry")
        assert info.state.messages == 3
        subscription = await js.pull_subscribe("edgeferry.telemetry.>", durable="check")
        messages = await asyncio.wait_for(subscription.fetch(3, timeout=10), 30)
        assert [m.subject for m in messages] == ["edgeferry.telemetry.pump-1"] * 3
        assert [m.headers["Nats-Msg-Id"] for m in messages if m.headers] == [
            "pump-1/e1/1", "pump-1/e1/2", "pump-1/e1/3"]
    finally:
        await nc.close()
