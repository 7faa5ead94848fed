"""Device Defender metrics reports, as AWS IoT Device Defender documents them.

A report is ``{"header": {"report_id", "version"}, "metrics": {...}, "custom_metrics": {...}}``
published to ``$aws/things/<thing>/defender/metrics/<json|cbor>``; the service answers on
``.../accepted`` or ``.../rejected``. Keys have a long and a short form (``header``/``hed``,
``listening_tcp_ports``/``tp``...); the short form saves bytes and is what AWS's embedded agent
sends by default. ``network_stats`` count what moved since the previous report. Reports more
often than every 5 minutes are throttled. (Developer guide, "Device-side metrics" and its
"Device metrics document specification"; AWS's Device Defender client library keeps the same
keys in ``defender.h``.) The custom metrics' value keys (``number``, ``number_list``,
``string_list``, ``ip_list``) have no short form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cbor2

Format = Literal["json", "cbor"]
VERSION = "1.0"
MIN_INTERVAL = 300.0
"""Seconds between two reports of one thing below which the service throttles."""

SHORT_KEYS: Mapping[str, str] = {
    "header": "hed", "report_id": "rid", "version": "v", "metrics": "met",
    "tcp_connections": "tc", "established_connections": "ec", "connections": "cs",
    "remote_addr": "rad", "local_port": "lp", "local_interface": "li", "total": "t",
    "listening_tcp_ports": "tp", "listening_udp_ports": "up", "ports": "pts", "port": "pt",
    "interface": "if", "network_stats": "ns", "bytes_in": "bi", "bytes_out": "bo",
    "packets_in": "pi", "packets_out": "po", "custom_metrics": "cmet",
}
LONG_KEYS: Mapping[str, str] = {short: long for long, short in SHORT_KEYS.items()}
CustomValue = float | int | Sequence[float] | Sequence[str]
CUSTOM_KINDS = ("number", "number_list", "string_list", "ip_list")


def topic(thing: str, fmt: Format, suffix: Literal["", "accepted", "rejected"] = "") -> str:
    """The reserved topic of a thing's reports (``suffix`` for the service's answers)."""
    return f"$aws/things/{thing}/defender/metrics/{fmt}" + (f"/{suffix}" if suffix else "")


@dataclass(frozen=True, slots=True)
class Port:
    port: int
    interface: str | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    remote_addr: str
    """``ip:port``."""
    local_port: int | None = None
    local_interface: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceMetrics:
    """One collection of the standard device-side metrics."""

    listening_tcp: Sequence[Port] = ()
    listening_udp: Sequence[Port] = ()
    established: Sequence[Connection] = ()
    bytes_in: int = 0
    bytes_out: int = 0
    packets_in: int = 0
    packets_out: int = 0
    """Network counters: what moved since the previous report."""


@dataclass(frozen=True, slots=True)
class CustomMetric:
    """A custom metric value: ``kind`` is ``number``, ``number_list``, ``string_list`` or ``ip_list``."""

    kind: str
    value: CustomValue

    def to_json(self) -> list[dict[str, Any]]:
        value = self.value if self.kind == "number" else list(self.value)  # type: ignore[arg-type]
        return [{self.kind: value}]


@dataclass(frozen=True, slots=True)
class Report:
    report_id: int
    """Must increase from one report to the next; the time in ms is a good choice."""
    metrics: DeviceMetrics
    custom: Mapping[str, CustomMetric] = field(default_factory=dict)

    def to_document(self, *, short: bool = False) -> dict[str, Any]:
        """The report document, with long or short keys."""
        m = self.metrics
        document: dict[str, Any] = {
            "header": {"report_id": self.report_id, "version": VERSION},
            "metrics": {
                "listening_tcp_ports": _ports(m.listening_tcp),
                "listening_udp_ports": _ports(m.listening_udp),
                "network_stats": {"bytes_in": m.bytes_in, "bytes_out": m.bytes_out,
                                  "packets_in": m.packets_in, "packets_out": m.packets_out},
                "tcp_connections": {"established_connections": {
                    "connections": [_drop_none({"remote_addr": c.remote_addr, "local_port": c.local_port,
                                                "local_interface": c.local_interface})
                                    for c in m.established],
                    "total": len(m.established)}},
            },
        }
        if self.custom:
            document["custom_metrics"] = {name: metric.to_json() for name, metric in self.custom.items()}
        return _rename(document, SHORT_KEYS) if short else document

    def encode(self, fmt: Format, *, short: bool = False) -> bytes:
        """The bytes to publish on :func:`topic` ``(thing, fmt)``."""
        document = self.to_document(short=short)
        if fmt == "cbor":
            return bytes(cbor2.dumps(document))
        return json.dumps(document, separators=(",", ":")).encode()


def decode(payload: bytes, fmt: Format) -> dict[str, Any]:
    """A report document with long keys, from either key form; ValueError when it is not one."""
    try:
        document = cbor2.loads(payload) if fmt == "cbor" else json.loads(payload)
    except (ValueError, cbor2.CBORDecodeError) as exc:
        raise ValueError(f"not a {fmt.upper()} document: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError("a report is an object")
    renamed: dict[str, Any] = _rename(document, LONG_KEYS)
    return renamed


def _ports(ports: Sequence[Port]) -> dict[str, Any]:
    return {"ports": [_drop_none({"port": p.port, "interface": p.interface}) for p in ports],
            "total": len(ports)}


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _rename(value: Any, names: Mapping[str, str]) -> Any:
    """Rename keys recursively; what is under ``custom_metrics`` (names chosen by the user, value
    keys without a short form) stays as it is."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new = names.get(key, key)
            out[new] = item if new in ("custom_metrics", "cmet") else _rename(item, names)
        return out
    if isinstance(value, list):
        return [_rename(item, names) for item in value]
    return value
