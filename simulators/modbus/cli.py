"""``edgeferry sim modbus``: serve a profile over Modbus until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
import termios
from typing import TYPE_CHECKING, Any

import yaml

from edge_agent.errors import EdgeferryError
from edge_agent.units import parse_duration
from simulators.modbus.faults import parse_faults
from simulators.profiles import PROFILES

if TYPE_CHECKING:
    from simulators.modbus.server import ModbusSimulator


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=PROFILES, default="pump-station")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5020, help="TCP port (default 5020)")
    parser.add_argument("--unit", type=int, default=1, help="Modbus unit id (default 1)")
    parser.add_argument("--points", type=int, default=None,
                        help="pump-station: serve at least this many points (default: 4 pumps)")
    parser.add_argument("--framer", choices=["socket", "rtu"], default="socket",
                        help="rtu: RTU frames over TCP, as serial-to-Ethernet gateways send them")
    parser.add_argument("--serial", metavar="DEVICE", default=None,
                        help="serve RTU on this serial port instead of TCP")
    parser.add_argument("--baudrate", type=int, default=19200)
    parser.add_argument("--parity", choices=["N", "E", "O"], default="E",
                        help="serial parity (default E, as the Modbus serial line spec says)")
    parser.add_argument("--update-interval", type=parse_duration, default=1.0,
                        help="how often values change (default 1s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault", action="append", default=[], metavar="KIND:ARGS",
                        help="exception:ADDR[:CODE] (registers), timeout:P, drop:SECONDS, stuck:ADDR (repeatable)")
    parser.add_argument("--print-map", action="store_true",
                        help="print the register map and exit")
    parser.add_argument("--print-config", action="store_true",
                        help="print an agent device config (YAML) that polls this simulator, and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulators.modbus.server import ModbusSimulator

    try:
        faults = parse_faults(args.fault)
    except ValueError as exc:
        raise EdgeferryError(str(exc)) from None
    if not 0 <= args.unit <= 247:
        raise EdgeferryError("--unit must be within 0..247")
    if args.points is not None and args.points < 1:
        raise EdgeferryError("--points must be positive")
    try:
        simulator = ModbusSimulator(args.profile, host=args.host, port=args.port, unit=args.unit,
                                    points=args.points, faults=faults, update_interval=args.update_interval,
                                    seed=args.seed, framer=args.framer, serial_port=args.serial,
                                    baudrate=args.baudrate, parity=args.parity)
    except ValueError as exc:
        raise EdgeferryError(str(exc)) from None
    if args.print_map:
        for e in simulator.entries:
            print(f"{e.table:<16} {e.address:>5}  {e.dtype:<8} {e.signal.point_name:<28} "
                  f"{e.signal.unit or '':<6} scale={e.scale:g} word_order={e.word_order}")
        return 0
    if args.print_config:
        print(yaml.safe_dump({"devices": [_device_config(simulator, args)]}, sort_keys=False), end="")
        return 0
    try:
        asyncio.run(_serve(simulator))
    except (OSError, RuntimeError, termios.error) as exc:
        where = args.serial or f"{args.host}:{args.port}"
        raise EdgeferryError(f"cannot serve Modbus on {where}: {exc}") from None
    return 0


def _device_config(simulator: ModbusSimulator, args: argparse.Namespace) -> dict[str, Any]:
    if args.serial:
        return {"type": "modbus_rtu", "name": simulator.profile, "port": args.serial, "unit": args.unit,
                "baudrate": args.baudrate, "parity": args.parity, "points": simulator.point_configs()}
    return simulator.device_config(name=simulator.profile)


async def _serve(simulator: ModbusSimulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with simulator:
        where = simulator.serial_port or f"{simulator.host}:{simulator.port}"
        print(f"serving {simulator.profile} ({len(simulator.entries)} points) on {where}, unit "
              f"{simulator.unit}", flush=True)
        await stop.wait()
