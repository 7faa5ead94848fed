"""Faults a site produces, done for real to ``edgeferry agent run`` in a child process: its spool's
disk fills up while the link is down, and its write-ahead log is deleted after a SIGKILL. The cloud's
ledger counts every batch by (device, epoch, seq).

- A full disk refuses new batches (counted, declared to the cloud in later batches) but never kills
  the agent: when the link returns the acks still commit, the spool drains, and the cloud can tell
  every gap it will never fill from the batches it received.
- A lost WAL never makes the agent hand out a seq twice: the seqs it lost are skipped and declared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.agent_ledger import ranges
from tests.e2e.test_agent_durability import lost_to_the_cloud, sink_acked, spool_depth
from tests.fixtures.agent import AgentHarness
from tests.fixtures.disk import fill_with_other_files, mount_tmpfs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    with mount_tmpfs(tmp_path) as mount:
        yield mount


def disk_full(health: dict[str, Any]) -> int:
    return int(health.get("spool", {}).get("disk_full", 0))


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_a_full_disk_never_kills_the_agent_and_every_refusal_reaches_the_cloud(
        agent_harness: AgentHarness, small_disk: Callable[[str], Path]) -> None:
    disk = small_disk("4m")
    ledger = agent_harness.ledger
    link = agent_harness.link()
    agent = agent_harness.agent("pump-disk", points=10, poll_interval="100ms", via=link,
                                batching={"max_readings": 10, "max_age": "1s"},
                                spool={"path": str(disk / "spool.db")})
    await agent.start()
    await agent.wait_health(lambda h: spool_depth(h) >= 50, within=120, what="50 batches spooled offline")
    await asyncio.to_thread(fill_with_other_files, disk)
    full = await agent.wait_health(lambda h: disk_full(h) >= 20, within=120, what="20 batches refused")
    assert full["spool"]["dropped"] >= 20, "refusals count as drops"

    await link.up()  # the broker is back while the disk is still full
    await agent.wait_health(lambda h: spool_depth(h) == 0 and sink_acked(h) > full["spool"]["depth"],
                            within=180, what="the full spool drained")
    drained = agent.health()
    await agent.wait_health(lambda h: sink_acked(h) >= sink_acked(drained) + 10, within=120,
                            what="new batches taken into the drained pages and sent")
    assert agent.running, "the agent survived acks on a full disk"
    assert await agent.stop() == 0, agent.log_tail()

    spool = await agent.inspect_spool()
    final = agent.health()
    produced = spool.produced(agent.thing)
    result = await ledger.wait_for(produced, within=60)
    assert result.missing == 0, lost_to_the_cloud(ledger, produced, spool, final)
    assert spool.dropped == final["spool"]["disk_full"] >= 20, "every refusal counted, durably"
    received = ledger.seqs(agent.thing, spool.epoch)
    not_received = sorted(set(range(1, spool.last_seq + 1)) - received)
    assert len(not_received) == spool.dropped, f"only refused batches are missing: {ranges(not_received)}"
    assert ledger.ledger.declared(agent.thing, spool.epoch) == spool.dropped, "declared in later batches"
    assert ledger.ledger.unexplained_gaps(agent.thing, spool.epoch) == 0, (
        "from what it received alone, the cloud knows no batch is still on its way")
    assert ledger.reused_keys() == []
    assert agent.log_events("spool_reserve_released"), "the disk really filled under the spool"
    assert not agent.log_events("sink_error")
    assert "Traceback" not in agent.log_path.read_text(errors="replace")
    assert len(agent.log_events("spool_dropped")) < spool.dropped, "drops are logged rate-limited"


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_a_deleted_wal_after_sigkill_reuses_no_seq(agent_harness: AgentHarness) -> None:
    ledger = agent_harness.ledger
    agent = agent_harness.agent("pump-wal", points=10, poll_interval="100ms",
                                batching={"max_readings": 10, "max_age": "1s"})
    await agent.start()
    await agent.wait_health(lambda h: sink_acked(h) >= 60, within=120, what="60 batches sent")
    await agent.kill()
    at_kill = await agent.inspect_spool()
    wal = agent.spool_path.with_name(agent.spool_path.name + "-wal")
    assert wal.stat().st_size > 0, "the killed agent left its WAL"
    wal.unlink()
    agent.spool_path.with_name(agent.spool_path.name + "-shm").unlink(missing_ok=True)

    await agent.start()
    await agent.wait_health(lambda h: h["spool"].get("last_seq", 0) >= at_kill.last_seq + 30
                            and spool_depth(h) == 0, within=120, what="30 new batches made and sent")
    assert await agent.stop() == 0, agent.log_tail()
    final = await agent.inspect_spool()
    (lost,) = agent.log_events("spool_wal_lost")
    assert lost["high_water"] >= at_kill.last_seq, "resumed above every seq handed out before the kill"
    restarted = agent.log_events("agent_started")[-1]
    assert (restarted["epoch"], restarted["next_seq"]) == (at_kill.epoch, lost["high_water"] + 1)

    produced = final.produced(agent.thing)
    result = await ledger.wait_for(produced, within=60)
    assert result.missing == 0, lost_to_the_cloud(ledger, produced, final, agent.health())
    assert ledger.reused_keys() == [], "no (device, epoch, seq) carried two different batches"
    assert ledger.epochs(agent.thing) == {at_kill.epoch}
    assert final.dropped == lost["skipped"], "the skipped seqs are declared as dropped"
    assert ledger.ledger.unexplained_gaps(agent.thing, final.epoch) == 0
