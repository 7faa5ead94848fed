"""The fieldbus gateway component: the standalone agent, configured over Greengrass IPC.

It adds only adapters to the agent's pipeline: configuration from ``GetConfiguration`` (the
``agent`` key of the component configuration, validated by the same pydantic models as the
config file), live updates from ``SubscribeToConfigurationUpdate`` applied as the standalone
agent applies its file on SIGHUP (:func:`edge_agent.reload.apply_update`), pre-deployment validation, a publish path (IPC ``PublishToIoTCore`` or the
device's own MQTT connection) and health through ``UpdateState``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from components.ipc import ComponentIpc, ValidationRequest
from edge_agent.config import AgentConfig, parse_config
from edge_agent.errors import ConfigError, EdgeferryError
from edge_agent.interfaces import Sink
from edge_agent.publish.config import GreengrassPublishConfig
from edge_agent.publish.greengrass import GreengrassIpcSink, IotCorePublisher
from edge_agent.reload import apply_update
from edge_agent.supervisor import Agent, SinkFactory

log = logging.getLogger(__name__)

CONFIG_KEY = "agent"
"""The component configuration key holding the agent config (beside Greengrass's ``accessControl``)."""
FILE_KEY = "agent_file"
"""Or: the path of an agent config file on the core device. It takes precedence over ``agent``.
For configurations too large for the nucleus's configuration store (Nucleus Lite reads at most
8 KiB / 500 objects per file), or kept as an artifact."""


def agent_config_from(component_config: dict[str, Any], thing_name: str | None) -> AgentConfig:
    """Validate the agent configuration a component configuration holds (``agent_file`` or
    ``agent``); the core device's thing name (``AWS_IOT_THING_NAME``) is the default ``thing``.

    Nucleus Lite hands every YAML scalar over as a string (``502`` as ``"502"``); the models
    convert them as they convert a config file's."""
    path = component_config.get(FILE_KEY)
    if path:
        raw = _read_agent_file(Path(str(path)))
        source = str(path)
    else:
        raw = component_config.get(CONFIG_KEY)
        source = "component configuration"
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"{CONFIG_KEY}: missing (the agent configuration, or {FILE_KEY}: its path)"])
    if thing_name and "thing" not in raw:
        raw = {**raw, "thing": thing_name}
    return parse_config(raw, source)


def _read_agent_file(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(str(path), [f"{FILE_KEY}: cannot read: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"{FILE_KEY}: not YAML: {exc}"]) from None


class GatewayComponent:
    """Runs one :class:`Agent` for the core device and keeps it in step with its configuration."""

    def __init__(self, ipc: ComponentIpc, *, thing_name: str | None = None,
                 mqtt_sink_factory_for: Callable[[AgentConfig], Awaitable[SinkFactory]] | None = None) -> None:
        self.ipc = ipc
        self.thing_name = thing_name if thing_name is not None else os.environ.get("AWS_IOT_THING_NAME")
        self.mqtt_sink_factory_for = mqtt_sink_factory_for
        self.mqtt_sink_factory: SinkFactory | None = None
        self.agent: Agent | None = None

    def sink_for(self, config: AgentConfig) -> Sink:
        if isinstance(config.publish, GreengrassPublishConfig):
            client: IotCorePublisher = self.ipc.client  # type: ignore[assignment]
            return GreengrassIpcSink(config.publish, client)
        if self.mqtt_sink_factory is not None:
            return self.mqtt_sink_factory(config)
        raise EdgeferryError(f"publish type {config.publish.type} is not available in the component")

    async def run(self, stop: asyncio.Event) -> None:
        """Read the configuration, run the agent, apply updates until ``stop``."""
        try:
            config = agent_config_from(await self.ipc.configuration(), self.thing_name)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("invalid_configuration", extra={"problem": problem})
            await self.ipc.report("ERRORED")
            raise
        if self.mqtt_sink_factory_for is not None and not isinstance(config.publish, GreengrassPublishConfig):
            self.mqtt_sink_factory = await self.mqtt_sink_factory_for(config)
        self.agent = Agent(config, spool=config.spool.build(), sink_factory=self.sink_for)
        await self.ipc.watch()
        async with asyncio.TaskGroup() as group:
            running = group.create_task(self.agent.run(stop), name="agent")
            group.create_task(self._report_running(), name="health")
            updates = group.create_task(self._apply_updates(), name="config-updates")
            validations = group.create_task(self._answer_validations(), name="config-validation")
            await running
            updates.cancel()
            validations.cancel()

    async def _report_running(self) -> None:
        assert self.agent is not None
        await self.agent.running.wait()
        await self.ipc.report("RUNNING")

    async def _apply_updates(self) -> None:
        assert self.agent is not None

        async def read() -> AgentConfig:
            return agent_config_from(await self.ipc.configuration(), self.thing_name)

        while True:
            await self.ipc.updates.get()
            while not self.ipc.updates.empty():  # a deployment sends one event per changed key
                self.ipc.updates.get_nowait()
            await apply_update(self.agent, read, "component configuration")

    async def _answer_validations(self) -> None:
        while True:
            request: ValidationRequest = await self.ipc.validations.get()
            problem = None
            try:
                agent_config_from(request.configuration, self.thing_name)
            except ConfigError as exc:
                problem = "; ".join(exc.problems)
            with contextlib.suppress(Exception):
                await self.ipc.answer_validation(request, problem)
