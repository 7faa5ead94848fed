"""Durability of the whole agent, end to end: ``edgeferry agent run`` as a child process polls a
real Modbus simulator and publishes over mutual TLS to the rig's Mosquitto; the cloud's ledger
(the rig's privileged identity on basic ingest) is reconciled against the agent's own spool
(``edgeferry spool inspect --json``).

The promise under test (DESIGN.md): (device, epoch, seq) identifies a batch, delivery is at least
once, so after de-duplication every batch arrives exactly once; nothing acknowledged to the
spool is lost, across a broker outage or a SIGKILL; a full spool drops only by its declared
policy, and counts every drop.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from cloud.ledger import Produced
from edge_agent.envelope import TopicScheme
from edge_agent.publish.config import MqttPublishConfig
from edge_agent.spool.budget import SpoolBudget
from edge_agent.spool.sqlite_store import connect_read_only
from tests.e2e.agent_config import ASSET_TYPE, SITE
from tests.e2e.agent_ledger import CloudLedger, ranges
from tests.e2e.agent_process import SpoolInspection
from tests.fixtures.agent import AgentHarness

OUTAGE = 60.0
"""Seconds the broker is away in the outage test."""
BACKLOG = 400
"""Batches spooled before the link comes back in the SIGKILL test; the kill comes after a quarter of
them arrived, while the rest (and the live batches, 50/s) still drain."""
DRAIN_BACKLOG = 3000
"""Batches waiting when the link returns in the drain-rate test (about 30 s of draining)."""
RATE_LIMIT = 100.0
"""The sink's default publishes per second: IoT Core's per-connection limit (limits-iot.md)."""
MAX_IN_FLIGHT = MqttPublishConfig().max_in_flight
SPOOL_OVERHEAD = SpoolBudget.of(0).overhead
"""What a small SQLite spool's cap keeps for its own files (WAL, reserve): the full-spool test adds
16 KiB of room for batches to it."""


def sink_acked(health: dict[str, Any]) -> int:
    return int(health.get("sink", {}).get("acked", 0))


def spool_depth(health: dict[str, Any]) -> int:
    return int(health.get("spool", {}).get("depth", 0))


def lost_to_the_cloud(ledger: CloudLedger, produced: Produced, spool: SpoolInspection,
                      final: dict[str, Any], *, broker_restarted: bool = False) -> str:
    """Why batches are missing, as far as the two ends can tell."""
    missing = ledger.missing(produced)
    acked = int(final.get("sink", {}).get("acked", 0))
    message = (f"{len(missing)} batches missing ({ranges(missing)}); the agent's sink counted {acked} "
               f"PUBACKs, its spool holds {spool.depth} and dropped {spool.dropped}")
    if spool.depth == 0 and spool.dropped == 0:
        message += ": the broker acknowledged batches the cloud subscriber never got"
        if broker_restarted:
            message += (" (a device may reconnect and publish before the cloud subscriber is back: only "
                        "the subscriber's persistent session, kept by the rig across the restart, "
                        "holds those batches for it)")
    return message


def stored_seqs(spool_path: Path) -> set[int]:
    """Seqs an SQLite spool file holds (read-only: what a crashed agent left behind)."""
    conn = connect_read_only(spool_path)
    try:
        return {seq for (seq,) in conn.execute("SELECT seq FROM batches")}
    finally:
        conn.close()


async def test_every_batch_arrives_exactly_once_after_deduplication(agent_harness: AgentHarness) -> None:
    agent = agent_harness.agent("pump-1", points=10, poll_interval="100ms",
                                batching={"max_readings": 10, "max_age": "1s"})
    await agent.start()
    await agent.wait_health(lambda h: sink_acked(h) >= 60, within=90, what="60 batches acknowledged")
    assert await agent.stop() == 0, agent.log_tail()

    spool = await agent.inspect_spool()
    final = agent.health()
    assert spool.depth == 0, f"the agent drained its spool at shutdown: {spool}"
    assert spool.dropped == spool.rejected == 0
    assert spool.last_acked_seq == spool.last_seq >= 60
    produced = spool.produced(agent.thing)
    ledger = agent_harness.ledger
    result = await ledger.wait_for(produced, within=60)
    assert result.missing == 0, f"missing seqs {ranges(ledger.missing(produced))}"
    assert ledger.seqs(agent.thing, spool.epoch) == set(range(1, spool.last_seq + 1))
    assert ledger.epochs(agent.thing) == {spool.epoch}
    assert result.duplicates == 0, "no fault, so no redelivery"
    assert ledger.reused_keys() == []
    assert ledger.ledger.malformed == 0
    # every reading the agent polled travelled, in exactly one batch
    assert final["agent"]["readings"] == ledger.readings(agent.thing, spool.epoch) > 0
    assert final["agent"].get("batches_spooled") == spool.last_seq
    topic = TopicScheme(SITE, ASSET_TYPE, agent.thing, rule="edgeferry_telemetry").telemetry
    assert ledger.topics == {topic}


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_a_minute_without_broker_is_spooled_then_drained_in_order(agent_harness: AgentHarness) -> None:
    rig, ledger = agent_harness.rig, agent_harness.ledger
    agent = agent_harness.agent("reefer-1", points=5, poll_interval="500ms",
                                batching={"max_readings": 1000, "max_age": "1s"})
    await agent.start()
    before = await agent.wait_health(lambda h: sink_acked(h) >= 3, within=90, what="publishing")

    await asyncio.to_thread(rig.stop)
    down_at = time.monotonic()
    depths: list[int] = []
    while time.monotonic() - down_at < OUTAGE:
        depths.append(spool_depth(agent.health()))
        await asyncio.sleep(1.0)
    during = agent.health()
    await asyncio.to_thread(rig.start)

    # the agent kept polling and spooling while the broker was away
    assert during["sink"]["state"] != "connected"
    polled = during["source.plc"]["responses"] - before["source.plc"]["responses"]
    assert polled >= OUTAGE * 2 * 0.6, f"only {polled} polls answered during the outage"
    settled = depths[2:]  # the health file is up to a second old when the broker stops
    assert settled == sorted(settled), f"nothing drains while the broker is down: {depths}"
    assert depths[-1] >= OUTAGE * 0.5, f"the spool grew to only {depths[-1]} batches: {depths}"

    await agent.wait_health(lambda h: h["sink"].get("connects", 0) >= 2 and spool_depth(h) == 0,
                            within=120, what="reconnected and drained")
    assert await agent.stop() == 0, agent.log_tail()
    spool = await agent.inspect_spool()
    final = agent.health()
    produced = spool.produced(agent.thing)
    result = await ledger.wait_for(produced, within=60)
    assert result.missing == 0, lost_to_the_cloud(ledger, produced, spool, final, broker_restarted=True)
    assert spool.dropped == spool.depth == 0
    assert ledger.seqs(agent.thing, spool.epoch) == set(range(1, spool.last_seq + 1))
    order = ledger.first_arrival_order(agent.thing, spool.epoch)
    assert order == sorted(order), "drained oldest first: first copies arrive in seq order"
    assert ledger.reused_keys() == []


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_sigkill_while_draining_loses_nothing_and_reuses_no_seq(agent_harness: AgentHarness) -> None:
    ledger = agent_harness.ledger
    link = agent_harness.link()
    agent = agent_harness.agent("pump-2", points=20, poll_interval="100ms", via=link,
                                batching={"max_readings": 4, "max_age": "1s"})
    await agent.start()
    await agent.wait_health(lambda h: spool_depth(h) >= BACKLOG, within=120, what=f"{BACKLOG} batches spooled")
    await link.up()
    await ledger.wait_count(BACKLOG // 4, within=120)
    assert await agent.kill() == -signal.SIGKILL

    at_kill = await agent.inspect_spool()
    left = await asyncio.to_thread(stored_seqs, agent.spool_path)
    assert at_kill.depth == len(left) > 0, "killed while the backlog was draining"
    assert len(ledger.first) < at_kill.last_seq

    await agent.start()
    await agent.wait_health(lambda h: h["spool"].get("last_seq", 0) > at_kill.last_seq and spool_depth(h) == 0,
                            within=120, what="restarted, new batches made and everything drained")
    assert await agent.stop() == 0, agent.log_tail()
    final = await agent.inspect_spool()
    assert final.epoch == at_kill.epoch, "the spool survived the kill: same epoch"
    restarted = agent.log_events("agent_started")[-1]
    assert (restarted["epoch"], restarted["next_seq"]) == (at_kill.epoch, at_kill.last_seq + 1)

    produced = final.produced(agent.thing)
    result = await ledger.wait_for(produced, within=60)
    assert result.missing == 0, lost_to_the_cloud(ledger, produced, final, agent.health())
    assert ledger.seqs(agent.thing, final.epoch) == set(range(1, final.last_seq + 1))
    assert ledger.reused_keys() == [], "a seq carried two different batches"
    redelivered = ledger.duplicate_seqs(agent.thing, final.epoch)
    assert redelivered <= left, (f"only batches still in the spool at the kill may come twice; "
                                 f"also came twice: {ranges(sorted(redelivered - left))}")
    assert final.dropped == final.depth == 0


@pytest.mark.slow
@pytest.mark.parametrize("when_full", ["drop_oldest", "reject_new"])
@pytest.mark.timeout(300)
async def test_a_full_spool_applies_its_policy_and_counts_every_drop(agent_harness: AgentHarness,
                                                                     when_full: str) -> None:
    rig, ledger = agent_harness.rig, agent_harness.ledger
    agent = agent_harness.agent(f"pump-{when_full.replace('_', '-')}", points=10, poll_interval="100ms",
                                batching={"max_readings": 10, "max_age": "1s"},
                                spool={"max_bytes": SPOOL_OVERHEAD + 16 * 1024, "when_full": when_full})
    await asyncio.to_thread(rig.stop)
    await agent.start()

    def refused(h: dict[str, Any]) -> int:
        return int(h["spool"].get("dropped", 0))

    def made(h: dict[str, Any]) -> int:
        return int(h["agent"].get("batches_spooled", 0)) + int(h["agent"].get("batches_refused_full", 0))

    full = await agent.wait_health(lambda h: refused(h) >= 30, within=120, what="30 batches over the cap")
    await asyncio.to_thread(rig.start)
    then = made(full) + 10
    await agent.wait_health(lambda h: h["spool"]["last_acked_seq"] >= then and spool_depth(h) == 0,
                            within=120, what="drained, then 10 more sent")
    assert await agent.stop() == 0, agent.log_tail()
    spool = await agent.inspect_spool()
    final = agent.health()
    refused_new = int(final["agent"].get("batches_refused_full", 0))
    assert made(final) == spool.last_seq, "every seq made was spooled or refused; the last one was spooled"

    # the spool counts, durably, both policies' drops: the oldest dropped, or the newest refused
    produced = spool.produced(agent.thing)
    result = await ledger.wait_for(produced, within=60)
    assert result.missing == 0, lost_to_the_cloud(ledger, produced, spool, final, broker_restarted=True)
    assert result.received + result.dropped == result.produced, "produced == received + dropped"
    received = ledger.seqs(agent.thing, spool.epoch)
    not_received = sorted(set(range(1, spool.last_seq + 1)) - received)
    if when_full == "drop_oldest":
        assert refused_new == 0
        assert spool.dropped == final["spool"]["dropped"] >= 30
        assert len(not_received) == spool.dropped, f"every drop counted; not received: {ranges(not_received)}"
        spared = [seq for seq in received if seq < not_received[-1]]
        assert len(spared) <= MAX_IN_FLIGHT, f"the oldest went first (only batches in flight are spared): {spared}"
    else:
        assert spool.dropped == refused_new >= 30
        assert len(not_received) == refused_new, f"every refusal counted; not received: {ranges(not_received)}"
        assert 1 in received, "reject_new keeps the oldest"
    assert ledger.reused_keys() == []


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_a_backlog_drains_at_the_publish_rate_limit_while_readings_keep_coming(
        agent_harness: AgentHarness) -> None:
    ledger = agent_harness.ledger
    link = agent_harness.link()
    # a day in a dead zone, compressed: one small batch per reading, the link down
    agent = agent_harness.agent("reefer-2", points=20, poll_interval="100ms", via=link,
                                batching={"max_readings": 1, "max_age": "1s"}, shutdown_grace="1s")
    await agent.start()
    await agent.wait_health(lambda h: spool_depth(h) >= DRAIN_BACKLOG, within=180,
                            what=f"{DRAIN_BACKLOG} batches spooled")
    assert await agent.stop() == 0, agent.log_tail()
    backlog = await agent.inspect_spool()
    assert backlog.depth == backlog.last_seq >= DRAIN_BACKLOG

    # back in coverage: a quieter live load (10 batches/s) keeps coming while the backlog drains
    agent.config["devices"] = [agent_harness.device(points=5, poll_interval="500ms")]
    agent.config["status"]["shutdown_grace"] = "20s"
    await link.up()
    await agent.start()
    await ledger.wait_seqs(agent.thing, backlog.epoch, set(range(1, backlog.last_seq + 1)),
                           within=DRAIN_BACKLOG / RATE_LIMIT * 3 + 60)
    during = agent.health()

    arrived = sorted(a.at for a in ledger.first.values() if a.key[2] <= backlog.last_seq)
    rate = (len(arrived) - 1) / (arrived[-1] - arrived[0])
    assert rate >= RATE_LIMIT * 0.95, f"drained at {rate:.1f} batches/s, under 95 % of {RATE_LIMIT:g}/s"
    assert rate <= RATE_LIMIT * 1.1, f"drained at {rate:.1f} batches/s, over the {RATE_LIMIT:g}/s limit"
    assert during["agent"]["batches_spooled"] >= (arrived[-1] - arrived[0]) * 5, "the live load kept coming"

    await agent.wait_health(lambda h: spool_depth(h) == 0, within=60, what="the live batches sent too")
    assert await agent.stop() == 0, agent.log_tail()
    final = await agent.inspect_spool()
    assert final.epoch == backlog.epoch
    assert final.last_seq > backlog.last_seq
    result = await ledger.wait_for(final.produced(agent.thing), within=60)
    assert result.missing == 0, lost_to_the_cloud(ledger, final.produced(agent.thing), final, agent.health())
    order = ledger.first_arrival_order(agent.thing, final.epoch)
    assert order == sorted(order), "the backlog went out oldest first, then the live batches"
