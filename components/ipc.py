"""A thin asyncio adapter over the Greengrass IPC client (``awsiot.greengrasscoreipc.clientv2``).

Only configuration, lifecycle state and configuration validation go through here; everything
else in the component is the standalone agent. The client is any object with the
``GreengrassCoreIPCClientV2`` methods below, so tests drive the adapter with a stand-in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


class ComponentIpcClient(Protocol):
    """The subset of ``GreengrassCoreIPCClientV2`` the component uses."""

    def get_configuration(self, *, component_name: str | None = None,
                          key_path: list[str] | None = None) -> Any: ...
    def subscribe_to_configuration_update(self, *, component_name: str | None = None,
                                          key_path: list[str] | None = None,
                                          on_stream_event: Callable[[Any], None] | None = None,
                                          on_stream_error: Callable[[Exception], bool] | None = None,
                                          on_stream_closed: Callable[[], None] | None = None) -> Any: ...
    def subscribe_to_validate_configuration_updates(
        self, *, on_stream_event: Callable[[Any], None] | None = None,
        on_stream_error: Callable[[Exception], bool] | None = None,
        on_stream_closed: Callable[[], None] | None = None) -> Any: ...
    def send_configuration_validity_report(self, *, configuration_validity_report: Any = None) -> Any: ...
    def update_state(self, *, state: str | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class ValidationRequest:
    """The nucleus asks whether a deployment's configuration is acceptable before applying it."""

    deployment_id: str
    configuration: dict[str, Any]


class ComponentIpc:
    """Async view of the component's IPC: read configuration, hear about changes, report state.

    IPC callbacks arrive on the SDK's threads; they are handed to the event loop through
    ``call_soon_threadsafe`` into asyncio queues.
    """

    def __init__(self, client: ComponentIpcClient) -> None:
        self.client = client
        self.updates: asyncio.Queue[None] = asyncio.Queue()
        self.validations: asyncio.Queue[ValidationRequest] = asyncio.Queue()

    async def configuration(self) -> dict[str, Any]:
        """The component's whole configuration (key path ``[]``)."""
        response = await asyncio.to_thread(self.client.get_configuration, key_path=[])
        return dict(response.value or {})

    async def watch(self) -> None:
        """Subscribe to configuration updates and, where the nucleus serves it, to
        pre-deployment validation requests."""
        loop = asyncio.get_running_loop()

        def on_update(_event: Any) -> None:
            loop.call_soon_threadsafe(self.updates.put_nowait, None)

        def on_validate(event: Any) -> None:
            inner = event.validate_configuration_update_event
            request = ValidationRequest(deployment_id=inner.deployment_id or "",
                                        configuration=dict(inner.configuration or {}))
            loop.call_soon_threadsafe(self.validations.put_nowait, request)

        def on_error(exc: Exception) -> bool:
            log.error("ipc_stream_error", extra={"error": repr(exc)})
            return False  # keep the stream open

        await asyncio.to_thread(self.client.subscribe_to_configuration_update, key_path=[],
                                on_stream_event=on_update, on_stream_error=on_error)
        try:
            await asyncio.to_thread(self.client.subscribe_to_validate_configuration_updates,
                                    on_stream_event=on_validate, on_stream_error=on_error)
        except Exception as exc:  # Nucleus Lite does not serve it: deployments go unvalidated
            log.warning("configuration_validation_unavailable", extra={"error": repr(exc)})

    async def answer_validation(self, request: ValidationRequest, problem: str | None) -> None:
        """Accept the deployment's configuration, or reject it with ``problem`` as the reason."""
        from awsiot.greengrasscoreipc.model import ConfigurationValidityReport, ConfigurationValidityStatus

        report = ConfigurationValidityReport(
            status=ConfigurationValidityStatus.REJECTED if problem else ConfigurationValidityStatus.ACCEPTED,
            deployment_id=request.deployment_id, message=problem or "configuration is valid")
        await asyncio.to_thread(self.client.send_configuration_validity_report,
                                configuration_validity_report=report)

    async def report(self, state: str) -> None:
        """``UpdateState``: ``RUNNING`` or ``ERRORED`` (ReportedLifecycleState)."""
        await asyncio.to_thread(self.client.update_state, state=state)
