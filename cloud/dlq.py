"""The error action's message, in AWS IoT's format (rule-error-handling.html, "Error action message
format"): one message per rule and incoming message, listing every action that failed."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ActionFailure:
    """One failed action: AWS's ``failedAction`` (e.g. ``KinesisAction``), ``failedResource``
    (the stream, table, bucket...) and ``errorMessage``."""

    failed_action: str
    failed_resource: str
    error_message: str

    def to_json(self) -> dict[str, str]:
        return {"failedAction": self.failed_action, "failedResource": self.failed_resource,
                "errorMessage": self.error_message}


@dataclass(frozen=True, slots=True)
class ErrorActionMessage:
    """What the error action receives when one or more actions of a rule fail."""

    rule_name: str
    topic: str
    client_id: str | None
    original_payload: bytes
    failures: Sequence[ActionFailure]
    trace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    """Stands in for ``cloudwatchTraceId``: a unique id of this failure in the runner's logs."""

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleName": self.rule_name,
            "topic": self.topic,
            "cloudwatchTraceId": self.trace_id,
            "clientId": self.client_id or "",
            "base64OriginalPayload": base64.b64encode(self.original_payload).decode(),
            "failures": [f.to_json() for f in self.failures],
        }
