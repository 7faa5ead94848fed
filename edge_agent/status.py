"""The agent's live status: a JSON health file for supervisors, and rates for the status line."""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@functools.cache
def running_version() -> str:
    """The installed edgeferry's version: what this process runs."""
    try:
        return importlib.metadata.version("edgeferry")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """Counters of every component, grouped by component name."""

    thing: str
    uptime: float
    parts: dict[str, dict[str, Any]]
    at: float = field(default_factory=time.time)

    def get(self, part: str, name: str, default: Any = 0) -> Any:
        return self.parts.get(part, {}).get(name, default)

    def total(self, name: str, prefix: str = "source.") -> int:
        """Sum of a counter over every part whose name starts with ``prefix``."""
        return sum(int(v.get(name, 0)) for k, v in self.parts.items() if k.startswith(prefix))

    def to_json(self) -> dict[str, Any]:
        return {"thing": self.thing, "version": running_version(), "at": round(self.at, 3),
                "uptime": round(self.uptime, 1), **self.parts}


class HealthFile:
    """Rewrites a JSON file atomically, so a reader never sees half of it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, status: AgentStatus) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(status.to_json(), indent=1, default=str))
        os.replace(tmp, self.path)


class RateMeter:
    """Per-second rates of counters between two snapshots."""

    def __init__(self) -> None:
        self._last: tuple[float, dict[str, float]] | None = None

    def update(self, now: float, values: dict[str, float]) -> dict[str, float]:
        previous, self._last = self._last, (now, values)
        if previous is None or now <= previous[0]:
            return dict.fromkeys(values, 0.0)
        dt = now - previous[0]
        return {k: (v - previous[1].get(k, 0.0)) / dt for k, v in values.items()}
