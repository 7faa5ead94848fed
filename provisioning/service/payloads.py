"""Request and reply payloads of the fleet provisioning API in its two formats, JSON and CBOR
(fleet-provision-api.md: every topic exists as ``.../json`` and ``.../cbor`` with the same fields)."""

from __future__ import annotations

import json
from typing import Any

import cbor2

from provisioning.errors import ProvisioningRejected
from provisioning.topics import Format


def decode_request(payload: bytes, fmt: Format) -> dict[str, Any]:
    """The request object; an empty payload is an empty object. Bad payloads are refused with 400
    InvalidPayload."""
    if not payload:
        return {}
    try:
        document = cbor2.loads(payload) if fmt == "cbor" else json.loads(payload)
    except (ValueError, cbor2.CBORDecodeError, UnicodeDecodeError):
        raise ProvisioningRejected(400, "InvalidPayload", f"the payload is not valid {fmt.upper()}") from None
    if not isinstance(document, dict):
        raise ProvisioningRejected(400, "InvalidPayload", f"the payload must be a {fmt.upper()} map/object")
    return document


def encode_reply(document: dict[str, Any], fmt: Format) -> bytes:
    return cbor2.dumps(document) if fmt == "cbor" else json.dumps(document).encode()
