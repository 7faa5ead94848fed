"""The stream action on NATS JetStream: a test-owned nats-server, redeliveries dropped by message id."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.rules.rulesfile import parse_rules
from cloud.rules.runner import RulesRunner
from tests.unit.cloud.batches import make_batch

NATS_SERVER = shutil.which("nats-server") or next(
    (p for p in ("/usr/sbin/nats-server", "/usr/local/bin/nats-server") if Path(p).exists()), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    if NATS_SERVER is None:
        pytest.skip("nats-server is not installed: the NATS JetStream backend is not tested here")
    port = _free_port()
    server = subprocess.Popen([NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path / "js")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, "nats-server exited"
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


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
