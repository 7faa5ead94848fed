"""Entry point of the ``com.edgeferry.FieldbusGateway`` Greengrass component."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from components.gateway import GatewayComponent
from components.ipc import ComponentIpc
from edge_agent.errors import EdgeferryError
from edge_agent.status import running_version

NUCLEUS_SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"
log = logging.getLogger("components.fieldbus_gateway")


def run_component() -> int:
    """Run under the Greengrass nucleus until it stops the component (SIGTERM)."""
    if not os.environ.get(NUCLEUS_SOCKET_ENV) or not os.environ.get("SVCUID"):
        raise EdgeferryError(f"not started by the Greengrass nucleus ({NUCLEUS_SOCKET_ENV} and SVCUID "
                             "are not set); to run without Greengrass use: edgeferry agent run --config FILE")
    return asyncio.run(_main())


async def _main() -> int:
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    from edgeferry.agent_cli import sink_factory_for

    socket = os.environ.get(NUCLEUS_SOCKET_ENV)
    try:
        client = await asyncio.to_thread(GreengrassCoreIPCClientV2)
    except Exception as exc:
        raise EdgeferryError(f"cannot connect to the Greengrass nucleus IPC socket {socket}: {exc}") from None
    log.info("component_started", extra={"version": running_version(), "socket": socket})
    ipc = ComponentIpc(client)
    component = GatewayComponent(ipc, mqtt_sink_factory_for=sink_factory_for)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await component.run(stop)
    finally:
        client.close()
    return 0


def main() -> int:
    """``python -m components.fieldbus_gateway``: structured one-line logs on stdout/stderr."""
    from edgeferry.logs import configure_logging

    configure_logging(os.environ.get("EDGEFERRY_LOG_LEVEL", "INFO"), "json")
    try:
        return run_component()
    except EdgeferryError as exc:
        print(f"edgeferry component: error: {exc}", file=sys.stderr)
        return 1
