"""OPC-UA trust list, security policies, X.509 user tokens and credentials kept out of the config,
against the asyncua simulator."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asyncua.ua.status_codes import StatusCodes

from edge_agent.envelope import Quality
from edge_agent.sources.opcua.source import OpcUaSource
from simulators.opcua.certs import CertificateFiles, make_certificate
from simulators.opcua.server import OpcUaSimulator, Policy, Security
from tests.integration.sources.opcua.conftest import Collector, device, trust

POINTS = [{"name": "level", "node": "ns=2;s=Station.TankLevel"}]


def security(client: CertificateFiles, pki: Path, policy: str = "Basic256Sha256",
             mode: str = "SignAndEncrypt") -> dict[str, str]:
    return {"policy": policy, "mode": mode, "certificate": str(client.certificate),
            "private_key": str(client.private_key), "pki": str(pki)}


@pytest.fixture
def client_cert(tmp_path: Path) -> CertificateFiles:
    return make_certificate(tmp_path / "client", "edge-agent", "urn:edgeferry:test:booster")


async def test_unknown_server_is_refused_with_the_file_to_trust_then_accepted_once_trusted(
        tmp_path: Path, client_cert: CertificateFiles, collect: Callable[[OpcUaSource], Collector],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="edge_agent.sources.opcua")
    pki = tmp_path / "pki"
    async with OpcUaSimulator(port=0, points=10, update_interval=0.2, security="signandencrypt",
                              cert_dir=tmp_path / "server", users={"operator": "s3cret"}) as sim:
        config = device(sim.endpoint, POINTS, security=security(client_cert, pki),
                        username="operator", password="s3cret")
        async with OpcUaSource(config) as source:
            c = collect(source)
            await c.wait_for(lambda: source.counters.get("connect_errors") >= 1 and bool(c.readings))
            rejected = list((pki / "rejected" / "certs").iterdir())
            assert len(rejected) == 1
            assert rejected[0].read_bytes() == sim.server_certificate.read_bytes()  # type: ignore[union-attr]
            refusal = next(r for r in caplog.records if r.getMessage() == "opcua_connect_failed")
            assert refusal.status == "BadCertificateUntrusted"  # type: ignore[attr-defined]
            assert refusal.reason == (  # type: ignore[attr-defined]
                f"opcua booster: server certificate 'opcua-simulator' is not trusted; "
                f"to trust it, copy '{rejected[0]}' to '{pki / 'trusted' / 'certs'}/'")
            assert c.readings[0].q is Quality.BAD
            assert c.readings[0].code == StatusCodes.BadCertificateUntrusted
            assert source.counters.get("connected") == 0

            shutil.copy(rejected[0], pki / "trusted" / "certs")  # what the operator does
            await c.wait_for(lambda: any(r.q is Quality.GOOD for r in c.of("level")))
        await c.stop()
    assert any(r.q is Quality.GOOD for r in c.readings)


@pytest.mark.parametrize(("policy", "mode", "sim_security"), [
    ("Basic256Sha256", "Sign", "sign"),
    ("Aes128_Sha256_RsaOaep", "Sign", "sign"),
    ("Aes128_Sha256_RsaOaep", "SignAndEncrypt", "signandencrypt"),
    ("Aes256_Sha256_RsaPss", "Sign", "sign"),
    ("Aes256_Sha256_RsaPss", "SignAndEncrypt", "signandencrypt"),
])
async def test_each_security_policy_connects(tmp_path: Path, client_cert: CertificateFiles,
                                             collect: Callable[[OpcUaSource], Collector], policy: Policy,
                                             mode: str, sim_security: Security) -> None:
    async with OpcUaSimulator(port=0, points=10, update_interval=0.2, security=sim_security, policy=policy,
                              cert_dir=tmp_path / "server") as sim:
        assert sim.server_certificate is not None
        trust(sim.server_certificate, tmp_path / "pki")
        config = device(sim.endpoint, POINTS, security=security(client_cert, tmp_path / "pki", policy, mode))
        async with OpcUaSource(config) as source:
            c = collect(source)
            await c.wait_for(lambda: len(c.of("level")) >= 2)
        await c.stop()
    assert all(r.q is Quality.GOOD for r in c.readings)
    assert source.counters.get("connect_errors") == 0


@pytest.mark.parametrize("known", [True, False])
async def test_x509_user_token(tmp_path: Path, client_cert: CertificateFiles,
                               collect: Callable[[OpcUaSource], Collector], known: bool) -> None:
    operator = make_certificate(tmp_path / "user", "operator", "urn:edgeferry:test:operator")
    stranger = make_certificate(tmp_path / "stranger", "stranger", "urn:edgeferry:test:stranger")
    user = operator if known else stranger
    async with OpcUaSimulator(port=0, points=10, update_interval=0.2, security="signandencrypt",
                              cert_dir=tmp_path / "server", user_certificates=[operator.certificate]) as sim:
        assert sim.server_certificate is not None
        trust(sim.server_certificate, tmp_path / "pki")
        config = device(sim.endpoint, POINTS, security=security(client_cert, tmp_path / "pki"),
                        user_certificate={"certificate": str(user.certificate),
                                          "private_key": str(user.private_key)})
        async with OpcUaSource(config) as source:
            c = collect(source)
            await c.wait_for(lambda: bool(c.readings))
        await c.stop()
    if known:
        assert c.readings[0].q is Quality.GOOD
    else:
        assert c.readings[0].code == StatusCodes.BadUserAccessDenied


@pytest.mark.parametrize("where", ["file", "env"])
async def test_password_kept_out_of_the_config(tmp_path: Path, collect: Callable[[OpcUaSource], Collector],
                                               monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    source_of: dict[str, Any]
    if where == "file":
        (tmp_path / "plc.password").write_text("s3cret\n")
        source_of = {"file": str(tmp_path / "plc.password")}
    else:
        monkeypatch.setenv("PLC_PASSWORD", "s3cret")
        source_of = {"env": "PLC_PASSWORD"}
    async with OpcUaSimulator(port=0, points=10, update_interval=0.2, users={"operator": "s3cret"}) as sim:
        config = device(sim.endpoint, POINTS, username="operator", password=source_of)
        async with OpcUaSource(config) as source:
            c = collect(source)
            await c.wait_for(lambda: bool(c.readings))
        await c.stop()
    assert c.readings[0].q is Quality.GOOD
