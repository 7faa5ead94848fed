"""Fleet provisioning throughput: devices provisioned per second, one after another and 100 at once.

A rig (Mosquitto) and ``edgeferry provision serve`` run in their own processes, so the service's
CPU is counted apart from the devices'; the devices are awscrt clients in this process, each doing
what a device does on first start: EC P-256 key, CSR, CreateCertificateFromCsr, RegisterThing (the
service reloads the broker's rules and waits until they are in force before it answers), identity stored
with fsync. Both modes run in one invocation, so their ratio is meaningful on a noisy machine.

    .venv/bin/python bench/provision.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from cloud.rig import Rig
from edge_agent.identity import ClaimConfig, IdentityConfig
from provisioning.device import RetryPolicy, ensure_identity
from provisioning.service.service import issue_claim


@dataclass
class Run:
    mode: str
    devices: int
    seconds: float
    latencies: list[float]
    client_cpu: float
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.devices / self.seconds


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _fleet(count: int, concurrency: int, base: Path, claim: ClaimConfig, host: str, port: int,
                 ca: Path, prefix: str) -> list[float]:
    gate = asyncio.Semaphore(concurrency)
    retry = RetryPolicy(attempts=5, initial=0.2, maximum=2.0)

    async def device(n: int) -> float:
        serial = f"{prefix}{n:05d}"
        config = IdentityConfig(dir=base / serial, ca=ca, claim=claim.model_copy(
            update={"parameters": {"SerialNumber": serial}}))
        async with gate:
            started = time.perf_counter()
            await ensure_identity(config, host, port, serial, retry=retry)
            return time.perf_counter() - started

    return list(await asyncio.gather(*(device(n) for n in range(count))))


def measure(mode: str, count: int, concurrency: int, base: Path, claim: ClaimConfig, endpoint: dict[str, str],
            server: psutil.Process) -> Run:
    me = psutil.Process()
    client0, server0 = _cpu(me), _cpu(server)
    started = time.perf_counter()
    latencies = asyncio.run(_fleet(count, concurrency, base / mode, claim, endpoint["host"],
                                   int(endpoint["port"]), Path(endpoint["ca"]), f"{mode[:3]}-"))
    seconds = time.perf_counter() - started
    return Run(mode, count, seconds, latencies, _cpu(me) - client0, _cpu(server) - server0)


def _serve(rig: Rig) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    process = subprocess.Popen([sys.executable, "-m", "edgeferry", "--log-level", "WARNING", "provision",
                                "serve", "--dir", str(rig.directory)], stdout=subprocess.DEVNULL)
    state = rig.directory / "provisioning" / "endpoint.json"
    deadline = time.monotonic() + 60
    while not state.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("provision serve did not start")
        time.sleep(0.05)
    return process, json.loads(state.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run: 20 sequential, 100 concurrent")
    args = parser.parse_args()
    sequential, rounds = (20, 1) if args.quick else (100, 3)
    with tempfile.TemporaryDirectory(prefix="bench-provision-") as tmp:
        base = Path(tmp)
        rig = Rig(base / "rig").start()
        server, endpoint = _serve(rig)
        try:
            claim_dir = issue_claim(rig, "bench-line", base / "claim")
            claim = ClaimConfig(certificate=claim_dir / "claim.cert.pem", private_key=claim_dir / "claim.key.pem",
                                template="edgeferry-device")
            service = psutil.Process(server.pid)
            runs = [measure("sequential", sequential, 1, base, claim, endpoint, service)]
            runs += [measure(f"concurrent-{n}", 100, 100, base, claim, endpoint, service) for n in range(rounds)]
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)
            rig.stop()
    table = Table(title=f"fleet provisioning (CSR + RegisterThing), {os.cpu_count()} CPUs")
    for column in ("mode", "devices", "seconds", "devices/s", "p50 ms", "p99 ms", "device CPU ms/dev",
                   "service CPU ms/dev"):
        table.add_column(column, justify="right")
    for run in runs:
        ordered = sorted(run.latencies)
        table.add_row(run.mode, str(run.devices), f"{run.seconds:.2f}", f"{run.rate:.1f}",
                      f"{statistics.median(ordered) * 1000:.0f}", f"{ordered[int(len(ordered) * 0.99) - 1] * 1000:.0f}",
                      f"{run.client_cpu / run.devices * 1000:.1f}", f"{run.server_cpu / run.devices * 1000:.1f}")
    Console(width=150).print(table)
    concurrent = [r.rate for r in runs[1:]]
    print(f"concurrent / sequential rate: {statistics.median(concurrent) / runs[0].rate:.1f}x")


if __name__ == "__main__":
    main()
