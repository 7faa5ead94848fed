"""Writes what AWS IoT needs for fleet provisioning by claim, scoped as tightly as IoT policies allow.

- ``provisioning-template.json``: the template body (``aws iot create-provisioning-template
  --template-body file://...``), the same one the local service evaluates;
- ``device-policy.json``: the policy the template attaches; with the policy variable
  ``${iot:Connection.Thing.ThingName}`` a device may connect only as its own thing (client id =
  thing name, certificate attached to it), publish only its own telemetry and alarms (plain and
  through basic ingest) and receive only its own commands (iot-policy-variables, basic-ingest);
- ``claim-policy.json``: the claim certificate's policy, the provisioning topics only
  (provision-wo-cert.md "Provisioning by claim").

In topic ARNs ``*`` is a policy wildcard; MQTT's ``+`` and ``#`` would be literal characters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edge_agent.files import write_atomic
from provisioning import topics
from provisioning.service.templates import ProvisioningTemplate

THING = "${iot:Connection.Thing.ThingName}"
DEVICE_POLICY_NAME = "edgeferry-device"


def _arn(region: str, account: str, kind: str, resource: str) -> str:
    return f"arn:aws:iot:{region}:{account}:{kind}/{resource}"


TELEMETRY_RULE = "edgeferry_telemetry"
ALARM_RULE = "edgeferry_alarms"
"""The agent's default basic-ingest rules (``edge_agent.publish.config``): the policy must allow both."""


def device_policy(*, region: str = "*", account: str = "*", rule: str = TELEMETRY_RULE,
                  alarm_rule: str = ALARM_RULE) -> dict[str, Any]:
    """The device's IoT policy: its own client id, telemetry, alarms and commands."""
    def topic(name: str) -> str:
        return _arn(region, account, "topic", name)

    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect",
             "Resource": _arn(region, account, "client", THING),
             "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
            {"Effect": "Allow", "Action": "iot:Publish",
             "Resource": [topic(f"$aws/rules/{rule}/dt/*/*/{THING}/telemetry"),
                          topic(f"$aws/rules/{alarm_rule}/dt/*/*/{THING}/alarm"),
                          topic(f"dt/*/*/{THING}/telemetry"),
                          topic(f"dt/*/*/{THING}/alarm")]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": _arn(region, account, "topicfilter", f"cmd/{THING}/*")},
            {"Effect": "Allow", "Action": "iot:Receive", "Resource": topic(f"cmd/{THING}/*")},
        ],
    }


def claim_policy(*, template: str, region: str = "*", account: str = "*") -> dict[str, Any]:
    """The claim certificate's IoT policy: the provisioning API of one template, nothing else."""
    requests = [t for fmt in topics.FORMATS for t in (
        f"{topics.CREATE_FROM_CSR_BASE}/{fmt}", f"{topics.CREATE_KEYS_BASE}/{fmt}", topics.register_thing(template, fmt))]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": _arn(region, account, "client", "*")},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
             "Resource": [_arn(region, account, "topic", t) for t in requests]
             + [_arn(region, account, "topic", f"{t}/*") for t in requests]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [_arn(region, account, "topicfilter", f"{t}/*") for t in requests]},
        ],
    }


def export_aws(template: ProvisioningTemplate, out: Path, *, region: str = "*", account: str = "*",
               rule: str = TELEMETRY_RULE, alarm_rule: str = ALARM_RULE) -> list[Path]:
    """Write the three artifacts into ``out``; the paths written."""
    documents = {
        "provisioning-template.json": template.document,
        "device-policy.json": device_policy(region=region, account=account, rule=rule, alarm_rule=alarm_rule),
        "claim-policy.json": claim_policy(region=region, account=account, template=template.name),
    }
    written = []
    for name, document in documents.items():
        write_atomic(out / name, (json.dumps(document, indent=2) + "\n").encode(), 0o644)
        written.append(out / name)
    return written
