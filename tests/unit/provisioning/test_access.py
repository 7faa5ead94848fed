"""What the broker ACL grants each certificate, by status."""

from __future__ import annotations

from cloud.rig import TopicGrant
from provisioning.service.access import DENY_ALL, certificate_grants
from provisioning.service.registry import AccessEntry, CertificateStatus


def record(status: CertificateStatus, things: tuple[str, ...] = ("pump-1",)) -> AccessEntry:
    return AccessEntry("cn", status, 1, list(things))


def test_active_certificate_gets_its_things_topics_only() -> None:
    assert certificate_grants(record("ACTIVE")) == [
        TopicGrant("write", "dt/+/+/pump-1/#"),
        TopicGrant("write", "$aws/rules/+/dt/+/+/pump-1/#"),
        TopicGrant("read", "cmd/pump-1/#"),
    ]


def test_revoked_and_inactive_are_denied_everything_including_aws_topics() -> None:
    for status in ("REVOKED", "INACTIVE"):
        assert certificate_grants(record(status)) == list(DENY_ALL)
    assert TopicGrant("deny", "$aws/#") in DENY_ALL


def test_pending_certificate_gets_no_block() -> None:
    assert certificate_grants(record("PENDING_ACTIVATION")) is None
