"""The command line: cloud rules run against the rig, cloud query, rules export-aws, bad input."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from cloud.rig import Rig
from tests.fixtures.broker import MqttClientFactory
from tests.unit.cloud.batches import make_batch

RULES = {
    "dataDir": "data",
    "rules": [{"name": "telemetry", "sql": "SELECT * FROM 'dt/+/+/+/telemetry'",
               "actions": [{"stream": {"streamName": "telemetry"}},
                           {"republish": {"topic": "nowhere/${topic(4)}"}}],
               "errorAction": {"dlq": {}}}],
    "processors": [{"name": "rows", "stream": "telemetry", "timeseries": {"retention": "3650d"},
                    "current_state": {}}],
}


def edgeferry(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgeferry", *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=check)


def write_rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(RULES))
    return path


async def test_rules_run_serves_the_rig_and_query_answers(rig: Rig, mqtt_client: MqttClientFactory,
                                                          tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    data = tmp_path / "data"
    runner = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edgeferry", "cloud", "rules", "run", "--rules", str(rules),
        "--broker-dir", str(rig.directory), "--status-every", "0.3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert runner.stderr is not None
    try:
        device = await mqtt_client(rig.issue_identity("pump-1", tmp_path / "pump-1"))
        async with asyncio.timeout(60):
            while True:
                await device.publish("$aws/rules/telemetry/dt/plant1/pump/pump-1/telemetry",
                                     make_batch(seq=1, readings=3).encode())
                line = (await runner.stderr.readline()).decode()
                assert line, "the runner exited"
                if "rules_runner_status" in line and "dlq=" in line:
                    break
    finally:
        runner.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(runner.communicate(), 60)
    assert runner.returncode == 0, err.decode()
    counters = json.loads(out.decode().strip().splitlines()[-1])
    assert counters["fired"] >= 1
    assert counters["dlq"] == counters["fired"], "the republish action fails (ACL), once per message"

    series = json.loads(edgeferry("cloud", "query", "--data", data, "series", "--device", "pump-1",
                                  "--point", "p0", "--json").stdout)
    assert [row["value"] for row in series] == [100.0]
    latest = json.loads(edgeferry("cloud", "query", "--data", data, "latest", "--device", "pump-1",
                                  "--json").stdout)
    assert {row["point"] for row in latest} == {"p0", "p1", "p2"}
    rollups = json.loads(edgeferry("cloud", "query", "--data", data, "rollups", "--device", "pump-1",
                                   "--point", "p1", "--json").stdout)
    assert [(r["n"], r["min"]) for r in rollups] == [(1, 101.0)]
    letters = json.loads(edgeferry("cloud", "query", "--data", data, "dlq", "--limit", "1", "--json").stdout)
    assert len(letters) == 1
    assert letters[0]["failures"][0]["failedAction"] == "RepublishAction"
    table = edgeferry("cloud", "query", "--data", data, "rollups", "--device", "pump-1", "--point", "p1").stdout
    assert "101.0" in table


def test_export_aws_writes_one_payload_per_rule(tmp_path: Path) -> None:
    out = tmp_path / "aws"
    missing = edgeferry("rules", "export-aws", "--rules", Path("examples/rules.yaml").resolve(), "--out", out,
                        check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "edgeferry: error: cannot export to AWS: give --account, --region, --role-arn "
        "(or set them in the rules file's aws: block)"], "no silent placeholder account"
    result = edgeferry("rules", "export-aws", "--rules", Path("examples/rules.yaml").resolve(), "--out", out,
                       "--account", "111122223333", "--region", "eu-west-1",
                       "--role-arn", "arn:aws:iam::111122223333:role/rules")
    assert sorted(p.name for p in out.iterdir()) == ["edgeferry_alarms.json", "edgeferry_telemetry.json",
                                                      "hot_reefers.json"]
    assert str(out / "hot_reefers.json") in result.stdout
    payload = json.loads((out / "edgeferry_telemetry.json").read_text())
    assert payload["sql"] == "SELECT * FROM 'dt/+/+/+/telemetry' WHERE device = topic(4)"


def test_bad_input_is_one_line_per_problem_and_never_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"rules": [{"name": "x", "sql": "SELECT FROM", "actions": [{"lake": {"x": 1}}]}]}))
    result = edgeferry("rules", "export-aws", "--rules", bad, check=False)
    assert result.returncode == 2
    assert "rules[0].actions[0].lake.x: Extra inputs are not permitted" in result.stderr
    assert "Traceback" not in result.stderr
    nats = tmp_path / "nats.yaml"
    nats.write_text(yaml.safe_dump({"rules": [{"name": "x", "sql": "SELECT * FROM 'a'", "actions": [
        {"stream": {"streamName": "s", "backend": {"type": "nats"}}}]}]}))
    refused = edgeferry("rules", "export-aws", "--rules", nats, "--account", "111122223333", "--region",
                        "eu-west-1", "--role-arn", "arn:aws:iam::111122223333:role/rules", check=False)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "NATS JetStream" in refused.stderr
    no_identity = edgeferry("cloud", "rules", "run", "--rules", write_rules(tmp_path), check=False)
    assert no_identity.returncode == 1
    assert "give --broker-dir, or --host/--port with --ca, --cert, --key" in no_identity.stderr
    no_rig = edgeferry("cloud", "rules", "run", "--rules", write_rules(tmp_path), "--broker-dir",
                       tmp_path / "no-rig", check=False)
    assert no_rig.returncode == 1
    assert "the rig has no port yet" in no_rig.stderr
    assert not (tmp_path / "no-rig").exists()
    no_store = edgeferry("cloud", "query", "--data", tmp_path / "nothing", "latest", "--device", "d", check=False)
    assert no_store.returncode == 1
    assert "no current-state store at" in no_store.stderr
    assert not (tmp_path / "nothing").exists()


def test_cloud_export_writes_the_stack_and_the_lambda_package(tmp_path: Path) -> None:
    rules = Path("examples/rules.yaml").resolve()
    missing = edgeferry("cloud", "export", "--format", "cloudformation", "--rules", rules, "--out", tmp_path,
                        "--region", "eu-west-1", check=False)
    assert missing.returncode == 1
    assert missing.stderr == ("edgeferry: error: cannot export: give --account, --name "
                              "(or set them in the rules file's aws: block)\n")
    result = edgeferry("cloud", "export", "--format", "cloudformation", "--rules", rules, "--out", tmp_path,
                       "--region", "eu-west-1", "--account", "111122223333", "--name", "coldhaul")
    assert result.stdout.split() == [str(tmp_path / "template.json"), str(tmp_path / "edgeferry-lambda.zip")]
    template = json.loads((tmp_path / "template.json").read_text())
    assert template["Parameters"].keys() == {"ArtifactBucket", "ArtifactKey"}
