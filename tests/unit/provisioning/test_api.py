"""The provisioning API without a network: what each request is answered, and with which code."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioning import topics
from provisioning.device import keys
from provisioning.errors import ProvisioningUnavailable
from provisioning.pki import CertificateAuthority
from provisioning.service.api import Caller, FleetProvisioningApi, TemplateEntry
from provisioning.service.authority import DeviceAuthority
from provisioning.service.hooks import HookDecision, HookRequest, SerialAllowList
from provisioning.service.registry import Registry
from provisioning.service.templates import DEFAULT_TEMPLATE_PATH, ProvisioningTemplate, load_template

CALLER = Caller("dev-1", "line-1", "a" * 64)


def memory_ca() -> CertificateAuthority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    return CertificateAuthority(cert, key)


class Api:
    def __init__(self, hook: Any = None, rate: float | None = None,
                 template: ProvisioningTemplate | None = None, failing_refreshes: int = 0) -> None:
        self.refreshes = 0
        self.failing_refreshes = failing_refreshes
        self.registry = Registry(Path(":memory:"))
        template = template or load_template(DEFAULT_TEMPLATE_PATH)
        self.api = FleetProvisioningApi(self.registry, DeviceAuthority(memory_ca()),
                                        {template.name: TemplateEntry(template, hook)}, self._refresh,
                                        requests_per_second=rate)

    async def _refresh(self) -> None:
        self.refreshes += 1
        if self.refreshes <= self.failing_refreshes:
            raise ProvisioningUnavailable("broker: restarting")

    async def call(self, topic: str, payload: Any) -> tuple[str, dict[str, Any]]:
        body = b"" if payload is None else json.dumps(payload).encode()
        reply = await self.api.handle(topic, body, CALLER)
        return reply.topic, reply.payload


async def test_csr_then_register_thing() -> None:
    api = Api()
    key = keys.new_private_key()
    topic, issued = await api.call(topics.CREATE_FROM_CSR,
                                   {"certificateSigningRequest": keys.certificate_signing_request(key, "d")})
    assert topic == "$aws/certificates/create-from-csr/json/accepted"
    assert set(issued) == {"certificateOwnershipToken", "certificateId", "certificatePem"}
    assert keys.certificate_matches_key(issued["certificatePem"], key)
    assert api.registry.certificate(issued["certificateId"]).status == "PENDING_ACTIVATION"  # type: ignore[union-attr]

    topic, registered = await api.call(topics.register_thing("edgeferry-device"), {
        "certificateOwnershipToken": issued["certificateOwnershipToken"],
        "parameters": {"SerialNumber": "7", "Site": "p"}})
    assert topic == "$aws/provisioning-templates/edgeferry-device/provision/json/accepted"
    assert registered == {"deviceConfiguration": {"site": "p", "assetType": "gateway"}, "thingName": "gateway-7"}
    assert api.refreshes == 1
    assert api.registry.certificate(issued["certificateId"]).status == "ACTIVE"  # type: ignore[union-attr]

    _, again = await api.call(topics.register_thing("edgeferry-device"), {
        "certificateOwnershipToken": issued["certificateOwnershipToken"], "parameters": {"SerialNumber": "7"}})
    assert again["errorCode"] == "InvalidCertificateOwnershipToken", "a token registers once"


async def test_create_keys_and_certificate() -> None:
    topic, issued = await Api().call(topics.CREATE_KEYS, None)
    assert topic == "$aws/certificates/create/json/accepted"
    assert set(issued) == {"certificateId", "certificatePem", "privateKey", "certificateOwnershipToken"}
    assert keys.certificate_matches_key(issued["certificatePem"], keys.load_private_key(issued["privateKey"].encode()))


@pytest.mark.parametrize(("topic", "payload", "status", "code"), [
    (topics.CREATE_FROM_CSR, {"certificateSigningRequest": "junk"}, 400, "InvalidCSR"),
    (topics.CREATE_FROM_CSR, {}, 400, "InvalidCSR"),
    (topics.CREATE_FROM_CSR, ["not", "an", "object"], 400, "InvalidPayload"),
    (topics.register_thing("nope"), {"certificateOwnershipToken": "x"}, 404, "ResourceNotFound"),
    (topics.register_thing("edgeferry-device"), {}, 400, "InvalidCertificateOwnershipToken"),
    (topics.register_thing("edgeferry-device"), {"certificateOwnershipToken": "x", "parameters": {"a": 1}},
     400, "InvalidParameters"),
])
async def test_rejections(topic: str, payload: Any, status: int, code: str) -> None:
    reply_topic, error = await Api().call(topic, payload)
    assert reply_topic == topic + "/rejected"
    assert set(error) == {"statusCode", "errorCode", "errorMessage"}
    assert (error["statusCode"], error["errorCode"]) == (status, code)


async def _issue(api: Api) -> str:
    _, issued = await api.call(topics.CREATE_KEYS, None)
    token: str = issued["certificateOwnershipToken"]
    return token


async def test_hook_refusal_and_failure_are_access_denied() -> None:
    def failing(request: HookRequest) -> HookDecision:
        raise RuntimeError("lambda timed out")

    for hook in (SerialAllowList(["ok"]), failing):
        api = Api(hook)
        _, error = await api.call(topics.register_thing("edgeferry-device"), {
            "certificateOwnershipToken": await _issue(api), "parameters": {"SerialNumber": "bad"}})
        assert (error["statusCode"], error["errorCode"]) == (403, "AccessDenied")
        assert api.registry.things() == []


async def test_hook_parameter_overrides_reach_the_template() -> None:
    async def hook(request: HookRequest) -> HookDecision:
        assert request.client_id == "dev-1"
        assert request.claim_certificate_id == "a" * 64
        return HookDecision(True, {"AssetType": "pump"})

    api = Api(hook)
    _, registered = await api.call(topics.register_thing("edgeferry-device"), {
        "certificateOwnershipToken": await _issue(api), "parameters": {"SerialNumber": "3"}})
    assert registered["thingName"] == "pump-3"


async def test_throttling_is_429() -> None:
    api = Api(rate=1.0)
    await api.call(topics.CREATE_KEYS, None)
    _, error = await api.call(topics.CREATE_KEYS, None)
    assert (error["statusCode"], error["errorCode"]) == (429, "Throttling")


async def test_hook_that_hangs_is_access_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    async def hangs(request: HookRequest) -> HookDecision:
        await asyncio.sleep(3600)
        return HookDecision(True)

    monkeypatch.setattr("provisioning.service.api.HOOK_TIMEOUT", 0.05)
    api = Api(hangs)
    _, error = await api.call(topics.register_thing("edgeferry-device"), {
        "certificateOwnershipToken": await _issue(api), "parameters": {"SerialNumber": "1"}})
    assert (error["statusCode"], error["errorCode"]) == (403, "AccessDenied")


async def test_override_fail_refuses_an_existing_thing_with_409() -> None:
    document = json.loads(DEFAULT_TEMPLATE_PATH.read_text())
    document["Resources"]["thing"]["OverrideSettings"] = {"AttributePayload": "FAIL"}
    api = Api(template=ProvisioningTemplate("edgeferry-device", json.dumps(document)))
    request = {"parameters": {"SerialNumber": "1"}}
    topic = topics.register_thing("edgeferry-device")
    _, first = await api.call(topic, {**request, "certificateOwnershipToken": await _issue(api)})
    assert first["thingName"] == "gateway-1"
    _, second = await api.call(topic, {**request, "certificateOwnershipToken": await _issue(api)})
    assert (second["statusCode"], second["errorCode"]) == (409, "ResourceAlreadyExists")


async def test_register_thing_that_failed_on_the_broker_is_retried_with_the_same_token() -> None:
    """InternalFailure leaves the token valid: the device's retry completes the same registration,
    it does not need (and pay for) a new certificate."""
    api = Api(failing_refreshes=2)
    token = await _issue(api)
    topic = topics.register_thing("edgeferry-device")
    request = {"certificateOwnershipToken": token, "parameters": {"SerialNumber": "7"}}
    for _ in range(2):
        _, error = await api.call(topic, request)
        assert (error["statusCode"], error["errorCode"]) == (500, "InternalFailure")
    reply_topic, registered = await api.call(topic, request)
    assert reply_topic == topic + "/accepted"
    assert registered["thingName"] == "gateway-7"
    thing = api.registry.thing("gateway-7")
    assert thing is not None
    assert [c.status for c in thing.certificates] == ["ACTIVE"]
    assert len(api.registry.certificates()) == 1
    _, spent = await api.call(topic, request)
    assert spent["errorCode"] == "InvalidCertificateOwnershipToken", "accepted once, the token is spent"


async def test_retry_after_a_failure_cannot_register_the_certificate_to_another_thing() -> None:
    api = Api(failing_refreshes=1)
    token = await _issue(api)
    topic = topics.register_thing("edgeferry-device")
    await api.call(topic, {"certificateOwnershipToken": token, "parameters": {"SerialNumber": "7"}})
    _, error = await api.call(topic, {"certificateOwnershipToken": token, "parameters": {"SerialNumber": "8"}})
    assert (error["statusCode"], error["errorCode"]) == (409, "ResourceAlreadyExists")
    assert [t.name for t in api.registry.things()] == ["gateway-7"]


async def test_override_fail_lets_the_retry_of_a_failed_registration_through() -> None:
    document = json.loads(DEFAULT_TEMPLATE_PATH.read_text())
    document["Resources"]["thing"]["OverrideSettings"] = {"AttributePayload": "FAIL"}
    api = Api(template=ProvisioningTemplate("edgeferry-device", json.dumps(document)), failing_refreshes=1)
    request = {"parameters": {"SerialNumber": "1"}, "certificateOwnershipToken": await _issue(api)}
    topic = topics.register_thing("edgeferry-device")
    _, failed = await api.call(topic, request)
    assert failed["errorCode"] == "InternalFailure"
    _, retried = await api.call(topic, request)
    assert retried["thingName"] == "gateway-1"
