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

from typing import Any

from edge_agent.envelope import TopicScheme
from tests.e2e.agent_config import ASSET_TYPE, SITE
from tests.e2e.agent_ledger import ranges
from tests.fixtures.agent import AgentHarness


def sink_acked(health: dict[str, Any]) -> int:
    return int(health.get("sink", {}).get("acked", 0))


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
