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
from cloud.stores.records import Row
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
    failed_action = "TimestreamAction"

    def __init__(self, resource: str, target: TimeseriesStore | AwsClient,
                 timestream: TimestreamBackend | None = None) -> None:
        self.resource = resource
        self._target = target
        self._timestream = timestream

    async def __call__(self, message: ActionMessage) -> None:
        if isinstance(self._target, TimeseriesStore):
            await self._target.write(message.record)
            return
        assert self._timestream is not None
        records = [_timestream_record(row) for row in message.record.rows if row.value is not None]
        for start in range(0, len(records), TIMESTREAM_BATCH):
            await self._target.call("write_records", DatabaseName=self._timestream.database_name,
                                    TableName=self._timestream.table_name,
                                    Records=records[start:start + TIMESTREAM_BATCH])


def _timestream_record(row: Row) -> dict[str, Any]:
    return {
        "Dimensions": [{"Name": "device", "Value": row.device}, {"Name": "kind", "Value": row.kind}],
        "MeasureName": row.point,
        "MeasureValue": repr(row.avg if row.kind == "window" and row.avg is not None else row.value),
        "MeasureValueType": "DOUBLE",
        "Time": str(row.t),
        "TimeUnit": "MILLISECONDS",
    }
