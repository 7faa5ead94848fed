"""What the rig generates (CA, certificates, broker settings) and how it is operated (CLI, reload)."""

from __future__ import annotations

import re
import socket
import stat
from pathlib import Path

import pytest
from awscrt.mqtt5 import PubackReasonCode
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cloud.rig import CLOUD_USER, Rig, RigError
from cloud.rig.mosquitto import find_mosquitto
from edgeferry.cli import main
from tests.fixtures.broker import MqttClientFactory, MqttTestClient


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_certificates_are_ec_p256_with_the_right_names_and_usages(rig: Rig, tmp_path: Path) -> None:
    server = load_cert(rig.directory / "broker" / "server.pem")
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert ExtendedKeyUsageOID.SERVER_AUTH in server.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value

    device = load_cert(rig.issue_identity("pump-3", tmp_path / "pump-3") / "device.cert.pem")
    assert common_name(device) == "pump-3"
    assert ExtendedKeyUsageOID.CLIENT_AUTH in device.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    for cert in (server, device, load_cert(rig.ca_path)):
        public_key = cert.public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert public_key.curve.name == "secp256r1"
    assert device.issuer == load_cert(rig.ca_path).subject
    assert common_name(load_cert(rig.cloud_identity.cert_path)) == CLOUD_USER
    assert stat.S_IMODE((rig.directory / "ca" / "ca.key.pem").stat().st_mode) == 0o600


def test_ca_is_made_once_and_reused(rig: Rig) -> None:
    again = Rig(rig.directory)
    assert again.ca.cert_pem == rig.ca.cert_pem
    assert again.port == rig.port


def test_broker_runs_with_the_settings_that_matter_at_scale(rig: Rig) -> None:
    config = rig.config_path.read_text().splitlines()
    for line in ("require_certificate true", "allow_anonymous false", f"max_packet_size {128 * 1024 + 1024}",
                 f"plugin_opt_rules_file {rig.rules_path}", "max_connections -1", "connection_messages false",
                 "max_inflight_messages 100", f"listener {rig.port} 127.0.0.1"):
        assert line in config
    limits = Path(f"/proc/{rig.status()['pid']}/limits").read_text().splitlines()
    soft, hard = next(line for line in limits if line.startswith("Max open files")).split()[3:5]
    assert soft == hard


def test_start_on_a_taken_port_fails_with_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rig = Rig(tmp_path / "rig", port=port)
        with pytest.raises(RigError, match=f"port {port} is taken") as error:
            rig.start()
    assert "\n" not in str(error.value)
    assert not rig.is_running()
    suggested = re.search(r"--port (\d+), .* \(publish\.port: (\d+)\)", str(error.value))
    assert suggested is not None, str(error.value)
    assert suggested[1] == suggested[2] != str(port)


def test_cli_up_on_a_taken_port_suggests_a_free_one_and_up_prints_the_settings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "rig"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["cloud", "up", "--dir", str(directory), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    suggested = re.search(r"--port (\d+)", err)
    assert suggested is not None, err
    try:
        assert main(["cloud", "up", "--dir", str(directory), "--port", suggested[1]]) == 0
        out = capsys.readouterr().out
        assert f"publish: {{endpoint: 127.0.0.1, port: {suggested[1]}}}" in out
        assert f"--broker-dir {directory}" in out
        assert f"edgeferry cloud down --dir {directory}" in out
    finally:
        main(["cloud", "down", "--dir", str(directory)])


@pytest.mark.parametrize("name", ["a/b", "a+b", "#", "", CLOUD_USER, "x" * 129])
def test_issue_identity_refuses_names_that_would_break_the_acl(rig: Rig, tmp_path: Path, name: str) -> None:
    with pytest.raises(RigError):
        rig.issue_identity(name, tmp_path / "id")
    assert not (tmp_path / "id").exists()


async def test_policy_changes_apply_on_reload(rig: Rig, mqtt_client: MqttClientFactory, tmp_path: Path) -> None:
    """How access is extended and withdrawn: change a policy document, then reload."""
    claim = await mqtt_client(rig.issue_identity("claim-1", tmp_path / "claim", policies=("claim",)),
                              connect=False)
    thing = await mqtt_client(rig.issue_identity("pump-4", tmp_path / "pump-4"))
    request = "$aws/certificates/create/json"
    telemetry = "$aws/rules/edgeferry_telemetry/dt/s/pump/pump-4/telemetry"
    assert await thing.publish(telemetry, b"{}") == PubackReasonCode.NO_MATCHING_SUBSCRIBERS

    rig.authorization.policies["claim"] = {"Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:*:*:client/claim-1"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"arn:aws:iot:*:*:topic/{request}"}]}
    rig.authorization.policies["edgeferry-device"] = {"Statement": [
        *rig.authorization.policies["edgeferry-device"]["Statement"],
        {"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/$aws/rules/*"}]}
    rig.reload()
    await claim.start()

    assert await eventually_publishes(claim, request, PubackReasonCode.NO_MATCHING_SUBSCRIBERS)
    assert await eventually_publishes(thing, telemetry, PubackReasonCode.NOT_AUTHORIZED)


async def eventually_publishes(client: MqttTestClient, topic: str, expected: PubackReasonCode,
                               attempts: int = 200) -> bool:
    """The broker reloads asynchronously after SIGHUP: publish until the answer changes."""
    for _ in range(attempts):
        if await client.publish(topic, b"{}") == expected:
            return True
    return False


def test_cli_up_status_issue_cert_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "rig"
    try:
        assert main(["cloud", "up", "--dir", str(directory)]) == 0
        assert "mqtts://127.0.0.1:" in capsys.readouterr().out
        assert main(["cloud", "status", "--dir", str(directory)]) == 0
        assert "running" in capsys.readouterr().out
        assert main(["cloud", "issue-cert", "--dir", str(directory), "--thing", "reefer-1"]) == 0
        out = Path(capsys.readouterr().out.strip())
        assert out == (directory / "things" / "reefer-1").resolve()
        assert stat.S_IMODE((out / "device.key.pem").stat().st_mode) == 0o600
        assert main(["cloud", "issue-cert", "--dir", str(directory), "--thing", "bad/name"]) == 1
        assert capsys.readouterr().err.startswith("edgeferry: error: invalid thing name")
    finally:
        assert main(["cloud", "down", "--dir", str(directory)]) == 0
    assert main(["cloud", "status", "--dir", str(directory)]) == 3
    assert not Rig(directory).is_running()


def test_missing_mosquitto_is_one_clear_line_when_it_cannot_be_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cloud.rig.mosquitto.shutil.which", lambda *_a, **_k: None)
    monkeypatch.setattr("cloud.rig.mosquitto.os.geteuid", lambda: 1000)
    with pytest.raises(RigError, match="mosquitto not found") as error:
        find_mosquitto()
    assert "\n" not in str(error.value)
