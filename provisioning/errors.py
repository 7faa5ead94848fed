"""Errors of fleet provisioning: a refusal carries AWS's status code and error code."""

from __future__ import annotations

from edge_agent.errors import EdgeferryError

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
"""Throttling and server-side failures: trying again later can help; 4xx refusals cannot."""


class ProvisioningRejected(EdgeferryError):
    """IoT Core (or the local service) refused a fleet provisioning request.

    The rejection payload is ``{"statusCode", "errorCode", "errorMessage"}`` (fleet-provision-api.md).
    """

    def __init__(self, status_code: int, error_code: str, message: str) -> None:
        self.status_code = status_code
        self.error_code = error_code
        self.message = message
        super().__init__(f"provisioning rejected: {error_code} ({status_code}): {message}")

    @property
    def retryable(self) -> bool:
        return self.status_code in RETRYABLE_STATUS

    def payload(self) -> dict[str, object]:
        """The rejection as IoT Core publishes it on the ``/rejected`` topic."""
        return {"statusCode": self.status_code, "errorCode": self.error_code, "errorMessage": self.message}


class ProvisioningUnavailable(EdgeferryError):
    """The provisioning endpoint could not be reached or did not answer in time (retryable)."""
