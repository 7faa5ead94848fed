"""Configuration updates of a running agent, wherever they come from (the standalone agent's file
on SIGHUP, a Greengrass deployment for the component): validate first, then apply live with
:meth:`~edge_agent.supervisor.Agent.reconfigure`. On any problem the running configuration stays
and each problem is logged on a line of its own, with its field path
(``configuration_update_refused problem="devices[0].points[3].dtype: ..."``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from edge_agent.config import AgentConfig, load_config
from edge_agent.errors import ConfigError, EdgeferryError
from edge_agent.supervisor import Agent

log = logging.getLogger(__name__)

KEPT = "running configuration"


async def apply_update(agent: Agent, read: Callable[[], Awaitable[AgentConfig]], source: str) -> bool:
    """Read and validate the new configuration with ``read``, and apply it to ``agent`` if it
    differs. True when the agent now runs it; False when it was refused (and logged)."""
    try:
        config = await read()
        if config == agent.config:
            log.info("configuration_unchanged", extra={"source": source})
            return True
        await agent.reconfigure(config)
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("configuration_update_refused", extra={"source": exc.source, "problem": problem,
                                                             "kept": KEPT})
        return False
    except EdgeferryError as exc:
        log.error("configuration_update_refused", extra={"source": source, "problem": str(exc), "kept": KEPT})
        return False
    return True


def reload_on_signal(agent: Agent, path: Path, signum: int = signal.SIGHUP) -> asyncio.Task[None]:
    """From now on, ``signum`` makes the running ``agent`` reread its config file ``path`` and
    apply it (see :func:`apply_update`); signals that arrive during a reload make one more.
    Returns the task doing it: cancel it to remove the handler."""
    loop = asyncio.get_running_loop()
    wanted = asyncio.Event()
    loop.add_signal_handler(signum, wanted.set)

    async def read() -> AgentConfig:
        return await asyncio.to_thread(load_config, path)

    async def reloads() -> None:
        try:
            while True:
                await wanted.wait()
                wanted.clear()
                await agent.running.wait()
                log.info("configuration_reload", extra={"file": str(path),
                                                        "signal": signal.Signals(signum).name})
                await apply_update(agent, read, str(path))
        finally:
            loop.remove_signal_handler(signum)

    return asyncio.create_task(reloads(), name="config-reload")
