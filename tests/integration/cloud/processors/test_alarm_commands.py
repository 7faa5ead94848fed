"""Operators act on alarms: notifications on the rig's MQTT, acknowledgement through an MQTT topic
and through ``edgeferry cloud alarms``, snooze and reset, all applied by the worker that owns the key."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from cloud.processors.app import WorkerOptions, open_worker
from cloud.processors.model import load_config
from cloud.rig import Rig
from cloud.stream.log import StreamLog
from tests.fixtures.broker import MqttClientFactory, wait_until
from tests.unit.cloud.processors.scenarios import EXAMPLES, SETPOINT, trailer

WARM, COLD = SETPOINT + 4.0, SETPOINT + 0.5


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgeferry", "cloud", "alarms", *args],
                          capture_output=True, text=True, timeout=120)


async def test_alarms_notify_on_mqtt_and_are_acknowledged_by_topic_and_by_cli(
        rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    stream = tmp_path / "stream"
    log = StreamLog(stream, shards=2)
    log.open()
    for device in ("r1", "r2"):  # doors open from the fourth sample on, while moving: alarms stay ACTIVE
        for b in trailer(device, [COLD] * 10, door_at=set(range(3, 10))):
            await log.put(device, b.encode(), key=f"{device}/e1/{b.seq}")
    log.close()
    operator = await mqtt_client(rig.cloud_identity.directory, client_id="operator")
    await operator.subscribe("alarms/+/+")
    config = load_config(EXAMPLES / "reefer.yaml").model_copy(update={"clock": "event"})
    state = tmp_path / "state.db"
    options = WorkerOptions(config=config, state=state, stream=stream, data=tmp_path / "data",
                            broker_dir=rig.directory)
    stop = asyncio.Event()
    async with open_worker(options) as worker:
        task = asyncio.create_task(worker.run(stop))
        try:
            notes = await operator.collect(2, within=60)
            assert sorted(m.topic for m in notes) == ["alarms/r1/DoorOpenWhileMoving",
                                                      "alarms/r2/DoorOpenWhileMoving"]
            first = json.loads(notes[0].payload)
            assert first["state"] == "ACTIVE"
            assert first["id"].startswith("door-open-moving/DoorOpenWhileMoving/")

            def states() -> dict[str, str]:
                return {a["key"]: a["state"] for a in worker.checkpoint.alarms()}

            assert await operator.publish("alarms/r1/DoorOpenWhileMoving/ack", b"") == 0
            await wait_until(lambda: states()["r1"] == "ACKNOWLEDGED", 60)

            listed = await asyncio.to_thread(cli, "list", "--state", str(state))
            assert "ACKNOWLEDGED     door-open-moving/DoorOpenWhileMoving r1" in listed.stdout
            acked = await asyncio.to_thread(cli, "ack", "--state", str(state), "--model", "door-open-moving",
                                            "--alarm", "DoorOpenWhileMoving", "--key", "r2")
            assert acked.returncode == 0, acked.stderr
            await wait_until(lambda: states()["r2"] == "ACKNOWLEDGED", 60)

            snoozed = await asyncio.to_thread(cli, "snooze", "--state", str(state), "--model",
                                              "door-open-moving", "--alarm", "DoorOpenWhileMoving",
                                              "--key", "r2", "--for", "2h")
            assert snoozed.returncode == 0, snoozed.stderr
            await wait_until(lambda: states()["r2"] == "SNOOZE_DISABLED", 60)
            await operator.publish("alarms/r2/DoorOpenWhileMoving/reset", b"")
            await wait_until(lambda: states()["r2"] == "NORMAL", 60)
            await operator.assert_silent(1.0)  # acknowledging, snoozing, resetting notify no one
        finally:
            stop.set()
            await task


def test_the_cli_refuses_unknown_alarms_and_bad_durations_in_one_line(tmp_path: Path) -> None:
    missing = cli("list", "--state", str(tmp_path / "none.db"))
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"edgeferry: error: no processors state at {tmp_path / 'none.db'}"
    (tmp_path / "none.db").touch()
    unknown = cli("ack", "--state", str(tmp_path / "none.db"), "--model", "m", "--alarm", "a", "--key", "k")
    assert unknown.stderr.strip() == "edgeferry: error: no alarm m/a for k"
    bad = cli("snooze", "--state", str(tmp_path / "none.db"), "--model", "m", "--alarm", "a", "--key", "k",
              "--for", "soon")
    assert bad.stderr.strip() == "edgeferry: error: --for: 'soon' is not a duration (use e.g. 30m, 2h)"
