"""The rules runner refuses, at the cloud's edge, envelopes it cannot store: each goes to the error
action (DLQ) with its reason, and no store sees it. Real embedded stores under a real runner."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from cloud.rules.runner import ENVELOPE_CHECK, RulesRunner
from edge_agent.envelope import INT64_MAX, MAX_PAYLOAD_BYTES
from tests.integration.cloud.stored import stored
from tests.integration.cloud.test_runner import INGEST, Published, rules_doc
from tests.unit.cloud.batches import T0, make_batch


def envelope(**changes: Any) -> bytes:
    obj = make_batch(seq=5, readings=3).to_json()
    obj.update(changes)
    return json.dumps(obj).encode()


@pytest.mark.parametrize(("payload", "reason"), [
    (envelope(seq=5.5), "seq: an integer"),
    (envelope(seq=5.0), "seq: an integer"),
    (envelope(seq=-3), "seq: an integer from 0"),
    (envelope(seq=-(2**64)), "seq: an integer from 0"),
    (envelope(seq=2**64), "seq: an integer"),
    (envelope(seq=True), "seq: an integer"),
    (envelope(seq="5"), "seq: an integer"),
    (envelope(start=10**30), "start: an integer"),
    (envelope(device=""), "device: a string"),
    (envelope(readings=[{"point": "p0", "t": 1.5, "v": 1.0}]), "readings[0].t: an integer"),
    (envelope(readings=[{"point": "p0", "t": 1, "v": 10**30}]), "readings[0].v:"),
    (envelope(last={"p0": [1, 2]}), "last.p0:"),
    (envelope(dropped=-1), "dropped: an integer from 0"),
])
async def test_an_invalid_envelope_goes_to_the_dlq_with_its_reason_and_nowhere_else(
        tmp_path: Path, payload: bytes, reason: str) -> None:
    async with RulesRunner(rules_doc(tmp_path / "data"), publish=Published()) as runner:
        outcome = await runner.process(INGEST, payload, clientid="pump-1")
        assert outcome.fired == []
        assert [f.failed_action for f in outcome.failures["telemetry"]] == [ENVELOPE_CHECK]
        assert runner.snapshot()["refused"] == 1
    held = await stored(tmp_path / "data")
    assert (held["stream"], held["lake"], held["timeseries"], held["state"]) == ([], 0, 0, [])
    (letter,) = held["dlq"]
    (failure,) = letter["failures"]
    assert failure["failedAction"] == ENVELOPE_CHECK
    assert reason in failure["errorMessage"]
    assert base64.b64decode(letter["base64OriginalPayload"]) == payload


async def test_a_batch_over_128_kb_is_refused(tmp_path: Path) -> None:
    payload = make_batch(seq=1, readings=3000).encode()  # ~147 KB, as a misconfigured agent sent
    assert MAX_PAYLOAD_BYTES < len(payload) < 2 * MAX_PAYLOAD_BYTES
    async with RulesRunner(rules_doc(tmp_path / "data"), publish=Published()) as runner:
        await runner.process(INGEST, payload)
    held = await stored(tmp_path / "data")
    assert held["lake"] == held["timeseries"] == 0
    assert "over IoT Core's 131072-byte limit" in held["dlq"][0]["failures"][0]["errorMessage"]


async def test_the_extremes_of_the_valid_ranges_are_stored_everywhere(tmp_path: Path) -> None:
    """The largest seq and a uint64 value reach every store: no OverflowError behind the check."""
    payload = envelope(seq=INT64_MAX, readings=[{"point": "p0", "t": T0, "v": 2**64 - 1, "q": 0}],
                       last={"p0": 2**64 - 1})
    async with RulesRunner(rules_doc(tmp_path / "data"), publish=Published()) as runner:
        outcome = await runner.process(INGEST, payload)
        assert outcome.failures == {}
    held = await stored(tmp_path / "data")
    assert [json.loads(r.data)["seq"] for r in held["stream"]] == [INT64_MAX]
    assert (held["lake"], held["timeseries"], held["dlq"]) == (1, 1, [])


async def test_other_json_and_binary_payloads_still_reach_the_rules(tmp_path: Path) -> None:
    async with RulesRunner(rules_doc(tmp_path / "data"), publish=Published()) as runner:
        assert (await runner.process(INGEST, b'{"temp": 21.5}')).fired == ["telemetry"]
        assert (await runner.process(INGEST, b'{"note": "edgeferry.batch/1 is our schema"}')).fired == [
            "telemetry"]
        assert runner.snapshot().get("refused", 0) == 0
