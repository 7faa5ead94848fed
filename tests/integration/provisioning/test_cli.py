"""``edgeferry provision`` end to end: serve, issue a claim, provision by hand, list, describe,
revoke, export-aws; bad input gives one line and no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.rig import Rig

EDGEFERRY = [sys.executable, "-m", "edgeferry"]


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*EDGEFERRY, *map(str, args)], capture_output=True, text=True, timeout=120,
                            check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def serving(rig: Rig) -> Iterator[Path]:
    """``edgeferry provision serve`` on the rig, in its own process."""
    process = subprocess.Popen([*EDGEFERRY, "provision", "serve", "--dir", str(rig.directory)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    endpoint = rig.directory / "provisioning" / "endpoint.json"
    try:
        deadline = time.monotonic() + 60
        while not endpoint.exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "provision serve did not start"
            time.sleep(0.05)
        yield rig.directory
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_provision_list_describe_revoke(serving: Path, tmp_path: Path) -> None:
    claim = json.loads(run("provision", "issue-claim", "--dir", serving, "--name", "line-1",
                           "--out", tmp_path / "claim").stdout)
    assert os.stat(claim["claim_key"]).st_mode & 0o777 == 0o600
    out = tmp_path / "device"
    result = json.loads(run("provision", "--dir", serving, "--claim-cert", claim["claim_cert"],
                            "--claim-key", claim["claim_key"], "--template", "edgeferry-device",
                            "--param", "SerialNumber=CLI-1", "--param", "Site=plant-2", "--out", out).stdout)
    assert result["thing_name"] == "gateway-CLI-1"
    assert (out / "device.key.pem").stat().st_mode & 0o777 == 0o600

    listing = run("provision", "list", "--dir", serving).stdout
    assert listing.startswith("gateway-CLI-1\tedgeferry-devices\t")
    assert ":ACTIVE" in listing
    described = json.loads(run("provision", "describe", "--dir", serving, "--thing", "gateway-CLI-1").stdout)
    assert described["attributes"] == {"site": "plant-2", "assetType": "gateway", "serialNumber": "CLI-1"}

    revoked = json.loads(run("provision", "revoke", "--dir", serving, "--thing", "gateway-CLI-1").stdout)
    assert len(revoked["revoked"]) == 1
    assert ":REVOKED" in run("provision", "list", "--dir", serving).stdout


def test_bad_input_is_one_line(rig: Rig, tmp_path: Path) -> None:
    for args in (["provision", "--endpoint", "127.0.0.1"],
                 ["provision", "describe", "--dir", rig.directory, "--thing", "nope"],
                 ["provision", "revoke", "--dir", tmp_path, "--thing", "x"],
                 ["provision", "--dir", rig.directory, "--claim-cert", "c", "--claim-key", "k",
                  "--template", "t", "--out", tmp_path / "o"],
                 ["provision", "serve", "--dir", rig.directory, "--template", tmp_path / "missing.json"],
                 ["provision", "--param", "novalue", "--claim-cert", "c", "--claim-key", "k",
                  "--template", "t", "--out", tmp_path / "o", "--endpoint", "x"]):
        result = run(*args, check=False)
        assert result.returncode == 1, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("edgeferry: error: provision:")


def test_export_aws_writes_scoped_policies(tmp_path: Path) -> None:
    run("provision", "export-aws", "--out", tmp_path, "--region", "eu-west-1", "--account", "123456789012")
    template = json.loads((tmp_path / "provisioning-template.json").read_text())
    assert template["Resources"]["thing"]["Type"] == "AWS::IoT::Thing"
    device = json.loads((tmp_path / "device-policy.json").read_text())
    resources = json.dumps(device)
    assert "arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}" in resources
    assert "topic/$aws/rules/edgeferry_telemetry/dt/*/*/${iot:Connection.Thing.ThingName}/telemetry" in resources
    assert "topicfilter/cmd/${iot:Connection.Thing.ThingName}/*" in resources
    assert "dt/#" not in resources
    claim = json.loads((tmp_path / "claim-policy.json").read_text())
    topics = [r for s in claim["Statement"] if s["Action"] != "iot:Connect" for r in s["Resource"]]
    assert topics
    assert all("/$aws/certificates/" in r or "/$aws/provisioning-templates/edgeferry-device/" in r
               for r in topics)


def test_check_policy_names_the_deciding_statement_of_the_exported_policy(tmp_path: Path) -> None:
    run("provision", "export-aws", "--out", tmp_path, "--region", "eu-west-1", "--account", "123456789012")
    policy = ["--policy", tmp_path / "device-policy.json", "--region", "eu-west-1", "--account", "123456789012"]
    alarm = run("provision", "check-policy", *policy, "--thing", "pump-1",
                "--topic", "$aws/rules/edgeferry_alarms/dt/s1/pump/pump-1/alarm")
    assert alarm.stdout.startswith("allowed: device-policy.json Statement[1] Allow iot:Publish ")
    foreign = run("provision", "check-policy", *policy, "--thing", "pump-1", "--action", "subscribe",
                  "--topic", "cmd/pump-2/#", check=False)
    assert (foreign.returncode, foreign.stdout.strip()) == (3, "denied: no statement allows it (implicit deny)")
    connect = run("provision", "check-policy", *policy, "--thing", "pump-1", "--action", "connect")
    assert connect.stdout.startswith("allowed: device-policy.json Statement[0] Allow iot:Connect ")
    missing = run("provision", "check-policy", "--thing", "pump-1", check=False)
    assert (missing.returncode, missing.stderr.strip()) == (
        1, "edgeferry: error: provision: check-policy --action publish needs --topic")
