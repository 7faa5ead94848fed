"""Device services: the features that talk with the cloud over the agent's downlink (commands,
the device shadow, jobs, Device Defender reports).

Each is switched on by an optional section of :class:`~edge_agent.config.AgentConfig` (None means
off) and built by a factory named here by import path, so that an agent without a feature never
imports its code (start-up time and memory on small modems). A factory is called with the running
:class:`~edge_agent.supervisor.Agent` and its section, and returns a
:class:`~edge_agent.interfaces.Component`: started after the sink (its routes are subscribed on
every connection), stopped before the sink closes, and rebuilt when its section changes live.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edge_agent.interfaces import Component

if TYPE_CHECKING:
    from edge_agent.supervisor import Agent

ServiceFactory = Callable[["Agent", Any], Component]

SERVICE_FACTORIES: dict[str, str] = {}
"""Config section name -> ``module:function`` building the service."""


def service_factory(section: str) -> ServiceFactory:
    """The factory registered for ``section``."""
    module, _, function = SERVICE_FACTORIES[section].partition(":")
    factory: ServiceFactory = getattr(importlib.import_module(module), function)
    return factory


def configured_sections(config: object) -> dict[str, Any]:
    """The service sections switched on in ``config``, by name."""
    sections = {name: getattr(config, name, None) for name in SERVICE_FACTORIES}
    return {name: section for name, section in sections.items() if section is not None}
