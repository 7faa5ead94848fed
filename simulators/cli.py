"""``edgeferry sim``: device simulators. Each simulator module adds its own sub-command with
``configure(parser)``, which declares its arguments and sets ``func``."""

from __future__ import annotations

import argparse

from simulators.fleet import cli as fleet_cli
from simulators.modbus import cli as modbus_cli
from simulators.opcua import cli as opcua_cli
from simulators.stream_manager import cli as stream_manager_cli


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="simulator", metavar="SIMULATOR", required=True)
    modbus_cli.configure(sub.add_parser(
        "modbus", help="a Modbus/TCP or RTU device serving a pump station or reefer profile",
        description="Serve a simulated Modbus device (pymodbus server) with live signals and faults."))
    opcua_cli.configure(sub.add_parser(
        "opcua", help="an OPC-UA server serving a pump station or reefer profile",
        description="Serve a simulated OPC-UA server (asyncua) with live signals, security and faults."))
    fleet_cli.configure(sub.add_parser(
        "fleet", help="N simulated reefer trailers (real agents) with dead zones and broker storms",
        description="Run a fleet of simulated reefer trailers, each a real edge agent with its own spool, "
                    "certificate and MQTT connection, against the local IoT Core rig; report what was lost."))
    stream_manager_cli.configure(sub.add_parser(
        "stream-manager", help="a local Greengrass Stream Manager for the stream_manager SDK client",
        description="Serve Stream Manager's protocol (the stream_manager SDK's) with streams kept in files, "
                    "so the agent's stream_manager spool runs off a Greengrass device."))
