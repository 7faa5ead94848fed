"""Device services are started with the agent, rebuilt when their section changes live, and
stopped before the sink closes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Self

import pytest

from edge_agent.config import AgentConfig, StrictModel, parse_config
from edge_agent.metrics import Counters
from edge_agent.services import SERVICE_FACTORIES
from edge_agent.supervisor import Agent

EVENTS: list[str] = []


class EchoConfig(StrictModel):
    greeting: str


class EchoAgentConfig(AgentConfig):
    echo: EchoConfig | None = None


class EchoService:
    def __init__(self, agent: Agent, section: EchoConfig) -> None:
        self.agent, self.section, self.counters = agent, section, Counters()

    async def __aenter__(self) -> Self:
        EVENTS.append(f"start {self.section.greeting} sink={self.agent.sink.counters is not None}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        EVENTS.append(f"stop {self.section.greeting}")


def build_echo(agent: Agent, section: EchoConfig) -> EchoService:
    return EchoService(agent, section)


def config(tmp_path: Path, greeting: str | None) -> EchoAgentConfig:
    settings: dict[str, Any] = parse_config({
        "thing": "t1", "site": "s", "asset_type": "a",
        "devices": [{"type": "modbus_tcp", "name": "plc", "host": "127.0.0.1", "points": [{"name": "x", "address": 1}]}],
        "spool": {"type": "sqlite", "path": str(tmp_path / "spool.db")},
        "publish": {"type": "file", "path": str(tmp_path / "out.jsonl")},
        "status": {"shutdown_grace": "1s"},
    }).model_dump()
    if greeting is not None:
        settings["echo"] = {"greeting": greeting}
    return EchoAgentConfig.model_validate(settings)


async def test_services_follow_their_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SERVICE_FACTORIES, "echo", f"{__name__}:build_echo")
    EVENTS.clear()
    first = config(tmp_path, "hello")
    agent = Agent(first, spool=first.spool.build(), sink_factory=lambda c: c.publish.build(None))
    stop = asyncio.Event()
    running = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.running.wait(), 10)
    assert EVENTS == ["start hello sink=True"]
    assert "service.echo" in agent.status().parts
    await agent.reconfigure(config(tmp_path, "hello"))  # unchanged: left running
    await agent.reconfigure(config(tmp_path, "again"))
    await agent.reconfigure(config(tmp_path, None))
    assert agent.services == {}
    await agent.reconfigure(config(tmp_path, "last"))
    stop.set()
    await asyncio.wait_for(running, 15)
    assert EVENTS == ["start hello sink=True", "stop hello", "start again sink=True", "stop again",
                      "start last sink=True", "stop last"]
