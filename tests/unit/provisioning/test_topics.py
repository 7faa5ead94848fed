"""The provisioning API's topics, exactly as AWS names them."""

from __future__ import annotations

import pytest

from provisioning import topics


def test_request_topics() -> None:
    assert topics.CREATE_FROM_CSR == "$aws/certificates/create-from-csr/json"
    assert topics.CREATE_KEYS == "$aws/certificates/create/json"
    assert topics.register_thing("t1") == "$aws/provisioning-templates/t1/provision/json"
    assert topics.template_of("$aws/provisioning-templates/t1/provision/json") == "t1"
    assert topics.template_of("$aws/provisioning-templates/+/provision/json") is None
    assert topics.is_request(topics.CREATE_KEYS)
    assert not topics.is_request("dt/a/b/c/telemetry")


@pytest.mark.parametrize(("topic_filter", "allowed"), [
    ("$aws/certificates/create-from-csr/json/accepted", True),
    ("$aws/certificates/create/json/rejected", True),
    ("$aws/provisioning-templates/t1/provision/json/accepted", True),
    ("$aws/provisioning-templates/+/provision/json/rejected", True),
    ("$aws/certificates/create-from-csr/cbor/accepted", True),
    ("$aws/provisioning-templates/t1/provision/cbor/rejected", True),
    ("$aws/certificates/create/xml/accepted", False),
    ("$aws/certificates/+/json/accepted", False),
    ("$aws/provisioning-templates/#", False),
    ("$aws/provisioning-templates/a/b/provision/json/accepted", False),
    ("$aws/certificates/create-from-csr/json", False),
    ("#", False),
])
def test_only_reply_filters_may_be_subscribed(topic_filter: str, allowed: bool) -> None:
    assert topics.is_reply_filter(topic_filter) is allowed
