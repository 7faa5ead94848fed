"""The standard device-side metrics of this host, read with psutil: listening TCP and UDP ports,
established TCP connections, and network counters as differences since the previous collection."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import psutil

from edge_agent.defender.report import Connection, DeviceMetrics, Port


@dataclass(slots=True)
class Collector:
    """Collects :class:`DeviceMetrics`; the first collection's counters are zero (no previous)."""

    _last: tuple[int, int, int, int] | None = None

    def collect(self) -> DeviceMetrics:
        tcp, udp, established = set(), set(), set()
        for conn in psutil.net_connections(kind="inet"):
            local = conn.laddr
            if not local:
                continue
            if conn.type == socket.SOCK_STREAM and conn.status == psutil.CONN_LISTEN:
                tcp.add(Port(local.port))
            elif conn.type == socket.SOCK_DGRAM and not conn.raddr:
                udp.add(Port(local.port))
            elif conn.type == socket.SOCK_STREAM and conn.status == psutil.CONN_ESTABLISHED and conn.raddr:
                established.add(Connection(f"{conn.raddr.ip}:{conn.raddr.port}", local_port=local.port))
        io = psutil.net_io_counters()
        now = (io.bytes_recv, io.bytes_sent, io.packets_recv, io.packets_sent)
        delta = tuple(max(0, a - b) for a, b in zip(now, self._last or now, strict=True))
        self._last = now
        return DeviceMetrics(listening_tcp=sorted(tcp, key=lambda p: p.port),
                             listening_udp=sorted(udp, key=lambda p: p.port),
                             established=sorted(established, key=lambda c: (c.remote_addr, c.local_port or 0)),
                             bytes_in=delta[0], bytes_out=delta[1], packets_in=delta[2], packets_out=delta[3])
