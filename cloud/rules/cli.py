"""``edgeferry rules``: evaluate AWS IoT SQL locally (and export rules to AWS).

``edgeferry rules eval --sql S --topic T --payload JSON`` prints the rule's output as one line of JSON
and exits 0. When the rule does not fire (topic filter or WHERE does not match) it prints nothing on
stdout, a one-line note on stderr, and exits 1. A SQL syntax error is one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from cloud import export_aws
from cloud.rules.actions.http import register_confirm_destination
from cloud.rules.errors import RulesError
from cloud.rules.evaluate import SQL_VERSIONS
from cloud.rules.rule import compile_rule

EXIT_NOT_FIRED = 1
EXIT_BAD_RULE = 2


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``rules`` sub-commands."""
    sub = parser.add_subparsers(dest="rules_command", metavar="SUBCOMMAND", required=True)
    _register_eval(sub)
    # Sub-commands owned by the rule actions register here, one line each.
    export_aws.register_export_aws(sub)
    register_confirm_destination(sub)


def _register_eval(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = sub.add_parser(
        "eval", help="evaluate a rule's SQL against one message",
        description="Evaluate AWS IoT SQL against one message and print the output as JSON. "
                    "Exit 0: the rule fired; 1: the topic filter or WHERE did not match (nothing on "
                    "stdout); 2: the SQL is invalid.")
    evaluate.add_argument("--sql", required=True, help="the rule's SQL statement")
    evaluate.add_argument("--topic", required=True,
                          help="the message topic (a $aws/rules/<rule>/ prefix is allowed)")
    payload = evaluate.add_mutually_exclusive_group(required=True)
    payload.add_argument("--payload", help="the payload text (JSON, or any text for a non-JSON payload)")
    payload.add_argument("--payload-file", type=Path, help="read the payload bytes from a file ('-': stdin)")
    evaluate.add_argument("--clientid", help="the MQTT client id clientid() returns (default: n/a)")
    evaluate.add_argument("--timestamp", type=int, help="message time in ms since the epoch (default: now)")
    evaluate.add_argument("--principal", help="what principal() returns")
    evaluate.add_argument("--sql-version", default="2016-03-23", choices=SQL_VERSIONS,
                          help="awsIotSqlVersion of the rule (default: 2016-03-23)")
    evaluate.set_defaults(func=run_eval)


def _read_payload(args: argparse.Namespace) -> bytes:
    if args.payload is not None:
        return str(args.payload).encode("utf-8")
    path: Path = args.payload_file
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RulesError(f"cannot read payload file {path}: {exc.strerror}") from None


def run_eval(args: argparse.Namespace) -> int:
    """Handler of ``rules eval``."""
    try:
        rule = compile_rule(args.sql, sql_version=args.sql_version)
        payload = _read_payload(args)
    except RulesError as exc:
        print(f"edgeferry: error: {exc}", file=sys.stderr)
        return EXIT_BAD_RULE
    result = rule.run(args.topic, payload, clientid=args.clientid, timestamp=args.timestamp,
                      principal=args.principal)
    if result is None:
        reason = "topic filter" if not rule.matches_topic(args.topic) else "WHERE clause"
        print(f"edgeferry: the rule did not fire (its {reason} does not match)", file=sys.stderr)
        return EXIT_NOT_FIRED
    output = result.output
    if isinstance(output, bytes):  # binary payload through SELECT *: base64 in JSON, as AWS does
        output = base64.b64encode(output).decode("ascii")
    print(json.dumps(output, ensure_ascii=False))
    return 0
