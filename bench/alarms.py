"""Alarms on the rig with a simulated fleet: each scripted reefer raises exactly the alarms it
should, and the latency from a reading's publish to the alarm's MQTT notification.

Starts a local IoT Core rig (Mosquitto, mTLS), the rules runner (basic ingest -> embedded stream)
and a processors worker (the shipped reefer detector models, live clock, notifications to
``alarms/<trailer>/<alarm>``) as real processes, then drives a fleet of trailers through the
edge agent's own MQTT sink, one batch a second each:

- a third open their doors while moving (door-open-while-moving: one alarm each);
- a third run above setpoint + 3 °C from 15 s on (temperature alarm: one each);
- a third are healthy but run warm for a few seconds less than the timer (none).

Time-compressed: the temperature rule's 5-minute timer is 10 s here (``--timer``), so that the
run takes a minute; the detector, stream and notification path are the production ones.
Latency is measured from the triggering reading's time (its publish; for the timer alarm, the
moment the timer fell due) to the notification's arrival at a subscriber.

    .venv/bin/python bench/alarms.py [--trailers N] [--seconds S] [--timer S] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from cloud.rig import Rig
from cloud.rules.mqtt_attach import MqttAttachment, MqttSettings
from edge_agent.envelope import Batch, Reading
from edge_agent.identity import Identity, IdentityConfig
from edge_agent.publish.config import MqttPublishConfig, RateLimit
from edge_agent.publish.mqtt import MqttSink

ROOT = Path(__file__).resolve().parent.parent
SETPOINT = -18.0
RULES = {"rules": [{"name": "edgeferry_telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
                    "actions": [{"stream": {"streamName": "telemetry",
                                            "backend": {"type": "embedded", "shards": 4}}}]}]}


def processors_file(directory: Path, timer: float) -> Path:
    raw = yaml.safe_load((ROOT / "examples" / "processors" / "reefer.yaml").read_text())
    raw["wallClockLag"] = "1s"
    for model in raw["detectorModels"]:
        for alarm in model["alarms"]:
            alarm["notify"] = [{"iotTopicPublish": {"mqttTopic": "alarms/{key}/{alarm}"}}]
        for state in model["states"]:
            for event in state.get("onEnter", {}).get("events", []):
                for action in event.get("actions", []):
                    if "setTimer" in action:
                        action["setTimer"]["seconds"] = timer
    path = directory / "processors.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def kind(i: int) -> str:
    return ("door", "warm", "healthy")[i % 3]


def sample(i: int, second: int, timer: float) -> dict[str, Any]:
    k = kind(i)
    warm = (k == "warm" and second >= 15) or (k == "healthy" and 15 <= second < 15 + max(1, int(timer) - 4))
    return {"reefer_return_air": SETPOINT + (4.0 if warm else 0.5), "reefer_setpoint": SETPOINT,
            "reefer_door_open": k == "door" and 20 <= second < 25, "reefer_speed": 80.0}


async def drive(rig: Rig, directory: Path, trailers: int, seconds: int, timer: float) -> None:
    """Run the fleet: every trailer sends one batch a second, its reading stamped with the publish time."""
    sinks = []
    for i in range(trailers):
        thing = f"reefer-{i:03d}"
        identity = Identity.load(IdentityConfig(dir=rig.issue_identity(thing, directory / "things" / thing)), thing)
        config = MqttPublishConfig(endpoint=rig.host, port=rig.port, connect_jitter=0,
                                   rate_limit=RateLimit(enabled=False), publish_timeout=60)
        sinks.append(MqttSink(config, identity))
    for sink in sinks:
        await sink.__aenter__()
    try:
        for sink in sinks:
            await sink.wait_connected(60)
        start = time.time()
        for second in range(seconds):
            await asyncio.sleep(max(0.0, start + second - time.time()))
            t = int(time.time() * 1000)
            await asyncio.gather(*(sink.send(Batch(
                device=f"reefer-{i:03d}", site="fleet-eu", asset_type="reefer", epoch="bench", seq=second + 1,
                start=t, end=t, readings=tuple(Reading(f"reefer-{i:03d}", p, t, v)
                                               for p, v in sample(i, second, timer).items()),
                last=sample(i, second, timer))) for i, sink in enumerate(sinks)))
    finally:
        for sink in sinks:
            await sink.__aexit__(None, None, None)


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-alarms-") as tmp:
        directory = Path(tmp)
        rig = Rig(directory / "rig").start()
        (directory / "rules.yaml").write_text(yaml.safe_dump({"dataDir": str(directory / "data"), **RULES}))
        edgeferry = [sys.executable, "-m", "edgeferry", "--log-level", "WARNING"]
        runner = await asyncio.create_subprocess_exec(
            *edgeferry, "cloud", "rules", "run", "--rules", str(directory / "rules.yaml"),
            "--broker-dir", str(rig.directory))
        stream = directory / "data" / "stream" / "telemetry"
        received: list[tuple[str, dict[str, Any], float]] = []

        async def on_alarm(topic: str, payload: bytes) -> None:
            received.append((topic, json.loads(payload), time.time() * 1000))

        cloud = rig.cloud_identity
        watcher = MqttAttachment(MqttSettings(rig.host, rig.port, rig.ca_path, cloud.cert_path, cloud.key_path,
                                              client_id="bench-alarm-watcher"),
                                 on_alarm, ["alarms/+/+"], basic_ingest=False, workers=1)
        await watcher.start()
        worker = None
        try:
            # the stream exists once the runner started; the worker reads it from then on
            for _ in range(600):
                if (stream / "shard-0000").exists():
                    break
                await asyncio.sleep(0.1)
            worker = await asyncio.create_subprocess_exec(
                *edgeferry, "cloud", "processors", "run", "--config", str(processors_file(directory, args.timer)),
                "--state", str(directory / "state.db"), "--stream", str(stream), "--broker-dir", str(rig.directory))
            await asyncio.sleep(3.0)
            began = time.perf_counter()
            await drive(rig, directory, args.trailers, args.seconds, args.timer)
            await asyncio.sleep(args.timer + 5.0)
            elapsed = time.perf_counter() - began
        finally:
            for process in (worker, runner):
                if process is not None:
                    process.terminate()
                    await asyncio.wait_for(process.wait(), 60)
            await watcher.stop()
            rig.stop()
    return report(args, received, elapsed)


def report(args: argparse.Namespace, received: list[tuple[str, dict[str, Any], float]], elapsed: float) -> int:
    per = Counter((p["key"], p["alarm"]) for _, p, _ in received)
    expected = {(f"reefer-{i:03d}", "DoorOpenWhileMoving" if kind(i) == "door" else "ReturnAirHigh")
                for i in range(args.trailers) if kind(i) != "healthy"}
    exact = set(per) == expected and all(n == 1 for n in per.values())
    print(f"{args.trailers} trailers, {args.seconds} s at one batch/s each, timer {args.timer:g} s "
          f"(5 min in production); run {elapsed:.0f} s")
    print(f"alarms: {sum(per.values())} notifications for {len(expected)} expected; "
          f"exactly one per faulty trailer, none for healthy ones: {'yes' if exact else 'NO'}")
    for alarm in ("DoorOpenWhileMoving", "ReturnAirHigh"):
        latencies = sorted(at - p["t"] for _, p, at in received if p["alarm"] == alarm)
        if latencies:
            p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            print(f"{alarm:<20} n={len(latencies):<4} latency p50 {statistics.median(latencies):6.0f} ms "
                  f"p99 {p99:6.0f} ms max {latencies[-1]:6.0f} ms")
    return 0 if exact else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trailers", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=45)
    parser.add_argument("--timer", type=float, default=10.0, help="the temperature rule's timer (s)")
    parser.add_argument("--quick", action="store_true", help="12 trailers")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.trailers = 12
    sys.exit(asyncio.run(main(arguments)))
