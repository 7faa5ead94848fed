"""``s3``: the rule output as one object — a file under the data directory, or Amazon S3."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cloud.rules.actions.aws import AwsClient, aws_client
from cloud.rules.actions.base import ActionMessage, AwsClientConfig, BuildContext, CloudModel, Embedded
from cloud.stores.files import ObjectStore


class LocalBucketBackend(CloudModel):
    type: Literal["local"] = "local"


class S3Backend(AwsClientConfig):
    type: Literal["s3"]


BucketBackend = Annotated[LocalBucketBackend | S3Backend, Field(discriminator="type")]


class S3Action(CloudModel):
    """Like AWS's ``s3`` action (s3-rule-action.html): bucket, key (a substitution template) and an
    optional canned ACL; the object is the rule output as the action sends it."""

    bucket_name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    key: str = Field(min_length=1)
    canned_acl: Literal["private", "public-read", "public-read-write", "aws-exec-read", "authenticated-read",
                        "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write"] | None = None
    backend: BucketBackend = LocalBucketBackend()

    def build(self, context: BuildContext) -> PutObject:
        if isinstance(self.backend, S3Backend):
            return PutObject(self, aws_client(context, "s3", self.backend))
        root = context.data_dir / "s3" / self.bucket_name
        store = context.shared(f"s3:{root}", lambda: Embedded(ObjectStore(root)))
        return PutObject(self, store.store)


class PutObject:
    failed_action = "S3Action"

    def __init__(self, config: S3Action, target: ObjectStore | AwsClient) -> None:
        self.config = config
        self.resource = config.bucket_name
        self._target = target

    async def __call__(self, message: ActionMessage) -> None:
        key = message.substitute(self.config.key)
        if isinstance(self._target, ObjectStore):
            await self._target.put(key, message.data)
            return
        extra = {"ACL": self.config.canned_acl} if self.config.canned_acl else {}
        await self._target.call("put_object", Bucket=self.config.bucket_name, Key=key, Body=message.data, **extra)
