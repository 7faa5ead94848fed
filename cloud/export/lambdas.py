"""The rows processor as the Lambda function deploys it: the same spec, its stores on AWS."""

from __future__ import annotations

from cloud.rows.processor import RowsProcessorSpec
from cloud.rules.actions.current_state import DynamoDbStateBackend
from cloud.rules.actions.timeseries import TimestreamBackend


def lambda_processor(spec: RowsProcessorSpec, *, database: str, state_table: str, region: str,
                     endpoint_url: str | None = None) -> RowsProcessorSpec:
    """``spec`` writing Timestream (``database``, its own table name) and the DynamoDB table
    ``state_table`` instead of the local stores; ``endpoint_url`` points at a stand-in (moto)."""
    where = {"region": region, "endpoint_url": endpoint_url}
    update: dict[str, object] = {}
    if spec.timeseries is not None:
        update["timeseries"] = spec.timeseries.model_copy(update={"backend": TimestreamBackend(
            type="timestream", database_name=database, table_name=spec.timeseries.name, **where)})
    if spec.current_state is not None:
        update["current_state"] = spec.current_state.model_copy(update={"backend": DynamoDbStateBackend(
            type="dynamodb", table_name=state_table, **where)})
    return spec.model_copy(update=update)
