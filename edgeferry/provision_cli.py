"""``edgeferry provision``: provision a device by claim, run the local service, manage the registry.

``edgeferry provision --claim-cert C --claim-key K --template T --param SerialNumber=1 --out DIR``
(or ``provision device ...``) provisions by hand. The other sub-commands work on a rig directory:
``serve``, ``issue-claim``, ``list``, ``describe``, ``revoke``; ``export-aws`` writes the AWS
artifacts.

The command lives in the application layer because those sub-commands compose the provisioning
service with the local IoT Core (``cloud.rig``), which ``provisioning`` must not import.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from edge_agent.errors import EdgeferryError
from edge_agent.identity import ClaimConfig

if TYPE_CHECKING:
    from cloud.rig import Rig

ENDPOINT_FILE = "endpoint.json"
"""Written by ``serve`` into ``D/provisioning/``: where the running endpoint listens."""


def register(parser: argparse.ArgumentParser) -> None:
    _device_options(parser)
    parser.set_defaults(func=_device)
    sub = parser.add_subparsers(dest="provision_command", metavar="SUBCOMMAND")

    device = sub.add_parser("device", help="provision this device by claim (the default)")
    _device_options(device)
    device.set_defaults(func=_device)

    serve = sub.add_parser("serve", help="run the local provisioning endpoint for a rig")
    _rig_option(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="listen port (default: a free one)")
    serve.add_argument("--template", type=Path, action="append", default=[],
                       help="provisioning template JSON (AWS format; repeatable; default: the shipped one)")
    serve.add_argument("--allow-serials", type=Path,
                       help="pre-provisioning hook: only SerialNumber values listed in this file (one a line)")
    serve.add_argument("--refuse-registered-serials", action="store_true",
                       help="pre-provisioning hook: refuse a SerialNumber a registered thing already has")
    serve.add_argument("--rate", type=float, help="requests per second before answering 429 Throttling")
    serve.set_defaults(func=_serve)

    claim = sub.add_parser("issue-claim", help="issue a claim (bootstrap) certificate for devices")
    _rig_option(claim)
    claim.add_argument("--name", required=True, help="claim certificate CN, e.g. the factory line")
    claim.add_argument("--out", type=Path, required=True)
    claim.set_defaults(func=_issue_claim)

    listing = sub.add_parser("list", help="list things and their certificates")
    _rig_option(listing)
    listing.set_defaults(func=_list)

    describe = sub.add_parser("describe", help="one thing as JSON")
    _rig_option(describe)
    describe.add_argument("--thing", required=True)
    describe.set_defaults(func=_describe)

    revoke = sub.add_parser("revoke", help="revoke a thing's certificates and cut it off the broker")
    _rig_option(revoke)
    revoke.add_argument("--thing", required=True)
    revoke.set_defaults(func=_revoke)

    export = sub.add_parser("export-aws", help="write the provisioning template and IoT policies for AWS")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--template", type=Path, help="template JSON (default: the shipped one)")
    export.add_argument("--region", default="*")
    export.add_argument("--account", default="*")
    export.add_argument("--rule", default="edgeferry_telemetry", help="basic-ingest rule name")
    export.add_argument("--alarm-rule", default="edgeferry_alarms", help="basic-ingest rule name for alarms")
    export.set_defaults(func=_export_aws)

    check = sub.add_parser("check-policy", help="whether an IoT policy allows an action, and which statement "
                           "decided (exit 0 allowed, 3 denied)")
    check.add_argument("--policy", type=Path, action="append", default=[],
                       help="IoT policy JSON (repeatable; default: the device policy export-aws writes)")
    check.add_argument("--thing", required=True, help="the thing the certificate is attached to")
    check.add_argument("--client-id", help="MQTT client id (default: the thing name)")
    check.add_argument("--action", choices=["connect", "publish", "subscribe", "receive"], default="publish")
    check.add_argument("--topic", help="topic (publish, receive) or topic filter (subscribe)")
    check.add_argument("--region", default="local", help="the connection's region (as in the ARNs)")
    check.add_argument("--account", default="000000000000", help="the connection's account (as in the ARNs)")
    check.set_defaults(func=_check_policy)


def _device_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--claim-cert", type=Path, help="claim certificate (PEM)")
    parser.add_argument("--claim-key", type=Path, help="claim private key (PEM)")
    parser.add_argument("--template", help="provisioning template name")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="template parameter (repeatable), e.g. SerialNumber=SN-1")
    parser.add_argument("--endpoint", help="IoT Core endpoint or the local service host")
    parser.add_argument("--port", type=int, help="port (default 8883, or the local service's)")
    parser.add_argument("--ca", type=Path, help="root CA of the endpoint")
    parser.add_argument("--dir", type=Path, help="a rig directory: endpoint, port and CA from its service")
    parser.add_argument("--out", type=Path, help="identity store directory to write")
    parser.add_argument("--method", choices=["csr", "keys"], default="csr",
                        help="csr: the key is made here (default); keys: IoT Core makes it")
    parser.add_argument("--client-id", help="MQTT client id (default: the SerialNumber parameter)")


def _rig_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, required=True, help="rig directory")


def _device(args: argparse.Namespace) -> int:
    from edge_agent.identity import IdentityConfig
    from provisioning.device import ensure_identity

    missing = [f"--{n.replace('_', '-')}" for n in ("claim_cert", "claim_key", "template", "out")
               if getattr(args, n) is None]
    if missing:
        raise EdgeferryError(f"provision: missing {', '.join(missing)} (see edgeferry provision --help)")
    parameters = _parameters(args.param)
    endpoint, port, ca = _endpoint(args)
    claim = ClaimConfig(certificate=args.claim_cert, private_key=args.claim_key, template=args.template,
                        parameters=parameters, method=args.method)
    config = IdentityConfig(dir=args.out, ca=ca, claim=claim)
    client_id = args.client_id or parameters.get("SerialNumber") or "edgeferry-device"
    identity = asyncio.run(ensure_identity(config, endpoint, port, client_id))
    print(json.dumps({"thing_name": identity.thing_name, "identity": str(args.out),
                      "certificate": str(identity.cert_path)}))
    return 0


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise EdgeferryError(f"provision: --param {pair!r} is not KEY=VALUE")
        parameters[key] = value
    return parameters


def _endpoint(args: argparse.Namespace) -> tuple[str, int, Path | None]:
    if args.dir is not None:
        state = args.dir / "provisioning" / ENDPOINT_FILE
        try:
            running = json.loads(state.read_text())
        except (OSError, ValueError):
            raise EdgeferryError(f"provision: no provisioning service is serving {args.dir} "
                                 "(start it with edgeferry provision serve --dir D)") from None
        return (args.endpoint or running["host"], args.port or int(running["port"]),
                args.ca or Path(running["ca"]))
    if args.endpoint is None:
        raise EdgeferryError("provision: give --endpoint (and --ca) or --dir of a rig")
    return args.endpoint, args.port or 8883, args.ca


def _open_rig(directory: Path) -> Rig:
    from cloud.rig import Rig

    if not (directory / "ca").exists():
        raise EdgeferryError(f"provision: {directory} is not a rig directory (edgeferry cloud up --dir D)")
    return Rig(directory)


def _serve(args: argparse.Namespace) -> int:
    from provisioning.service.api import TemplateEntry
    from provisioning.service.hooks import (
        PreProvisioningHook,
        RefuseRegisteredSerials,
        SerialAllowList,
        every,
    )
    from provisioning.service.service import ProvisioningService, open_registry, state_dir
    from provisioning.service.templates import DEFAULT_TEMPLATE_PATH, TemplateError, load_template

    rig = _open_rig(args.dir)
    if not rig.is_running():
        raise EdgeferryError(f"provision: the rig in {args.dir} is not running (edgeferry cloud up)")
    hooks: list[PreProvisioningHook] = []
    if args.allow_serials is not None:
        try:
            hooks.append(SerialAllowList(line.strip() for line in args.allow_serials.read_text().splitlines()
                                         if line.strip()))
        except OSError as exc:
            raise EdgeferryError(f"provision: {args.allow_serials}: {exc.strerror}") from None
    if args.refuse_registered_serials:
        hooks.append(RefuseRegisteredSerials(open_registry(rig)))
    hook = every(*hooks) if hooks else None
    try:
        templates = {t.name: TemplateEntry(t, hook) for t in
                     (load_template(p) for p in (args.template or [DEFAULT_TEMPLATE_PATH]))}
    except TemplateError as exc:
        raise EdgeferryError(f"provision: {exc}") from None

    async def run() -> None:
        async with ProvisioningService(rig, templates, host=args.host, port=args.port,
                                       requests_per_second=args.rate) as service:
            state = state_dir(rig) / ENDPOINT_FILE
            state.write_text(json.dumps({"host": service.host, "port": service.port,
                                         "ca": str(rig.ca_path)}) + "\n")
            print(f"provisioning endpoint on {service.host}:{service.port} "
                  f"(templates: {', '.join(templates)})", flush=True)
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            try:
                await stop.wait()
            finally:
                state.unlink(missing_ok=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _issue_claim(args: argparse.Namespace) -> int:
    from provisioning.service.service import issue_claim

    directory = issue_claim(_open_rig(args.dir), args.name, args.out)
    print(json.dumps({"claim_cert": str(directory / "claim.cert.pem"),
                      "claim_key": str(directory / "claim.key.pem"), "ca": str(directory / "root-ca.pem")}))
    return 0


def _list(args: argparse.Namespace) -> int:
    from provisioning.service.service import open_registry

    registry = open_registry(_open_rig(args.dir))
    for thing in registry.things():
        statuses = ",".join(f"{c.certificate_id[:12]}:{c.status}" for c in thing.certificates) or "-"
        print(f"{thing.name}\t{','.join(thing.groups) or '-'}\t{statuses}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from provisioning.service.service import open_registry

    thing = open_registry(_open_rig(args.dir)).thing(args.thing)
    if thing is None:
        raise EdgeferryError(f"provision: no thing named {args.thing!r}")
    print(json.dumps(asdict(thing), indent=2))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from provisioning.service.lifecycle import revoke_thing
    from provisioning.service.service import open_registry

    rig = _open_rig(args.dir)
    revoked = asyncio.run(revoke_thing(rig, open_registry(rig), args.thing))
    print(json.dumps({"thing": args.thing, "revoked": revoked}))
    return 0


def _export_aws(args: argparse.Namespace) -> int:
    from provisioning.aws.export import export_aws
    from provisioning.service.templates import DEFAULT_TEMPLATE_PATH, TemplateError, load_template

    try:
        template = load_template(args.template or DEFAULT_TEMPLATE_PATH)
    except TemplateError as exc:
        raise EdgeferryError(f"provision: {exc}") from None
    for path in export_aws(template, args.out, region=args.region, account=args.account, rule=args.rule,
                           alarm_rule=args.alarm_rule):
        print(path)
    return 0


def _check_policy(args: argparse.Namespace) -> int:
    from provisioning.aws.export import DEVICE_POLICY_NAME, device_policy
    from provisioning.policy import PolicyError, check

    client_id = args.client_id or args.thing
    if args.action != "connect" and not args.topic:
        raise EdgeferryError(f"provision: check-policy --action {args.action} needs --topic")
    policies = {DEVICE_POLICY_NAME: device_policy()} if not args.policy else {
        path.name: _json_file(path) for path in args.policy}
    try:
        decision = check(policies, f"iot:{args.action.capitalize()}",
                         client_id if args.action == "connect" else args.topic, client_id=client_id,
                         thing=args.thing if client_id == args.thing else None,
                         prefix=f"arn:aws:iot:{args.region}:{args.account}:")
    except PolicyError as exc:
        raise EdgeferryError(f"provision: {exc}") from None
    print(decision.describe())
    return 0 if decision.allowed else 3


def _json_file(path: Path) -> dict[str, object]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EdgeferryError(f"provision: {path}: {exc}") from None
    if not isinstance(document, dict):
        raise EdgeferryError(f"provision: {path}: a policy document is a JSON object")
    return document

