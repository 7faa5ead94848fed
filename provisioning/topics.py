"""Fleet provisioning MQTT topics, exactly as AWS names them (fleet-provision-api.md).

``<fmt>`` is ``json`` (``cbor`` exists too; edgeferry speaks JSON). Replies go to the request
topic plus ``/accepted`` or ``/rejected``.
"""

from __future__ import annotations

import re

FORMAT = "json"
CREATE_FROM_CSR = f"$aws/certificates/create-from-csr/{FORMAT}"
CREATE_KEYS = f"$aws/certificates/create/{FORMAT}"
TEMPLATE_PREFIX = "$aws/provisioning-templates/"
ACCEPTED = "/accepted"
REJECTED = "/rejected"

_REGISTER = re.compile(r"^\$aws/provisioning-templates/([^/+#]+)/provision/" + FORMAT + "$")


def register_thing(template: str) -> str:
    """The RegisterThing request topic for ``template``."""
    return f"{TEMPLATE_PREFIX}{template}/provision/{FORMAT}"


def template_of(topic: str) -> str | None:
    """The template name in a RegisterThing request topic, or None for any other topic."""
    match = _REGISTER.match(topic)
    return match.group(1) if match else None


def is_request(topic: str) -> bool:
    return topic in (CREATE_FROM_CSR, CREATE_KEYS) or template_of(topic) is not None


def is_reply_filter(topic_filter: str) -> bool:
    """Whether a subscription filter names only reply topics of the provisioning API."""
    for suffix in (ACCEPTED, REJECTED):
        if topic_filter.endswith(suffix):
            request = topic_filter[: -len(suffix)]
            return request in (CREATE_FROM_CSR, CREATE_KEYS) or (
                request.startswith(TEMPLATE_PREFIX) and request.endswith(f"/provision/{FORMAT}")
                and request.count("/") == 4 and "#" not in request)
    return False
