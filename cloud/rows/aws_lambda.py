"""The rows step as AWS Lambda handlers, packaged from this code by ``edgeferry cloud export``.

- :func:`kinesis_handler`: the function the Kinesis stream triggers (event source mapping with
  ``ReportBatchItemFailures``). Its rows processor comes from the environment variable
  ``EDGEFERRY_ROWS_PROCESSOR``, the processor's entry of the rules file as JSON, with Timestream
  and DynamoDB backends. A failed record is reported with every later one left for the retry,
  as Lambda expects for a stream (services-kinesis-batchfailurereporting).
- :func:`firehose_handler`: the delivery stream's data transformation in front of the Parquet
  lake: each batch becomes its rows as JSON lines, with the partition keys of
  ``EDGEFERRY_PARTITION_KEYS`` (default ``site,date``) for dynamic partitioning
  (dynamic-partitioning.html: ``partitionKeyFromLambda``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cloud.rows.processor import RowsProcessorSpec
from cloud.rules.actions.base import BuildContext
from cloud.stores.partitions import partition_values
from cloud.stores.records import Row, explode_batch
from edge_agent.envelope import EnvelopeError

PROCESSOR_VARIABLE = "EDGEFERRY_ROWS_PROCESSOR"
PARTITION_VARIABLE = "EDGEFERRY_PARTITION_KEYS"


def kinesis_handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """Lambda entry point for Kinesis events: ``{"batchItemFailures": [...]}``."""
    spec = RowsProcessorSpec.model_validate_json(os.environ[PROCESSOR_VARIABLE])
    return asyncio.run(_handle_kinesis(spec, event["Records"]))


async def _handle_kinesis(spec: RowsProcessorSpec, records: list[dict[str, Any]]) -> dict[str, Any]:
    build = BuildContext(Path(tempfile.gettempdir()) / "edgeferry")
    processor = spec.build(build)
    resources = list(build.resources.values())
    for resource in resources:
        await resource.start()
    try:
        for record in records:
            try:
                await processor.handle(base64.b64decode(record["kinesis"]["data"]))
            except Exception:
                return {"batchItemFailures": [{"itemIdentifier": record["kinesis"]["sequenceNumber"]}]}
    finally:
        for resource in reversed(resources):
            await resource.stop()
    return {"batchItemFailures": []}


def firehose_handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """Lambda entry point for a Firehose data transformation: ``{"records": [...]}``, each
    ``Ok`` with the rows, or ``ProcessingFailed`` (Firehose writes those to its error prefix)."""
    keys = [k for k in os.environ.get(PARTITION_VARIABLE, "site,date").split(",") if k]
    return {"records": [_transform(record, keys) for record in event["records"]]}


def _transform(record: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    data = base64.b64decode(record["data"])
    try:
        rows = explode_batch(data.rstrip(b"\n")).rows
    except EnvelopeError:
        return {"recordId": record["recordId"], "result": "ProcessingFailed", "data": record["data"]}
    if not rows:
        return {"recordId": record["recordId"], "result": "Dropped", "data": record["data"]}
    lines = b"".join(row_json_line(row) for row in rows)
    return {"recordId": record["recordId"], "result": "Ok", "data": base64.b64encode(lines).decode(),
            "metadata": {"partitionKeys": partition_values(rows[0], keys)}}


def row_json_line(row: Row) -> bytes:
    """One lake row as a JSON line, its keys the lake's (and the Glue table's) columns."""
    return json.dumps(asdict(row), separators=(",", ":")).encode() + b"\n"
