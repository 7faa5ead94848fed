"""IoT Core's fleet provisioning API answered locally: CreateCertificateFromCsr,
CreateKeysAndCertificate and RegisterThing (fleet-provision-api.md).

Error codes: AWS documents the rejection shape (statusCode, errorCode, errorMessage) but not the
full list of codes. Used here: ``InvalidCertificateOwnershipToken`` (400, as IoT Core answers a
missing or unknown token), ``AccessDenied`` (403, the pre-provisioning hook refused or failed:
pre-provisioning-hook.md "fails with ACCESS_DENIED"), ``InvalidCSR`` and ``InvalidParameters``
and ``InvalidPayload`` (400), ``ResourceNotFound`` (404, no such template),
``ResourceAlreadyExists`` (409, OverrideSettings FAIL), ``Throttling`` (429) and
``InternalFailure`` (500).

RegisterThing spends the ownership token only once the broker's access rules are in force and the
device is about to be told so. A request answered ``InternalFailure`` (the broker was restarting,
say) may be retried with the same token: it completes the same registration.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from provisioning import topics
from provisioning.errors import ProvisioningRejected, ProvisioningUnavailable
from provisioning.service.authority import DeviceAuthority, DeviceCertificate
from provisioning.service.hooks import HookDecision, HookRequest, PreProvisioningHook
from provisioning.service.payloads import decode_request, encode_reply
from provisioning.service.registry import Registry
from provisioning.service.templates import ProvisioningTemplate

logger = logging.getLogger(__name__)

HOOK_TIMEOUT = 5.0
"""A hook that has not answered by then has failed: the request is refused, not left hanging."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: the MQTT client id and the claim certificate it connected with."""

    client_id: str
    claim_name: str | None = None
    claim_certificate_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    topic: str
    payload: dict[str, Any]
    format: topics.Format = "json"

    def encoded(self) -> bytes:
        """The payload in the request's format."""
        return encode_reply(self.payload, self.format)


@dataclass(frozen=True, slots=True)
class TemplateEntry:
    template: ProvisioningTemplate
    hook: PreProvisioningHook | None = None


