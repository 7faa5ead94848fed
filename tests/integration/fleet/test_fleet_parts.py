"""Fleet parts against real files and a real broker: spools sharing a worker thread, the loss
accounting from spool files, a trailer's link through a dead zone, the ledger's session over a
broker restart."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from cloud.rig import Rig
from edge_agent.envelope import Batch
from edge_agent.errors import Retryable
from edge_agent.identity import Identity, IdentityConfig
from edge_agent.metrics import Counters
from edge_agent.publish.config import MqttPublishConfig
from edge_agent.publish.mqtt import MqttSink
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.sqlite import SqliteSpool
from simulators.fleet.accounting import account
from simulators.fleet.ledger import Ledger
from simulators.fleet.link import CellularLink
from simulators.fleet.trailer import Trailer
from tests.fixtures.broker import MqttClientFactory


def _batch(epoch: str, seq: int, device: str = "t1") -> Batch:
    return Batch(device=device, site="s", asset_type="reefer", epoch=epoch, seq=seq, start=0, end=1000)


async def test_spools_share_one_worker_thread_and_leave_it_running(tmp_path: Path) -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    spools = [SqliteSpool(SqliteSpoolConfig(path=tmp_path / f"{n}.db"), executor=executor) for n in range(3)]
    try:
        for spool in spools:
            await spool.__aenter__()
        for spool in spools:
            await spool.put(_batch(spool.epoch, 1))
        for spool in spools:
            batch, ack = await spool.take()
            assert batch.seq == 1
            await ack(None)
            assert spool.stats().depth == 0
        for spool in spools:
            await spool.__aexit__(None, None, None)
        threads = {t.name for t in threading.enumerate()}
        assert not any(name.startswith("spool-sqlite") for name in threads)
        assert executor.submit(lambda: 42).result(timeout=10) == 42, "a shared executor is not shut down"
    finally:
        executor.shutdown()


async def test_accounting_finds_a_batch_that_left_the_spool_but_never_arrived(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = SqliteSpool(SqliteSpoolConfig(path=path))
    async with spool:
        epoch = spool.epoch
        for seq in range(1, 6):
            await spool.put(_batch(epoch, seq))
        for _ in range(3):
            _, ack = await spool.take()
            await ack(None)
    ledger = Ledger()
    for seq in (1, 2, 2):
        ledger.count_now(json.dumps(_batch(epoch, seq).to_json()).encode(), 2.0)
    trailer = SimpleNamespace(thing="t1", spool_path=path, start_seq=0, start_dropped=0, start_rejected=0,
                              agent=SimpleNamespace(counters=Counters()))
    result = account(cast(Trailer, trailer), ledger)
    assert (result.generated, result.received, result.pending, result.duplicates) == (5, 2, 2, 1)
    assert result.lost == 1


async def _connected_link(rig: Rig, tmp_path: Path) -> CellularLink:
    identity = Identity.load(IdentityConfig(dir=rig.issue_identity("trailer-1", tmp_path / "id")), "trailer-1")
    config = MqttPublishConfig(endpoint=rig.host, port=rig.port, connect_jitter=0.0, reconnect_min=0.2,
                               reconnect_max=1.0)
    link = CellularLink(MqttSink(config, identity))
    await link.__aenter__()
    await link.sink.wait_connected(20)
    return link


async def test_a_dead_zone_drops_the_connection_and_refuses_sends_until_coverage_returns(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    cloud = await mqtt_client(rig.cloud_identity)
    await cloud.subscribe("$aws/rules/#")
    link = await _connected_link(rig, tmp_path)
    try:
        await link.go_offline()
        assert not link.connected
        assert link.sink.state.value == "stopped"
        with pytest.raises(Retryable, match="dead zone"):
            await link.send(_batch("e", 1, device="trailer-1"))
        await link.go_online()
        await link.sink.wait_connected(20)
        await link.send(_batch("e", 2, device="trailer-1"))
        message = await cloud.next_message()
        assert message.json()["seq"] == 2
        assert link.counters.get("dead_zones") == 1
        assert link.counters.get("connects") == 2
    finally:
        await link.__aexit__(None, None, None)


async def test_the_ledger_gets_a_batch_sent_while_it_was_away_over_a_broker_restart(
        rig: Rig, tmp_path: Path) -> None:
    ledger = Ledger()
    attachment = ledger.attachment(rig)
    await attachment.start()
    await asyncio.to_thread(rig.stop)  # SIGTERM: mosquitto saves the ledger's session
    await attachment.stop()
    await asyncio.to_thread(rig.start)
    link = await _connected_link(rig, tmp_path)
    try:
        await link.send(_batch("e", 1, device="trailer-1"))  # PUBACKed with no ledger connected
        assert ledger.received == 0
        rejoined = ledger.attachment(rig)  # the same client id: its session, subscription and queue
        await rejoined.start()
        try:
            assert await ledger.wait_for(1, 30)
            assert ledger.seqs("trailer-1", "e") == {1}
        finally:
            await rejoined.stop()
    finally:
        await link.__aexit__(None, None, None)


async def test_a_ledger_attached_through_a_broker_restart_rejoins_its_session_by_itself(
        rig: Rig, tmp_path: Path) -> None:
    ledger = Ledger()
    attachment = ledger.attachment(rig)
    await attachment.start()
    try:
        await asyncio.to_thread(rig.restart)
        link = await _connected_link(rig, tmp_path)
        try:
            await link.send(_batch("e", 1, device="trailer-1"))
            assert await ledger.wait_for(1, 60)
            assert ledger.duplicates == 0
        finally:
            await link.__aexit__(None, None, None)
    finally:
        await attachment.stop()
