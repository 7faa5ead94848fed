"""``edgeferry cloud rules run``: serve a rules file on an MQTT broker until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path

from cloud.rules.mqtt_attach import AttachError, MqttSettings
from cloud.rules.rulesfile import RulesFileError, load_rules, print_problems
from cloud.rules.runner import RulesRunner, StartError

logger = logging.getLogger(__name__)


def register_rules(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cloud rules`` and its ``run`` sub-command."""
    rules = sub.add_parser("rules", help="run a rules file against a broker (the local IoT Core rules engine)")
    commands = rules.add_subparsers(dest="cloud_rules_command", metavar="SUBCOMMAND", required=True)
    run = commands.add_parser(
        "run", help="serve basic-ingest and rule topics until interrupted",
        description="Attach to the broker as the privileged cloud identity and run every message through "
                    "the enabled rules: $aws/rules/<rule>/... to that rule only, other topics to every "
                    "rule whose FROM matches. Counters are logged every --status-every seconds.")
    run.add_argument("--rules", type=Path, required=True, help="the rules file (YAML)")
    run.add_argument("--broker-dir", type=Path, metavar="DIR",
                     help="the local rig's directory (edgeferry cloud up --dir DIR): port, CA and cloud identity")
    run.add_argument("--host", default="127.0.0.1", help="broker host (without --broker-dir)")
    run.add_argument("--port", type=int, default=8883, help="broker TLS port (without --broker-dir)")
    run.add_argument("--ca", type=Path, help="CA certificate that signed the broker's certificate")
    run.add_argument("--cert", type=Path, help="client certificate")
    run.add_argument("--key", type=Path, help="client private key")
    run.add_argument("--client-id", default="edgeferry-rules-runner")
    run.add_argument("--data", type=Path, default=None, help="embedded stores directory (default: the file's dataDir)")
    run.add_argument("--status-every", type=float, default=30.0, metavar="S")
    run.set_defaults(func=run_rules)


def _settings(args: argparse.Namespace) -> MqttSettings:
    if args.broker_dir is not None:
        settings = MqttSettings.from_rig(args.broker_dir)
        return MqttSettings(settings.host, settings.port, settings.ca, settings.cert, settings.key,
                            client_id=args.client_id)
    missing = [f"--{name}" for name in ("ca", "cert", "key") if getattr(args, name) is None]
    if missing:
        raise AttachError(f"give --broker-dir, or --host/--port with {', '.join(missing)}")
    for path in (args.ca, args.cert, args.key):
        if not path.is_file():
            raise AttachError(f"no such file: {path}")
    return MqttSettings(args.host, args.port, args.ca, args.cert, args.key, client_id=args.client_id)


def run_rules(args: argparse.Namespace) -> int:
    try:
        rules = load_rules(args.rules)
        settings = _settings(args)
        counters = asyncio.run(_serve(RulesRunner(rules, mqtt=settings, data_dir=args.data), args.status_every))
    except RulesFileError as exc:
        return print_problems(exc)
    except (AttachError, StartError) as exc:
        print(f"edgeferry: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(counters, sort_keys=True))
    return 0


async def _serve(runner: RulesRunner, status_every: float) -> dict[str, int]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with runner:
        logger.info("rules_runner_serving", extra={"rules": ",".join(runner.rules)})
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), status_every)
            logger.info("rules_runner_status", extra=runner.snapshot())
    return runner.snapshot()
