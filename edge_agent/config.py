"""The agent configuration file: one YAML document validated by pydantic models.

Each plugin's model lives beside its code and builds it; this module composes them. The
discriminated unions on ``type`` are the registry of plugins.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, model_validator

from edge_agent.aggregate.alarms import alarm_problems
from edge_agent.aggregate.config import AggregationConfig, AlarmRule, BatchingConfig
from edge_agent.aggregate.outages import state_point
from edge_agent.errors import ConfigError
from edge_agent.identity import IdentityConfig
from edge_agent.publish.config import (
    FilePublishConfig,
    GreengrassPublishConfig,
    MqttPublishConfig,
    StdoutPublishConfig,
)
from edge_agent.sources.modbus.config import ModbusRtuDevice, ModbusTcpDevice
from edge_agent.sources.opcua.config import OpcUaDevice
from edge_agent.sources.points import StrictModel
from edge_agent.spool.config import SqliteSpoolConfig, StreamManagerSpoolConfig
from edge_agent.units import Duration

DeviceConfig = Annotated[ModbusTcpDevice | ModbusRtuDevice | OpcUaDevice, Field(discriminator="type")]
SpoolConfig = Annotated[SqliteSpoolConfig | StreamManagerSpoolConfig, Field(discriminator="type")]
PublishConfig = Annotated[
    MqttPublishConfig | StdoutPublishConfig | FilePublishConfig | GreengrassPublishConfig,
    Field(discriminator="type"),
]
_TAGS = {"modbus_tcp", "modbus_rtu", "opcua", "sqlite", "stream_manager", "mqtt", "stdout",
         "file", "greengrass_ipc"}
THING_NAME = r"^[A-Za-z0-9_:-]{1,128}$"
"""AWS IoT thing names: letters, digits, ``_ - :``, at most 128 characters."""
TOPIC_LEVEL = r"^[A-Za-z0-9_.:-]{1,64}$"


class StatusConfig(StrictModel):
    health_file: Path | None = None
    """JSON file rewritten every ``interval`` with the agent's metrics."""
    interval: Duration = 5.0
    shutdown_grace: Duration = 5.0
    """At shutdown, how long the forwarder may keep sending spooled batches before it stops."""


class AgentConfig(StrictModel):
    """Everything one agent (one thing) needs."""

    thing: str = Field(pattern=THING_NAME)
    """The thing name: ``deviceId`` in topics and ``device`` in the envelope."""
    site: str = Field(pattern=TOPIC_LEVEL)
    asset_type: str = Field(pattern=TOPIC_LEVEL)
    devices: list[DeviceConfig] = Field(min_length=1)
    aggregation: AggregationConfig = AggregationConfig()
    batching: BatchingConfig = BatchingConfig()
    alarms: list[AlarmRule] = Field(default_factory=list)
    spool: SpoolConfig = SqliteSpoolConfig()
    publish: PublishConfig = MqttPublishConfig()
    identity: IdentityConfig = IdentityConfig()
    status: StatusConfig = StatusConfig()

    @model_validator(mode="after")
    def _unique_names(self) -> AgentConfig:
        problems = []
        device_names = Counter(d.name for d in self.devices)
        problems += [f"device name {n!r} is used {c} times" for n, c in device_names.items() if c > 1]
        point_names = Counter(n for d in self.devices for p in d.points for n in p.expanded_names())
        dupes = [n for n, c in point_names.items() if c > 1]
        if dupes:
            problems.append(f"point names must be unique across devices: {', '.join(dupes[:5])}"
                            + (" ..." if len(dupes) > 5 else ""))
        reserved = sorted(set(point_names) & {state_point(d.name) for d in self.devices})
        problems += [f"point name {n!r} is reserved for its device's state record" for n in reserved]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def point_names(self) -> list[str]:
        return [n for d in self.devices for p in d.points for n in p.expanded_names()]


def format_location(loc: tuple[int | str, ...]) -> str:
    """``("devices", 2, "modbus_tcp", "points", 7, "dtype")`` -> ``devices[2].points[7].dtype``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TAGS or part.startswith("function-"):
            continue
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def validation_problems(exc: ValidationError) -> list[str]:
    """Every error of a pydantic validation as ``path: message``."""
    problems = []
    for err in exc.errors(include_url=False):
        message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "union_tag_invalid":
            message = f"unknown type {err['input'].get('type')!r}; expected one of {err['ctx']['expected_tags']}"
        problems.append(f"{format_location(tuple(err['loc']))}: {message}")
    return problems


def parse_config(data: Any, source: str = "<config>") -> AgentConfig:
    """Validate an already-parsed document; raise :class:`ConfigError` with every problem."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping of settings"])
    try:
        config = AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc)) from None
    problems = alarm_problems(config.alarms, config.point_names())
    if problems:
        raise ConfigError(source, problems)
    return config


def load_config(path: Path) -> AgentConfig:
    """Read and validate an agent config file; raise :class:`ConfigError` on any problem."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ConfigError(str(path), [f"{where}: {getattr(exc, 'problem', exc)}"]) from None
    config = parse_config(data, str(path))
    return _resolve_relative_paths(config, path.parent)


def _resolve_relative_paths(config: AgentConfig, base: Path) -> AgentConfig:
    """Paths in a config file are relative to the file, not to the working directory."""

    def fix(p: Path | None) -> Path | None:
        return p if p is None or p.is_absolute() else (base / p)

    spool = config.spool
    if isinstance(spool, SqliteSpoolConfig):
        spool = spool.model_copy(update={"path": fix(spool.path)})
    else:
        spool = spool.model_copy(update={"position_file": fix(spool.position_file)})
    identity = config.identity.model_copy(update={"dir": fix(config.identity.dir),
                                                  "ca": fix(config.identity.ca)})
    publish = config.publish
    if isinstance(publish, FilePublishConfig):
        publish = publish.model_copy(update={"path": fix(publish.path)})
    status = config.status.model_copy(update={"health_file": fix(config.status.health_file)})
    return config.model_copy(update={"spool": spool, "identity": identity, "publish": publish,
                                     "status": status})
