"""The rules runner without MQTT (``process``): routing, fan-out to every sink, idempotence, DLQ."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cloud.rules.rulesfile import RulesFile, parse_rules
from cloud.rules.runner import RulesRunner
from tests.integration.cloud.stored import stored
from tests.unit.cloud.batches import T0, make_batch

TOPIC = "dt/plant1/pump/pump-1/telemetry"
INGEST = f"$aws/rules/telemetry/{TOPIC}"


def rules_doc(data_dir: Path, *, extra_actions: list[dict[str, Any]] | None = None) -> RulesFile:
    return parse_rules({
        "dataDir": str(data_dir),
        "rules": [
            {"name": "telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
             "actions": [
                 {"stream": {"streamName": "telemetry", "backend": {"type": "embedded", "shards": 2}}},
                 {"lake": {"partitionBy": ["site", "date"]}},
                 *(extra_actions or []),
             ],
             "errorAction": {"dlq": {}}},
            {"name": "hot",
             "sql": "SELECT device, last.p0 AS p0 FROM 'dt/+/+/+/telemetry' WHERE last.p0 > 250",
             "actions": [{"republish": {"topic": "alerts/${topic(4)}", "qos": 1}}],
             "errorAction": {"dlq": {}}},
            {"name": "off", "sql": "SELECT * FROM 'dt/#'", "ruleDisabled": True,
             "actions": [{"stream": {"streamName": "off"}}]},
        ],
        "processors": [{"name": "rows", "stream": "telemetry", "timeseries": {"retention": "3650d"},
                        "current_state": {}}],
    })


class Published(list[tuple[str, bytes, int]]):
    async def __call__(self, topic: str, payload: bytes, qos: int) -> None:
        if topic.startswith("alerts/broken"):
            raise ConnectionError("broker gone")
        if topic.startswith("alerts/stuck"):
            await asyncio.sleep(3600)
        self.append((topic, payload, qos))


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
async def runner(tmp_path: Path, published: Published) -> AsyncIterator[RulesRunner]:
    async with RulesRunner(rules_doc(tmp_path / "data"), publish=published) as running:
        yield running


async def test_a_basic_ingest_batch_reaches_every_sink_of_its_rule(tmp_path: Path,
                                                                   published: Published) -> None:
    async with RulesRunner(rules_doc(tmp_path / "data"), publish=published) as runner:
        outcome = await runner.process(INGEST, make_batch(seq=1, readings=6).encode(), clientid="pump-1")
        assert outcome.fired == ["telemetry"], "basic ingest goes to the named rule only"
        assert outcome.failures == {}
        await runner.catch_up()
    held = await stored(tmp_path / "data")
    assert [json.loads(r.data)["seq"] for r in held["stream"]] == [1]
    assert held["lake"] == 6
    assert held["timeseries"] == 6
    assert {s.point for s in held["state"]} == {"p0", "p1", "p2"}
    assert held["dlq"] == []
    assert runner.snapshot()["fired"] == 1


async def test_redelivered_batches_leave_no_duplicates(tmp_path: Path, published: Published) -> None:
    async with RulesRunner(rules_doc(tmp_path / "data"), publish=published) as runner:
        for seq in (1, 2, 1, 3, 2, 1):
            await runner.process(INGEST, make_batch(seq=seq, readings=4).encode())
    async with RulesRunner(rules_doc(tmp_path / "data"), publish=published) as runner:
        await runner.process(INGEST, make_batch(seq=2, readings=4).encode())
        await runner.catch_up()
    held = await stored(tmp_path / "data")
    assert sorted(json.loads(r.data)["seq"] for r in held["stream"]) == [1, 2, 3]
    assert held["lake"] == 12
    assert held["timeseries"] == 12


async def test_an_ordinary_topic_goes_to_every_enabled_rule_that_matches(runner: RulesRunner,
                                                                         published: Published) -> None:
    outcome = await runner.process(TOPIC, make_batch(seq=3, readings=3).encode())
    assert outcome.fired == ["telemetry", "hot"]
    assert [(t, json.loads(p), q) for t, p, q in published] == [
        ("alerts/pump-1", {"device": "pump-1", "p0": 300}, 1)]


async def test_basic_ingest_to_a_missing_or_disabled_rule_is_dropped(runner: RulesRunner) -> None:
    assert (await runner.process("$aws/rules/off/dt/a/b/c/telemetry", b"{}")).fired == []
    assert (await runner.process("$aws/rules/nope/dt/a/b/c/telemetry", b"{}")).fired == []
    assert runner.snapshot()["rule_not_found"] == 2
    assert (await runner.process("other/topic", b"{}")).fired == []
    assert runner.snapshot()["unmatched"] == 1


async def test_failing_actions_make_exactly_one_dlq_record_per_message(tmp_path: Path,
                                                                       published: Published) -> None:
    failing = [{"republish": {"topic": "alerts/broken/a"}}, {"republish": {"topic": "alerts/broken/b"}}]
    doc = rules_doc(tmp_path / "data", extra_actions=failing)
    payloads = [make_batch(seq=seq).encode() for seq in (1, 2)]
    async with RulesRunner(doc, publish=published) as runner:
        for payload in payloads:
            outcome = await runner.process(INGEST, payload, clientid="pump-1")
            assert len(outcome.failures["telemetry"]) == 2
        assert runner.snapshot()["action_errors"] == 4
        assert runner.snapshot()["dlq"] == 2
        await runner.catch_up()
    held = await stored(tmp_path / "data")
    assert held["timeseries"] == 8, "the actions that worked still wrote"
    assert len(held["dlq"]) == 2
    for letter, payload in zip(held["dlq"], payloads, strict=True):
        assert letter["ruleName"] == "telemetry"
        assert letter["topic"] == INGEST
        assert letter["clientId"] == "pump-1"
        assert base64.b64decode(letter["base64OriginalPayload"]) == payload
        assert [(f["failedAction"], f["failedResource"]) for f in letter["failures"]] == [
            ("RepublishAction", "alerts/broken/a"), ("RepublishAction", "alerts/broken/b")]
        assert all("broker gone" in f["errorMessage"] for f in letter["failures"])


async def test_malformed_payloads_never_crash_the_runner(tmp_path: Path, runner: RulesRunner) -> None:
    binary = b"\x00\x01\xfe not json"
    outcome = await runner.process(INGEST, binary)
    assert outcome.fired == ["telemetry"], "SELECT * passes a binary payload through, as AWS does"
    truncated = make_batch(seq=9).encode()[:40]
    await runner.process(TOPIC, truncated)
    wrong_shape = json.dumps({"schema": "edgeferry.batch/1", "device": 5}).encode()
    await runner.process(TOPIC, wrong_shape)
    await runner.process(INGEST, make_batch(seq=1).encode())
    assert runner.snapshot()["messages"] == 4
    await runner.catch_up()
    [(processor, _)] = runner.processors
    await runner.__aexit__(None, None, None)
    held = await stored(tmp_path / "data")
    assert binary in [r.data for r in held["stream"]]
    assert held["timeseries"] == 4, "the good batch's rows; what is not a batch has none"
    assert processor.counters["not_batches"] == 2, "the binary and the truncated payloads"
    assert [(r["ruleName"], base64.b64decode(r["base64OriginalPayload"])) for r in held["dlq"]] == [
        ("telemetry", wrong_shape), ("hot", wrong_shape)], "an invalid envelope: to each rule's DLQ"


async def test_per_message_actions_store_the_output_attributes_as_aws_does(tmp_path: Path) -> None:
    """timestream and dynamoDBv2 act once per message on the SELECT result: SELECT * of a batch
    stores its scalar attributes (timestream-rule-action.html, dynamodb-v2-rule-action.html)."""
    doc = parse_rules({"dataDir": str(tmp_path / "data"), "rules": [{
        "name": "telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
        "actions": [{"timeseries": {"retention": "3650d"}}, {"current_state": {}}]}]})
    async with RulesRunner(doc) as runner:
        await runner.process(INGEST, make_batch(seq=7, readings=6).encode(), clientid="pump-1", timestamp=T0)
    held = await stored(tmp_path / "data")
    scalars = {"schema", "device", "site", "asset_type", "epoch", "seq", "start", "end"}
    assert held["timeseries"] == len(scalars), "one measure per scalar attribute, not one per reading"
    assert {(s.point, s.t) for s in held["state"]} == {(name, T0) for name in scalars}


async def test_a_store_that_cannot_start_is_one_clear_error_without_secrets(tmp_path: Path) -> None:
    from cloud.rules.runner import StartError

    doc = parse_rules({"dataDir": str(tmp_path / "data"), "rules": [{
        "name": "r", "sql": "SELECT * FROM 'dt/#'", "actions": [{"timeseries": {"backend": {
            "type": "postgres", "dsn": "host=127.0.0.1 port=1 dbname=x user=u password=hunter2 connect_timeout=3"}}}]}]})
    with pytest.raises(StartError, match=r"cannot start timeseries:host=127\.0\.0\.1 port=1") as caught:
        async with RulesRunner(doc):
            pass
    assert "hunter2" not in str(caught.value)
    assert "password=***" in str(caught.value)


async def test_an_action_that_hangs_fails_after_the_action_timeout(tmp_path: Path, published: Published) -> None:
    doc = rules_doc(tmp_path / "data", extra_actions=[{"republish": {"topic": "alerts/stuck"}}])
    async with RulesRunner(doc, publish=published, action_timeout=0.5) as runner:
        outcome = await asyncio.wait_for(runner.process(INGEST, make_batch().encode()), 30)
    [failure] = outcome.failures["telemetry"]
    assert failure.error_message == "TimeoutError"


async def test_action_templates_see_the_rules_set_variables(tmp_path: Path, published: Published) -> None:
    doc = parse_rules({"dataDir": str(tmp_path / "data"), "rules": [{
        "name": "vars", "sql": "SET @site = topic(2) SELECT device FROM 'dt/+/+/+/telemetry'",
        "actions": [{"republish": {"topic": "by-site/${@site}/${topic(4)}"}}]}]})
    async with RulesRunner(doc, publish=published) as runner:
        await runner.process("dt/plant7/pump/pump-1/telemetry", make_batch().encode())
    assert [topic for topic, _, _ in published] == ["by-site/plant7/pump-1"]
