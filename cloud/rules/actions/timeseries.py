"""``timeseries``: rows of the rule output into the time-series store — SQLite (embedded),
PostgreSQL (the RDS path) or Amazon Timestream."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from cloud.rules.actions.aws import AwsClient, aws_client
from cloud.rules.actions.base import (
    ActionMessage,
    AwsClientConfig,
    BuildContext,
    CloudModel,
    Duration,
    Embedded,
)
from cloud.stores.records import Record, Row
from cloud.stores.sql import SqlDatabase
from cloud.stores.timeseries import TimeseriesStore

TIMESTREAM_BATCH = 100
"""WriteRecords takes at most 100 records."""


class SqliteTimeseriesBackend(CloudModel):
    type: Literal["sqlite"] = "sqlite"


class PostgresTimeseriesBackend(CloudModel):
    """PostgreSQL through psycopg 3, e.g. ``host=db.example port=5432 dbname=telemetry user=ingest``."""

    type: Literal["postgres"]
    dsn: str


class TimestreamBackend(AwsClientConfig):
    """Amazon Timestream: a record per reading, dimensions ``device`` and ``kind``, the point as
    measure name. A record written again with the same version is accepted and changes nothing."""

    type: Literal["timestream"]
    database_name: str
    table_name: str


TimeseriesBackend = Annotated[SqliteTimeseriesBackend | PostgresTimeseriesBackend | TimestreamBackend,
                              Field(discriminator="type")]


class TimeseriesAction(CloudModel):
    name: str = Field(default="telemetry", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    retention: Duration = 7 * 86_400.0
    """How long raw rows are kept; hourly rollups stay for ``rollupRetention``."""
    rollup_retention: Duration | None = None
    memory_retention: Duration = 48 * 3600.0
    """How long recent rows stay in Timestream's memory store (the rest of ``retention`` is in its
    magnetic store); the embedded and PostgreSQL stores have one tier."""
    backend: TimeseriesBackend = SqliteTimeseriesBackend()

    def build(self, context: BuildContext) -> TimeseriesWrite:
        backend = self.backend
        if isinstance(backend, TimestreamBackend):
            return TimeseriesWrite(f"{backend.database_name}.{backend.table_name}",
                                   aws_client(context, "timestream-write", backend), backend)
        if isinstance(backend, PostgresTimeseriesBackend):
            db = SqlDatabase(dsn=backend.dsn)
            key = f"timeseries:{db.where}"
        else:
            path = context.data_dir / "timeseries" / f"{self.name}.db"
            db, key = SqlDatabase(path=path), f"timeseries:{path}"
        store = context.shared(key, lambda: Embedded(
            TimeseriesStore(db, retention=self.retention, rollup_retention=self.rollup_retention)))
        return TimeseriesWrite(self.name, store.store)


class TimeseriesWrite:
    """Per message, as AWS's ``timestream`` action: each top-level scalar attribute of the rule
    output is one measure at the time the rule ran (timestream-rule-action.html). A batch's
    readings become rows only through the rows processor, which calls :meth:`write`."""

    failed_action = "TimestreamAction"

    def __init__(self, resource: str, target: TimeseriesStore | AwsClient,
                 timestream: TimestreamBackend | None = None) -> None:
        self.resource = resource
        self._target = target
        self._timestream = timestream

    async def __call__(self, message: ActionMessage) -> None:
        await self.write(message.item)

    async def write(self, record: Record) -> None:
        """Store every row of ``record``."""
        if isinstance(self._target, TimeseriesStore):
            await self._target.write(record)
            return
        assert self._timestream is not None
        records = [timestream_record(row) for row in record.rows if row.value is not None or row.text]
        for start in range(0, len(records), TIMESTREAM_BATCH):
            await self._target.call("write_records", DatabaseName=self._timestream.database_name,
                                    TableName=self._timestream.table_name,
                                    Records=records[start:start + TIMESTREAM_BATCH])


def timestream_record(row: Row) -> dict[str, Any]:
    """A Timestream record of one row: dimensions ``device`` and ``kind``, the point as measure
    name; a window is one multi-measure record of its ``value`` (last), ``min``, ``max``, ``avg``,
    ``n`` and ``w``."""
    record: dict[str, Any] = {
        "Dimensions": [{"Name": "device", "Value": row.device}, {"Name": "kind", "Value": row.kind}],
        "MeasureName": row.point,
        "Time": str(row.t),
        "TimeUnit": "MILLISECONDS",
    }
    if row.kind == "window":
        measures = {"value": row.value, "min": row.min, "max": row.max, "avg": row.avg, "n": row.n, "w": row.w}
        record["MeasureValueType"] = "MULTI"
        record["MeasureValues"] = [
            {"Name": name, "Value": repr(value), "Type": "BIGINT" if isinstance(value, int) else "DOUBLE"}
            for name, value in measures.items() if value is not None]
    elif row.value is None:
        record.update(MeasureValue=row.text, MeasureValueType="VARCHAR")
    else:
        record.update(MeasureValue=repr(row.value), MeasureValueType="DOUBLE")
    return record
