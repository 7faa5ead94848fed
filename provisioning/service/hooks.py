"""Pre-provisioning hooks: the local stand-in for the Lambda IoT Core calls before RegisterThing.

The hook sees what the Lambda would (pre-provisioning-hook.md: claimCertificateId, certificateId,
templateArn, clientId, parameters) and answers allow or refuse, optionally with
``parameterOverrides`` that are merged into the device's parameters. A refusal, or a hook that
fails, makes RegisterThing fail with AccessDenied (403).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HookRequest:
    template: str
    certificate_id: str
    claim_certificate_id: str | None
    client_id: str
    parameters: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class HookDecision:
    allow: bool
    parameter_overrides: dict[str, str] = field(default_factory=dict)


PreProvisioningHook = Callable[[HookRequest], HookDecision | Awaitable[HookDecision]]


class SerialAllowList:
    """A hook that allows only listed values of one parameter (``SerialNumber`` by default)."""

    def __init__(self, serials: Iterable[str], parameter: str = "SerialNumber") -> None:
        self.serials = frozenset(serials)
        self.parameter = parameter

    def __call__(self, request: HookRequest) -> HookDecision:
        allowed = request.parameters.get(self.parameter) in self.serials
        if not allowed:
            logger.info("provisioning_hook_denied",
                        extra={"template": request.template, "parameter": self.parameter})
        return HookDecision(allow=allowed)


class ThingsByAttribute(Protocol):
    def thing_with_attribute(self, attribute: str, value: str) -> str | None: ...


class RefuseRegisteredSerials:
    """A hook that refuses a serial number some registered thing already carries, so a shared claim
    certificate cannot re-provision a device that exists and get a second certificate for it.

    IoT Core does the same only when such a hook is configured: without one, RegisterThing for an
    existing thing attaches another certificate (provision-wo-cert.md, "Provisioning by claim";
    pre-provisioning-hook.md)."""

    def __init__(self, things: ThingsByAttribute, parameter: str = "SerialNumber",
                 attribute: str = "serialNumber") -> None:
        self.things = things
        self.parameter = parameter
        self.attribute = attribute

    def __call__(self, request: HookRequest) -> HookDecision:
        serial = request.parameters.get(self.parameter)
        existing = self.things.thing_with_attribute(self.attribute, serial) if serial is not None else None
        if existing is not None:
            logger.info("provisioning_hook_serial_registered", extra={"template": request.template,
                                                                      "thing": existing})
        return HookDecision(allow=existing is None)


def every(*hooks: PreProvisioningHook) -> PreProvisioningHook:
    """A hook that allows only what every one of ``hooks`` allows (their overrides merged in order)."""
    async def decide(request: HookRequest) -> HookDecision:
        overrides: dict[str, str] = {}
        for hook in hooks:
            decision = hook(request)
            if inspect.isawaitable(decision):
                decision = await decision
            if not decision.allow:
                return decision
            overrides.update(decision.parameter_overrides)
        return HookDecision(allow=True, parameter_overrides=overrides)
    return decide
