"""A running provisioning service on the test's rig, and a way to make devices with claims."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cloud.rig import Rig
from edge_agent.identity import ClaimConfig
from provisioning.service.api import TemplateEntry
from provisioning.service.hooks import SerialAllowList
from provisioning.service.service import ProvisioningService
from provisioning.service.templates import DEFAULT_TEMPLATE_NAME, DEFAULT_TEMPLATE_PATH, load_template

GUARDED_TEMPLATE = "guarded"
ALLOWED_SERIALS = frozenset(f"ok-{i}" for i in range(10))


@pytest.fixture
async def service(rig: Rig) -> AsyncIterator[ProvisioningService]:
    """The service with the shipped template and a ``guarded`` one behind a serial allow-list."""
    templates = {
        DEFAULT_TEMPLATE_NAME: TemplateEntry(load_template(DEFAULT_TEMPLATE_PATH)),
        GUARDED_TEMPLATE: TemplateEntry(load_template(DEFAULT_TEMPLATE_PATH, GUARDED_TEMPLATE),
                                        SerialAllowList(ALLOWED_SERIALS)),
    }
    async with ProvisioningService(rig, templates) as running:
        yield running


ClaimFactory = Callable[..., ClaimConfig]


@pytest.fixture
def claim(service: ProvisioningService, tmp_path: Path) -> ClaimFactory:
    """``claim(serial, template=..., method=...)`` -> a ClaimConfig with a fresh claim certificate."""
    directory = service.issue_claim("factory-line-1", tmp_path / "claim")

    def make(serial: str, *, template: str = DEFAULT_TEMPLATE_NAME, method: str = "csr",
             **parameters: str) -> ClaimConfig:
        return ClaimConfig(certificate=directory / "claim.cert.pem", private_key=directory / "claim.key.pem",
                           template=template, method=method,
                           parameters={"SerialNumber": serial, "Site": "plant-7", **parameters})

    return make
