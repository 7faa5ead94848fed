"""``edgeferry``: one command, a sub-command per package.

Sub-command modules are imported only when used, so ``edgeferry --help`` stays instant.
Each module exposes ``register(parser)``, which adds its arguments and sets ``func`` to a
callable taking the parsed namespace and returning the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from edge_agent.errors import ConfigError, EdgeferryError
from edgeferry.logs import configure_logging

COMMANDS: dict[str, tuple[str, str]] = {
    "agent": ("edgeferry.agent_cli", "run or check an edge agent"),
    "spool": ("edge_agent.spool.cli", "inspect a spool"),
    "sim": ("simulators.cli", "run Modbus / OPC-UA device simulators and simulated fleets"),
    "provision": ("edgeferry.provision_cli", "fleet provisioning: provision a device, manage the registry"),
    "cloud": ("cloud.cli", "the local IoT Core rig and the cloud side (broker, rules runner, stores)"),
    "rules": ("cloud.rules.cli", "AWS IoT SQL: evaluate and export rules"),
    "component": ("components.cli", "build the Greengrass v2 component"),
    "image": ("edgeferry.image_cli", "build the offline install archive for a standalone device"),
    "demo": ("edgeferry.demo", "run the whole data path end to end on embedded defaults"),
    "bench": ("edgeferry.bench", "run the benchmarks in bench/"),
}

Handler = Callable[[argparse.Namespace], int]


def build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeferry",
        description="Carry industrial telemetry from fieldbus devices to AWS IoT, durably.",
    )
    parser.add_argument("--log-level", default=os.environ.get("EDGEFERRY_LOG_LEVEL", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-format", default=os.environ.get("EDGEFERRY_LOG_FORMAT", "text"),
                        choices=["text", "json"], help="json: one JSON object per log line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).register(child)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if a in COMMANDS), None)
    try:
        parser = build_parser(command)
        args = parser.parse_args(args_list)
        configure_logging(args.log_level, args.log_format)
        handler: Handler | None = getattr(args, "func", None)
        if handler is None:
            parser.parse_args([*args_list, "--help"])
            return 2
        return handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{exc.source}: {problem}", file=sys.stderr)
        print(f"edgeferry: {len(exc.problems)} configuration error(s) in {exc.source}",
              file=sys.stderr)
        return 2
    except EdgeferryError as exc:
        print(f"edgeferry: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        print(f"edgeferry: error: this command needs {exc.name}, which this install lacks "
              "(the cloud side is an extra: pip install 'edgeferry[cloud]')", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("EDGEFERRY_DEBUG"):
            raise
        print(f"edgeferry: internal error: {type(exc).__name__}: {exc} "
              "(set EDGEFERRY_DEBUG=1 for the traceback)", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
