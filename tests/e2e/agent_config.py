"""Agent configuration files for the end-to-end tests: one Modbus device, raw bundles, an SQLite
spool, MQTT to the rig (directly or through a :class:`~tests.e2e.agent_link.WanLink`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SITE = "plant-7"
ASSET_TYPE = "pump"


def agent_config(directory: Path, *, thing: str, broker: tuple[str, int], ca: Path,
                 device: dict[str, Any], batching: dict[str, Any],
                 spool: dict[str, Any] | None = None, publish: dict[str, Any] | None = None,
                 shutdown_grace: str = "20s") -> dict[str, Any]:
    """A config mapping (as the YAML file holds it) with every path under ``directory``.

    Readings are reported raw (each reading of each poll travels), the health file is rewritten
    every second, and the sink reconnects within seconds (small jitter and backoff) so tests stay
    short; the publish rate limit is the default (IoT Core's 100 publishes/s per connection).
    """
    host, port = broker
    return {
        "thing": thing,
        "site": SITE,
        "asset_type": ASSET_TYPE,
        "devices": [device],
        "aggregation": {"mode": "raw"},
        "batching": batching,
        "spool": {"type": "sqlite", "path": str(directory / "spool.db"), **(spool or {})},
        "publish": {"type": "mqtt", "endpoint": host, "port": port, "connect_jitter": "1s",
                    "reconnect_min": "500ms", "reconnect_max": "4s", "publish_timeout": "20s",
                    **(publish or {})},
        "identity": {"dir": str(directory / "identity"), "ca": str(ca)},
        "status": {"health_file": str(directory / "health.json"), "interval": "1s",
                   "shutdown_grace": shutdown_grace},
    }


def file_agent_config(directory: Path, *, thing: str, device: dict[str, Any],
                      aggregation: dict[str, Any] | None = None) -> dict[str, Any]:
    """A config mapping that publishes to ``directory/published.jsonl`` (a ``file`` sink, read
    back with :func:`~tests.e2e.agent_process.published_batches`): raw readings in 300 ms bundles."""
    return {
        "thing": thing, "site": SITE, "asset_type": ASSET_TYPE,
        "devices": [device],
        "aggregation": {"mode": "raw", **(aggregation or {})},
        "batching": {"max_age": "300ms"},
        "spool": {"type": "sqlite", "path": str(directory / "spool.db")},
        "publish": {"type": "file", "path": str(directory / "published.jsonl")},
        "status": {"health_file": str(directory / "health.json"), "interval": "1s"},
    }
