"""Pre-provisioning hooks: the local stand-in for the Lambda IoT Core calls before RegisterThing.

The hook sees what the Lambda would (pre-provisioning-hook.md: claimCertificateId, certificateId,
templateArn, clientId, parameters) and answers allow or refuse, optionally with
``parameterOverrides`` that are merged into the device's parameters. A refusal, or a hook that
fails, makes RegisterThing fail with AccessDenied (403).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

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
