"""Collecting this host's metrics with psutil: a socket we open shows up, traffic we send counts."""

from __future__ import annotations

import socket

from edge_agent.defender.collect import Collector


def test_a_listening_socket_an_established_connection_and_traffic_are_seen() -> None:
    collector = Collector()
    assert collector.collect().bytes_out == 0, "the first collection has no previous counters"
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            peer, _ = server.accept()
            with peer:
                client.sendall(b"x" * 200_000)
                received = 0
                while received < 200_000:
                    received += len(peer.recv(65536))
                metrics = collector.collect()
    assert port in [p.port for p in metrics.listening_tcp]
    assert f"127.0.0.1:{port}" in [c.remote_addr for c in metrics.established]
    assert metrics.bytes_out >= 200_000, "loopback traffic counts on the lo interface"
    assert metrics.packets_out > 0
