"""What names a deployment: the stack, its account and region, and the template being built.

Account, region and stack name come from the command line or the rules file's ``aws:`` block;
a missing one is an :class:`~cloud.export_aws.ExportError` naming the flag, never a placeholder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cloud.export_aws import ExportError, required_settings
from cloud.rules.rulesfile import RulesFile


@dataclass(frozen=True, slots=True)
class Stack:
    """One deployment's names; ARNs and the buckets' globally unique names derive from them."""

    name: str
    account: str
    region: str
    audit_retention_days: int

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if regional else ''}:{self.account}:{resource}"

    @property
    def lake_bucket(self) -> str:
        return f"{self.name}-lake-{self.account}-{self.region}"

    @property
    def audit_bucket(self) -> str:
        return f"{self.name}-audit-{self.account}-{self.region}"

    @property
    def glue_database(self) -> str:
        """Glue names take lower-case letters, digits and underscores."""
        return f"{self.name.replace('-', '_')}_lake"


def stack_settings(rules: RulesFile, *, account: str | None, region: str | None, name: str | None) -> Stack:
    """The deployment's names from the arguments, else from the rules file's ``aws:`` block."""
    given = required_settings(account=(account, rules.aws.account_id), region=(region, rules.aws.region),
                              name=(name, rules.aws.stack_name))
    for flag, pattern in (("account", r"\d{12}"), ("region", r"[a-z]{2}(-[a-z]+)+-\d"), ("name", r"[a-z][a-z0-9-]{0,24}")):
        if not re.fullmatch(pattern, given[flag]):
            raise ExportError(f"--{flag} {given[flag]!r} does not match {pattern}")
    return Stack(given["name"], given["account"], given["region"], rules.aws.audit_retention_days)


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id (letters and digits) from name parts: ``rows``, ``Lambda`` ->
    ``RowsLambda``."""
    words = [w for part in parts for w in re.split(r"[^A-Za-z0-9]+", part) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)


@dataclass
class Template:
    """A CloudFormation template being built; a resource added twice under one id is kept once."""

    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def add(self, logical: str, kind: str, properties: dict[str, Any], **attributes: Any) -> str:
        """Add a resource (``attributes``: DependsOn, DeletionPolicy...); return its logical id."""
        resource = {"Type": kind, "Properties": properties, **attributes}
        existing = self.resources.setdefault(logical, resource)
        if existing != resource:
            raise ExportError(f"two different resources would be called {logical}")
        return logical

    def output(self, logical: str, value: Any, description: str) -> None:
        self.outputs[logical] = {"Description": description, "Value": value}

    def document(self) -> dict[str, Any]:
        return {"AWSTemplateFormatVersion": "2010-09-09", "Description": self.description,
                "Parameters": self.parameters, "Resources": self.resources, "Outputs": self.outputs}


def get_arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}
