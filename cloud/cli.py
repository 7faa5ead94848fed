"""``edgeferry cloud``: the local IoT Core rig (broker up/down/status, certificates) and the cloud side."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cloud import query
from cloud.audit.cli import register_audit
from cloud.cost.cli import register_cost
from cloud.export.cli import register_export
from cloud.processors import cli as processors_cli
from cloud.rig import Rig, RigError
from cloud.rules import runner_cli


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="cloud_command", metavar="COMMAND", required=True)

    up = sub.add_parser("up", help="start the local broker (Mosquitto, mTLS, per-thing ACLs)")
    _rig_dir(up)
    up.add_argument("--port", type=int, default=None,
                    help="TLS port (default: the last one used in DIR, else a free one)")
    up.set_defaults(func=_up)

    down = sub.add_parser("down", help="stop the local broker")
    _rig_dir(down)
    down.set_defaults(func=_down)

    status = sub.add_parser("status", help="is the broker running, on which port, with which CA")
    _rig_dir(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)

    issue = sub.add_parser("issue-cert", help="issue a device certificate into an identity directory")
    _rig_dir(issue)
    issue.add_argument("--thing", required=True, help="thing name: the certificate CN and MQTT username")
    issue.add_argument("--out", type=Path, default=None,
                       help="identity directory (default: DIR/things/THING)")
    issue.set_defaults(func=_issue_cert)

    runner_cli.register_rules(sub)
    query.register_query(sub)
    register_export(sub)
    register_cost(sub)
    processors_cli.register(sub)
    register_audit(sub)


def _rig_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, required=True, metavar="DIR", help="the rig's directory")


def _fail(exc: RigError) -> int:
    print(f"edgeferry: error: {exc}", file=sys.stderr)
    return 1


def _up(args: argparse.Namespace) -> int:
    try:
        rig = Rig(args.dir, args.port).start()
    except RigError as exc:
        return _fail(exc)
    print(f"broker listening on mqtts://{rig.host}:{rig.port} (CA {rig.ca_path}, "
          f"cloud identity {rig.cloud_identity.directory})")
    return 0


def _down(args: argparse.Namespace) -> int:
    rig = Rig(args.dir)
    was_running = rig.is_running()
    rig.stop()
    print("broker stopped" if was_running else "broker was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = Rig(args.dir).status()
    if args.json:
        print(json.dumps(state, indent=2))
    elif state["running"]:
        print(f"running: mqtts://{state['host']}:{state['port']} pid {state['pid']} (CA {state['ca']})")
    else:
        print(f"not running ({state['dir']})")
    return 0 if state["running"] else 3


def _issue_cert(args: argparse.Namespace) -> int:
    rig = Rig(args.dir)
    out: Path = args.out or rig.directory / "things" / args.thing
    try:
        rig.issue_identity(args.thing, out)
    except RigError as exc:
        return _fail(exc)
    print(out)
    return 0
