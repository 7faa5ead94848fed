"""The device's resume rules and retry policy."""

from __future__ import annotations

import pytest

from provisioning.device import RetryPolicy
from provisioning.device.pending import TOKEN_LIFETIME, TOKEN_MARGIN, IssuedCertificate
from provisioning.errors import ProvisioningRejected


def test_ownership_token_is_used_only_with_time_to_spare() -> None:
    issued = IssuedCertificate("id", "PEM", "token", issued_at=0.0)
    assert issued.token_valid(now=TOKEN_LIFETIME - TOKEN_MARGIN - 1)
    assert not issued.token_valid(now=TOKEN_LIFETIME - TOKEN_MARGIN)


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (503, True), (400, False),
                                                   (403, False), (404, False), (409, False)])
def test_only_throttling_and_server_errors_are_retried(status: int, retryable: bool) -> None:
    assert ProvisioningRejected(status, "Code", "m").retryable is retryable


def test_retry_policy_draws_full_jitter_waits_under_its_cap_afresh_for_each_provisioning() -> None:
    policy = RetryPolicy(attempts=10, initial=1.0, maximum=8.0)
    first = policy.backoff()
    assert 0.0 <= first.next() <= 1.0
    delays = [first.next() for _ in range(500)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert max(delays) > 4.0
    assert policy.backoff().attempt == 0


def test_rejection_message_names_the_aws_error_code() -> None:
    error = ProvisioningRejected(403, "AccessDenied", "the pre-provisioning hook refused")
    assert str(error) == "provisioning rejected: AccessDenied (403): the pre-provisioning hook refused"
    assert error.payload() == {"statusCode": 403, "errorCode": "AccessDenied",
                               "errorMessage": "the pre-provisioning hook refused"}
