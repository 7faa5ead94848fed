"""Topic grants on the broker: one ACL line each, and what every provisioned thing may do.

The local broker's counterpart of the device policy in :mod:`provisioning.aws.export`: a thing
publishes its own telemetry (plain or through basic ingest) and reads its own commands. ``%u``
stands for the client's certificate CN (mosquitto.conf(5), ``pattern``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Access = Literal["read", "write", "readwrite", "deny"]


@dataclass(frozen=True, slots=True)
class TopicGrant:
    """One ACL line: ``access`` to a topic filter (``%u`` allowed in patterns)."""

    access: Access
    topic: str

    def __post_init__(self) -> None:
        if not self.topic or any(c in self.topic for c in " \n\r\t"):
            raise ValueError(f"invalid ACL topic {self.topic!r}")


THING_PATTERNS: tuple[TopicGrant, ...] = (
    TopicGrant("write", "dt/+/+/%u/#"),
    TopicGrant("write", "$aws/rules/+/dt/+/+/%u/#"),
    TopicGrant("read", "cmd/%u/#"),
)
"""What every thing may do: publish its own telemetry (plain or basic ingest), read its commands."""
