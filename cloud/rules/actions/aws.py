"""A boto3 client as a shared resource: calls run in a worker thread (boto3 blocks)."""

from __future__ import annotations

import asyncio
from typing import Any

from cloud.rules.actions.base import AwsClientConfig, BuildContext


class AwsClient:
    """One boto3 client of ``service``; credentials come from the usual AWS chain (environment,
    profile, instance role)."""

    def __init__(self, service: str, config: AwsClientConfig) -> None:
        self.service = service
        self.config = config
        self._client: Any = None

    async def start(self) -> None:
        import boto3

        self._client = await asyncio.to_thread(
            boto3.client, self.service, region_name=self.config.region,
            endpoint_url=self.config.endpoint_url)

    async def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def maintain(self) -> None:
        return None

    async def call(self, operation: str, **params: Any) -> Any:
        """Call one API operation (snake_case name) and return its response."""
        if self._client is None:
            raise RuntimeError(f"{self.service} client is not started")
        return await asyncio.to_thread(getattr(self._client, operation), **params)


def aws_client(context: BuildContext, service: str, config: AwsClientConfig) -> AwsClient:
    """The client shared by every action using ``service`` at the same region and endpoint."""
    key = f"aws:{service}:{config.region}:{config.endpoint_url or ''}"
    return context.shared(key, lambda: AwsClient(service, config))
