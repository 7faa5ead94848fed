from __future__ import annotations

import json
import time
from pathlib import Path

from cloud.dlq import ActionFailure, ErrorActionMessage
from cloud.stores.current_state import CurrentStateStore
from cloud.stores.dlq import DeadLetterQueue
from cloud.stores.records import to_record
from cloud.stores.sql import SqlDatabase
from tests.unit.cloud.batches import make_batch


async def test_current_state_keeps_the_newest_value_whatever_the_order(tmp_path: Path) -> None:
    store = CurrentStateStore(SqlDatabase(path=tmp_path / "state.db"))
    store.open()
    newer = to_record(json.loads(make_batch(seq=2).encode()), timestamp=0, device="-")
    older = to_record(json.loads(make_batch(seq=1).encode()), timestamp=0, device="-")
    assert await store.write(newer) == 3
    assert await store.write(older) == 0
    assert await store.write(newer) == 3
    state = {s.point: s.value for s in await store.latest("pump-1")}
    assert state == {"p0": 203.0, "p1": 201.0, "p2": 202.0}
    store.close()


async def test_current_state_entries_expire_after_the_ttl(tmp_path: Path) -> None:
    store = CurrentStateStore(SqlDatabase(path=tmp_path / "state.db"), ttl=60.0, sweep_interval=0.0)
    store.open()
    now = int(time.time() * 1000)
    await store.write(to_record({"temp": 4.0}, timestamp=now, device="reefer-1"))
    await store.write(to_record({"door": "open"}, timestamp=now - 120_000, device="reefer-1"))
    assert [(s.point, s.value) for s in await store.latest("reefer-1")] == [("temp", 4.0)]
    store.close()


async def test_dead_letters_are_durable_and_in_aws_shape(tmp_path: Path) -> None:
    path = tmp_path / "dlq.db"
    dlq = DeadLetterQueue(SqlDatabase(path=path))
    dlq.open()
    message = ErrorActionMessage("telemetry", "dt/a/b/c/telemetry", "pump-1", b'{"x":1}',
                                 [ActionFailure("KinesisAction", "telemetry", "boom")])
    await dlq.put(message.to_json())
    await dlq.put(message.to_json())
    dlq.close()
    reopened = DeadLetterQueue(SqlDatabase(path=path))
    reopened.open()
    letters = await reopened.peek(10)
    assert len(letters) == 2
    body = letters[0].message
    assert set(body) == {"ruleName", "topic", "cloudwatchTraceId", "clientId", "base64OriginalPayload",
                         "failures"}
    assert body["base64OriginalPayload"] == "eyJ4IjoxfQ=="
    assert body["failures"] == [{"failedAction": "KinesisAction", "failedResource": "telemetry",
                                 "errorMessage": "boom"}]
    assert await reopened.delete([letters[0].id]) == 1
    assert await reopened.count() == 1
    reopened.close()
