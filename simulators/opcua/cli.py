"""``edgeferry sim opcua``: serve a profile over OPC-UA until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from edge_agent.errors import EdgeferryError
from edge_agent.units import parse_duration
from simulators.profiles import PROFILES


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=PROFILES, default="pump-station")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4840, help="TCP port (default 4840; 0: any free port)")
    parser.add_argument("--points", type=int, default=None,
                        help="pump-station: serve at least this many points (default: 4 pumps)")
    parser.add_argument("--security", choices=["none", "sign", "signandencrypt"], default="none",
                        help="sign / signandencrypt: with --policy and a self-signed certificate")
    parser.add_argument("--policy", choices=["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"],
                        default="Basic256Sha256", help="security policy with --security (default Basic256Sha256)")
    parser.add_argument("--cert-dir", type=Path, default=None,
                        help="where to write the server certificate (default: a temporary directory)")
    parser.add_argument("--user", default=None, help="require this user name (with --password)")
    parser.add_argument("--password", default=None)
    parser.add_argument("--update-interval", type=parse_duration, default=1.0,
                        help="how often values change (default 1s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault", action="append", default=[], metavar="KIND:ARGS",
                        help="badstatus:NODE[:CODE], restart:SECONDS[:DOWN] (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulators.opcua.faults import parse_fault
    from simulators.opcua.server import OpcUaSimulator

    try:
        faults = [parse_fault(text) for text in args.fault]
    except ValueError as exc:
        raise EdgeferryError(str(exc)) from None
    if (args.user is None) != (args.password is None):
        raise EdgeferryError("--user and --password go together")
    if args.points is not None and args.points < 1:
        raise EdgeferryError("--points must be positive")
    if not 0 <= args.port < 65536:
        raise EdgeferryError("--port must be within 0..65535")
    users = {args.user: args.password} if args.user is not None else None
    try:
        simulator = OpcUaSimulator(args.profile, args.port, args.points, faults, args.security, users,
                                   host=args.host, update_interval=args.update_interval, seed=args.seed,
                                   cert_dir=args.cert_dir, policy=args.policy)
    except ValueError as exc:
        raise EdgeferryError(str(exc)) from None
    try:
        asyncio.run(_serve(simulator))
    except OSError as exc:
        raise EdgeferryError(f"cannot serve OPC-UA on {args.host}:{args.port}: {exc}") from None
    return 0


async def _serve(simulator: object) -> None:
    from simulators.opcua.server import OpcUaSimulator

    assert isinstance(simulator, OpcUaSimulator)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with simulator:
        cert = f", server certificate {simulator.server_certificate}" if simulator.server_certificate else ""
        print(f"serving {simulator.profile} ({len(simulator.node_ids)} points) on {simulator.endpoint}, "
              f"security {simulator.security}{cert}", flush=True)
        await stop.wait()
