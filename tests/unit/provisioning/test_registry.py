"""The registry: ownership tokens expire after an hour, registration attaches and activates,
OverrideSettings decide what happens to a thing that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning.service.registry import Registration, Registry

T0 = 1_000_000.0


@pytest.fixture
def registry() -> Registry:
    return Registry(Path(":memory:"))


def pending(registry: Registry, n: int, now: float = T0) -> str:
    certificate_id = f"{n:064x}"
    registry.add_pending_certificate(certificate_id=certificate_id, common_name=f"cn{n}", serial=n,
                                     pem="PEM", token=f"token-{n}", claim="claim", now=now)
    return certificate_id


def test_token_is_valid_for_one_hour(registry: Registry) -> None:
    certificate_id = pending(registry, 1)
    found = registry.certificate_for_token("token-1", now=T0 + 3599)
    assert found is not None
    assert found.certificate_id == certificate_id
    assert found.status == "PENDING_ACTIVATION"
    assert registry.certificate_for_token("token-1", now=T0 + 3600) is None
    assert registry.certificate_for_token("token-2", now=T0) is None


def test_expired_unregistered_certificates_are_deleted(registry: Registry) -> None:
    pending(registry, 1)
    kept = pending(registry, 2)
    registry.register(kept, Registration("thing-2"), now=T0)
    assert registry.delete_expired_pending(now=T0 + 3601) == 1
    assert [c.certificate_id for c in registry.certificates()] == [kept]


def test_register_attaches_activates_and_confirming_spends_the_token(registry: Registry) -> None:
    certificate_id = pending(registry, 1)
    registration = Registration("pump-1", {"site": "a"}, groups=("g1",), policies=("p",))
    registry.register(certificate_id, registration, now=T0)
    thing = registry.thing("pump-1")
    assert thing is not None
    assert thing.attributes == {"site": "a"}
    assert thing.groups == ("g1",)
    assert [(c.certificate_id, c.status, c.things, c.policies) for c in thing.certificates] == [
        (certificate_id, "ACTIVE", ("pump-1",), ("p",))]
    unconfirmed = registry.certificate_for_token("token-1", now=T0)
    assert unconfirmed is not None
    assert unconfirmed.things == ("pump-1",)
    registry.confirm_registration(certificate_id)
    assert registry.certificate_for_token("token-1", now=T0) is None


def test_registering_again_before_confirmation_changes_nothing(registry: Registry) -> None:
    certificate_id = pending(registry, 1)
    registration = Registration("pump-1", {"site": "a"}, groups=("g1",), policies=("p",))
    registry.register(certificate_id, registration, now=T0)
    before = registry.thing("pump-1")
    registry.register(certificate_id, registration, now=T0 + 5)
    assert registry.thing("pump-1") == before
    assert len(registry.certificates()) == 1


def test_a_revoked_certificate_token_proves_nothing(registry: Registry) -> None:
    certificate_id = pending(registry, 1)
    registry.register(certificate_id, Registration("pump-1"), now=T0)
    registry.set_status(certificate_id, "REVOKED")
    assert registry.certificate_for_token("token-1", now=T0) is None


@pytest.mark.parametrize(("override", "expected"), [
    ("MERGE", {"site": "a", "line": "2", "rack": "9"}),
    ("REPLACE", {"line": "2", "rack": "9"}),
    ("DO_NOTHING", {"site": "a", "line": "1"}),
])
def test_attribute_override_settings(registry: Registry, override: str, expected: dict[str, str]) -> None:
    registry.register(pending(registry, 1), Registration("pump-1", {"site": "a", "line": "1"}), now=T0)
    registry.register(pending(registry, 2), Registration("pump-1", {"line": "2", "rack": "9"},
                                                         attributes_override=override),  # type: ignore[arg-type]
                      now=T0)
    thing = registry.thing("pump-1")
    assert thing is not None
    assert thing.attributes == expected
    assert len(thing.certificates) == 2


def test_revoked_status_is_kept(registry: Registry) -> None:
    certificate_id = pending(registry, 1)
    registry.register(certificate_id, Registration("pump-1"), now=T0)
    registry.set_status(certificate_id, "REVOKED")
    record = registry.certificate(certificate_id)
    assert record is not None
    assert record.status == "REVOKED"


def test_access_entries_list_every_certificate_with_its_things(registry: Registry) -> None:
    first, second = pending(registry, 1), pending(registry, 2, now=T0 + 1)
    registry.register(first, Registration("pump-1"), now=T0)
    registry.set_status(second, "REVOKED")
    entries = registry.access_entries()
    assert [(e.common_name, e.status, e.serial, e.things) for e in entries] == [
        ("cn1", "ACTIVE", 1, ["pump-1"]), ("cn2", "REVOKED", 2, [])]
