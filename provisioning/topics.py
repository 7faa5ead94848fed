"""Fleet provisioning MQTT topics, exactly as AWS names them (fleet-provision-api.md).

Every request exists in two payload formats, ``json`` and ``cbor`` (the topic's last level);
edgeferry's own device client speaks JSON. Replies go to the request topic plus ``/accepted`` or
``/rejected``, in the request's format.
"""

from __future__ import annotations

import re
from typing import Literal

Format = Literal["json", "cbor"]
FORMATS: tuple[Format, ...] = ("json", "cbor")
FORMAT: Format = "json"
CREATE_FROM_CSR_BASE = "$aws/certificates/create-from-csr"
CREATE_KEYS_BASE = "$aws/certificates/create"
CREATE_FROM_CSR = f"{CREATE_FROM_CSR_BASE}/{FORMAT}"
CREATE_KEYS = f"{CREATE_KEYS_BASE}/{FORMAT}"
TEMPLATE_PREFIX = "$aws/provisioning-templates/"
ACCEPTED = "/accepted"
REJECTED = "/rejected"

_REGISTER = re.compile(r"^\$aws/provisioning-templates/([^/+#]+)/provision/(json|cbor)$")
_REGISTER_FILTER = re.compile(r"^\$aws/provisioning-templates/[^/#]+/provision/(json|cbor)$")
"""RegisterThing topics and filters naming only them (any template: ``+``)."""


def register_thing(template: str, fmt: Format = FORMAT) -> str:
    """The RegisterThing request topic for ``template``."""
    return f"{TEMPLATE_PREFIX}{template}/provision/{fmt}"


def template_of(topic: str) -> str | None:
    """The template name in a RegisterThing request topic, or None for any other topic."""
    match = _REGISTER.match(topic)
    return match.group(1) if match else None


def format_of(topic: str) -> Format | None:
    """The payload format of a request topic, or None when ``topic`` is not a request."""
    if not is_request(topic):
        return None
    return "cbor" if topic.endswith("/cbor") else "json"


def is_request(topic: str) -> bool:
    return topic in {f"{base}/{fmt}" for base in (CREATE_FROM_CSR_BASE, CREATE_KEYS_BASE) for fmt in FORMATS} \
        or template_of(topic) is not None


def is_reply_filter(topic_filter: str) -> bool:
    """Whether a subscription filter names only reply topics of the provisioning API."""
    for suffix in (ACCEPTED, REJECTED):
        if topic_filter.endswith(suffix):
            request = topic_filter[: -len(suffix)]
            return is_request(request) or bool(_REGISTER_FILTER.match(request))
    return False