class RequestRate:
    """A token bucket over all requests: beyond it, requests are refused with 429 Throttling."""

    def __init__(self, per_second: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_second
        self._clock = clock
        self._tokens = per_second or 0.0
        self._at = clock()

    def admit(self) -> bool:
        if self._rate is None:
            return True
        now = self._clock()
        self._tokens = min(self._rate, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


AccessRefresh = Callable[[], Awaitable[None]]
"""Brings the broker's access rules in line with the registry (returns once they are in force)."""


class FleetProvisioningApi:
    """Turns one request (topic, payload) into its reply on ``/accepted`` or ``/rejected``."""

    def __init__(self, registry: Registry, authority: DeviceAuthority, templates: Mapping[str, TemplateEntry],
                 refresh_access: AccessRefresh, *, requests_per_second: float | None = None) -> None:
        self._registry = registry
        self._authority = authority
        self._templates = templates
        self._refresh_access = refresh_access
        self._rate = RequestRate(requests_per_second)

    async def handle(self, topic: str, payload: bytes, caller: Caller) -> Reply:
        fmt = topics.format_of(topic) or "json"
        try:
            if not self._rate.admit():
                raise ProvisioningRejected(429, "Throttling", "Rate exceeded")
            accepted = await self._dispatch(topic, payload, caller)
            return Reply(topic + topics.ACCEPTED, accepted, fmt)
        except ProvisioningRejected as exc:
            logger.info("provisioning_rejected", extra={"topic": topic, "client_id": caller.client_id,
                                                        "error_code": exc.error_code,
                                                        "status_code": exc.status_code})
            return Reply(topic + topics.REJECTED, exc.payload(), fmt)
        except ProvisioningUnavailable as exc:
            logger.warning("provisioning_failed", extra={"topic": topic, "client_id": caller.client_id,
                                                         "error": str(exc)})
        except Exception:
            logger.exception("provisioning_failed", extra={"topic": topic, "client_id": caller.client_id})
        failure = ProvisioningRejected(500, "InternalFailure", "internal failure")
        return Reply(topic + topics.REJECTED, failure.payload(), fmt)

    async def _dispatch(self, topic: str, payload: bytes, caller: Caller) -> dict[str, Any]:
        fmt = topics.format_of(topic)
        if fmt is None:
            raise ProvisioningRejected(400, "InvalidPayload", f"{topic} is not a provisioning API topic")
        base = topic.rsplit("/", 1)[0]
        if base == topics.CREATE_FROM_CSR_BASE:
            request = decode_request(payload, fmt)
            certificate = await asyncio.to_thread(self._authority.sign_csr,
                                                  request.get("certificateSigningRequest"))
            token = await self._record(certificate, caller)
            return {"certificateOwnershipToken": token, "certificateId": certificate.certificate_id,
                    "certificatePem": certificate.pem}
        if base == topics.CREATE_KEYS_BASE:
            certificate = await asyncio.to_thread(self._authority.create_keys)
            token = await self._record(certificate, caller)
            return {"certificateId": certificate.certificate_id, "certificatePem": certificate.pem,
                    "privateKey": certificate.private_key_pem, "certificateOwnershipToken": token}
        template = topics.template_of(topic)
        assert template is not None  # format_of() accepted it as a request
        return await self._register_thing(template, decode_request(payload, fmt), caller)

    async def _record(self, certificate: DeviceCertificate, caller: Caller) -> str:
        token = secrets.token_urlsafe(32)
        await asyncio.to_thread(
            self._registry.add_pending_certificate, certificate_id=certificate.certificate_id,
            common_name=certificate.common_name, serial=certificate.serial, pem=certificate.pem,
            token=token, claim=caller.claim_certificate_id)
        logger.info("certificate_issued", extra={"certificate_id": certificate.certificate_id,
                                                 "client_id": caller.client_id, "claim": caller.claim_name})
        return token

    async def _register_thing(self, name: str, request: dict[str, Any], caller: Caller) -> dict[str, Any]:
        entry = self._templates.get(name)
        if entry is None:
            raise ProvisioningRejected(404, "ResourceNotFound", f"template {name} does not exist")
        token = request.get("certificateOwnershipToken")
        if not isinstance(token, str) or not token:
            raise ProvisioningRejected(400, "InvalidCertificateOwnershipToken",
                                       "Certificate ownership token cannot be empty.")
        parameters = request.get("parameters", {})
        if not isinstance(parameters, dict) or not all(isinstance(v, str) for v in parameters.values()):
            raise ProvisioningRejected(400, "InvalidParameters", "parameters must be an object of strings")
        certificate = await asyncio.to_thread(self._registry.certificate_for_token, token)
        if certificate is None:
            raise ProvisioningRejected(400, "InvalidCertificateOwnershipToken",
                                       "Certificate ownership token is invalid or has expired.")
        if entry.hook is not None:
            decision = await _ask(entry.hook, HookRequest(
                template=name, certificate_id=certificate.certificate_id,
                claim_certificate_id=caller.claim_certificate_id, client_id=caller.client_id,
                parameters=dict(parameters)))
            if not decision.allow:
                raise ProvisioningRejected(403, "AccessDenied", "the pre-provisioning hook refused")
            parameters = {**parameters, **decision.parameter_overrides}
        plan = entry.template.evaluate(parameters, certificate.certificate_id)
        thing = plan.registration.thing_name
        retried = thing in certificate.things
        if certificate.things and not retried:
            raise ProvisioningRejected(409, "ResourceAlreadyExists",
                                       f"the certificate is being registered to {certificate.things[0]}")
        if plan.fail_if_thing_exists and not retried \
                and await asyncio.to_thread(self._registry.thing_exists, thing):
            raise ProvisioningRejected(409, "ResourceAlreadyExists", f"thing {thing} already exists")
        await asyncio.to_thread(self._registry.register, certificate.certificate_id, plan.registration)
        await self._refresh_access()
        await asyncio.to_thread(self._registry.confirm_registration, certificate.certificate_id)
        logger.info("thing_registered", extra={"thing": thing, "certificate_id": certificate.certificate_id,
                                               "template": name})
        return {"deviceConfiguration": plan.device_configuration, "thingName": thing}


async def _ask(hook: PreProvisioningHook, request: HookRequest) -> HookDecision:
    """Call the hook; a hook that fails or times out refuses, as a failing Lambda does."""
    try:
        decision = hook(request)
        if inspect.isawaitable(decision):
            decision = await asyncio.wait_for(decision, HOOK_TIMEOUT)
    except Exception:
        logger.exception("provisioning_hook_failed", extra={"template": request.template})
        return HookDecision(allow=False)
    return decision
