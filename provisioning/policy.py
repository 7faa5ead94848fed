"""AWS IoT policy documents, evaluated as IoT Core evaluates them (iam-policies.md, iot-policy-actions.md,
iot-policy-variables.md).

A request is an action (``iot:Connect``, ``iot:Publish``, ``iot:Subscribe``, ``iot:Receive``) on a
resource ARN: ``client/<clientId>``, ``topic/<topic>`` (publish, receive) or
``topicfilter/<filter>`` (subscribe). In a policy's resources ``*`` matches any run of characters
(``/`` included) and ``?`` one character; MQTT's ``+`` and ``#`` are literal. Policy variables are
substituted first: ``${iot:Connection.Thing.ThingName}`` is the client id when a thing of that
name is attached to the certificate, ``${iot:ClientId}`` the client id; a statement whose variable
cannot be resolved does not apply. An explicit Deny wins; nothing allowed means denied.

The same statements drive the rig's broker (compiled by :mod:`cloud.rig.rules`, evaluated by its
Mosquitto plugin) and ``edgeferry provision check-policy``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

THING_VARIABLE = "${iot:Connection.Thing.ThingName}"
CLIENT_VARIABLE = "${iot:ClientId}"
ACTIONS = ("iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive")
RESOURCE_KIND = {"iot:Connect": "client", "iot:Publish": "topic", "iot:Receive": "topic",
                 "iot:Subscribe": "topicfilter"}
RESOURCE_PREFIX = "arn:aws:iot:local:000000000000:"
"""The ARN prefix of the local rig's resources (a policy's ``*`` region and account match it)."""
ATTACHED_CONDITION = {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
Effect = Literal["Allow", "Deny"]


class PolicyError(ValueError):
    """A policy document this evaluator cannot read faithfully (one line saying which part)."""


@dataclass(frozen=True, slots=True)
class Statement:
    """One (effect, action, resource) of a policy; ``index`` is its statement's place in the document."""

    policy: str
    index: int
    effect: Effect
    action: str
    resource: str
    needs_thing: bool
    """The statement has the condition ``iot:Connection.Thing.IsAttached`` true."""

    def describe(self) -> str:
        return f"{self.policy} Statement[{self.index}] {self.effect} {self.action} {self.resource}"


@dataclass(frozen=True, slots=True)
class Principal:
    """A certificate as the broker sees it: its certificateId (SHA-256 of the DER), status, the
    policies attached to it and the things it is attached to."""

    certificate_id: str
    policies: tuple[str, ...]
    things: tuple[str, ...] = ()
    status: str = "ACTIVE"
    limited: bool = True
    """Subject to the connect and publish rate limits (devices); False for the rig's own services."""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    statement: Statement | None
    """The statement that decided: the Deny that refused, or the first Allow; None: nothing matched."""

    def describe(self) -> str:
        verdict = "allowed" if self.allowed else "denied"
        reason = self.statement.describe() if self.statement else "no statement allows it (implicit deny)"
        return f"{verdict}: {reason}"


def statements(name: str, document: Mapping[str, Any]) -> list[Statement]:
    """The document's statements, one per action and resource; :class:`PolicyError` for what IoT
    policies allow but this evaluator does not model (NotAction, NotResource, other conditions)."""
    found = document.get("Statement")
    if isinstance(found, dict):
        found = [found]
    if not isinstance(found, list):
        raise PolicyError(f"policy {name}: Statement must be an object or a list")
    result = []
    for index, statement in enumerate(found):
        if not isinstance(statement, dict):
            raise PolicyError(f"policy {name}: Statement[{index}] must be an object")
        unknown = set(statement) - {"Effect", "Action", "Resource", "Condition", "Sid"}
        if unknown:
            raise PolicyError(f"policy {name}: Statement[{index}]: {sorted(unknown)[0]} is not supported")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"policy {name}: Statement[{index}].Effect must be Allow or Deny")
        condition = statement.get("Condition")
        if condition not in (None, ATTACHED_CONDITION):
            raise PolicyError(f"policy {name}: Statement[{index}].Condition: only "
                              "iot:Connection.Thing.IsAttached true is supported")
        for action in _strings(statement.get("Action"), f"policy {name}: Statement[{index}].Action"):
            if action not in (*ACTIONS, "iot:*", "*"):
                raise PolicyError(f"policy {name}: Statement[{index}]: action {action} is not supported")
            for resource in _strings(statement.get("Resource"), f"policy {name}: Statement[{index}].Resource"):
                result.append(Statement(name, index, effect, action, resource, condition is not None))
    return result


def _strings(value: object, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise PolicyError(f"{where} must be a string or a list of strings")
    return list(items)


def resource_arn(prefix: str, action: str, name: str) -> str:
    """The ARN IoT Core checks for ``action`` on a client id, topic or topic filter."""
    return f"{prefix}{RESOURCE_KIND[action]}/{name}"


def _expand(resource: str, thing: str | None, client_id: str) -> str | None:
    if THING_VARIABLE in resource:
        if thing is None:
            return None
        resource = resource.replace(THING_VARIABLE, thing)
    resource = resource.replace(CLIENT_VARIABLE, client_id)
    return None if "${" in resource else resource


def _pattern(resource: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in resource)
    return re.compile("".join(parts), re.DOTALL)


def evaluate(policy_statements: Iterable[Statement], action: str, arn: str, *, client_id: str,
             thing: str | None) -> Decision:
    """Whether ``action`` on ``arn`` is allowed for a connection with ``client_id`` (``thing``: the
    attached thing of that name, or None)."""
    allowed: Statement | None = None
    for statement in policy_statements:
        if statement.action not in (action, "iot:*", "*"):
            continue
        if statement.needs_thing and thing is None:
            continue
        resource = _expand(statement.resource, thing, client_id)
        if resource is None or not _pattern(resource).fullmatch(arn):
            continue
        if statement.effect == "Deny":
            return Decision(False, statement)
        allowed = allowed or statement
    return Decision(allowed is not None, allowed)


def check(policies: Mapping[str, Mapping[str, Any]], action: str, name: str, *, client_id: str,
          thing: str | None, prefix: str = RESOURCE_PREFIX) -> Decision:
    """Evaluate ``action`` on a client id, topic or topic filter ``name`` against every policy
    (as when all are attached to the certificate)."""
    found = [s for policy, document in policies.items() for s in statements(policy, document)]
    return evaluate(found, action, resource_arn(prefix, action, name), client_id=client_id, thing=thing)
