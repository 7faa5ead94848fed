"""The processors as an AWS Lambda function on a Kinesis event source: ``handler(event, context)``.

A Kinesis event carries records of one or more shards (``eventID`` is ``shardId-<n>:<sequence>``;
Lambda's Kinesis event shape, with ``kinesis.data`` base64); a shard is a partition. Records at
or below the partition's checkpointed sequence number are skipped, so Lambda's retries of a
batch change nothing twice. Partial failures are reported as ``batchItemFailures`` (the event
source mapping's ReportBatchItemFailures): the first unprocessed record of each shard that failed.

Configuration comes from the environment: ``EDGEFERRY_PROCESSORS_CONFIG`` (the processors YAML
file), ``EDGEFERRY_PROCESSORS_STATE`` (a SQLite path, or a ``postgresql://`` DSN: on AWS the
checkpoint must outlive the function's sandbox, so RDS), and optionally
``EDGEFERRY_IOT_DATA_ENDPOINT`` for ``iotTopicPublish`` through the IoT data plane.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cloud.processors.checkpoint import Checkpoint
from cloud.processors.model import load_config
from cloud.processors.notify import Notifier
from cloud.processors.sources import Chunk
from cloud.processors.worker import Worker
from cloud.stores.sql import SqlDatabase

logger = logging.getLogger(__name__)


class KinesisEvent:
    """The records of one Lambda invocation as a partitioned source (shard n = partition n)."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.by_shard: dict[int, list[tuple[int, bytes]]] = {}
        for record in event.get("Records", ()):
            shard = int(str(record["eventID"]).split(":", 1)[0].rsplit("-", 1)[1])
            kinesis = record["kinesis"]
            self.by_shard.setdefault(shard, []).append(
                (int(kinesis["sequenceNumber"]), base64.b64decode(kinesis["data"])))
        for records in self.by_shard.values():
            records.sort()
        self.partitions = max(self.by_shard, default=-1) + 1

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def read(self, partition: int, after: int, limit: int) -> Chunk:
        records = [r for r in self.by_shard.get(partition, ()) if r[0] > after][:limit]
        return Chunk([data for _, data in records], records[-1][0] if records else after)


def handler(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point."""
    return asyncio.run(handle(event))


async def handle(event: Mapping[str, Any]) -> dict[str, Any]:
    config = load_config(Path(os.environ["EDGEFERRY_PROCESSORS_CONFIG"]))
    where = os.environ["EDGEFERRY_PROCESSORS_STATE"]
    db = SqlDatabase(dsn=where) if where.startswith("postgres") else SqlDatabase(path=Path(where))
    checkpoint = Checkpoint(db)
    checkpoint.open()
    source = KinesisEvent(event)
    notifier = Notifier(publish=_iot_data_publish(os.environ.get("EDGEFERRY_IOT_DATA_ENDPOINT")))
    worker = Worker(config, source, checkpoint, notifier=notifier)
    try:
        await worker.drain()
    except Exception:
        logger.exception("processors_lambda_batch_failed")
    finally:
        await notifier.stop()
        checkpoint.close()
    failures = []
    for shard, records in source.by_shard.items():
        reached = worker.position(shard) or 0
        pending = [seq for seq, _ in records if seq > reached]
        if pending:
            failures.append({"itemIdentifier": str(pending[0])})
    return {"batchItemFailures": failures}


def _iot_data_publish(endpoint: str | None) -> Any:
    if not endpoint:
        return None
    import boto3

    client = boto3.client("iot-data", endpoint_url=endpoint)

    async def publish(topic: str, payload: bytes, qos: int) -> None:
        await asyncio.to_thread(client.publish, topic=topic, qos=qos, payload=payload)

    return publish
