"""What a fleet costs on AWS a month, line by line, from :mod:`cloud.cost.prices`.

The workload is the fleet's (devices, how often each reports, how many reports go in one
message), and the message sizes are those of real envelopes built with
:mod:`edge_agent.envelope`. Everything else is a stated assumption in :class:`Assumptions`.
A month is 730 hours, as AWS's price examples count it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cloud.rows.aws_lambda import row_json_line
from cloud.stores.records import explode_batch
from edge_agent.envelope import Batch, Reading, TopicScheme, metering_units

HOURS_PER_MONTH = 730
PRICES = Path(__file__).with_name("prices.yaml")
KB, GB = 1024, 1024**3


@dataclass(frozen=True, slots=True)
class Price:
    key: str
    price: float
    per: float
    unit: str
    source: str
    checked: str

    def of(self, quantity: float) -> float:
        return quantity / self.per * self.price


@dataclass(frozen=True, slots=True)
class PriceList:
    date: str
    region: str
    prices: dict[str, Price]

    @classmethod
    def load(cls, path: Path = PRICES) -> PriceList:
        doc: dict[str, Any] = yaml.safe_load(path.read_text())
        return cls(str(doc["date"]), str(doc["region"]),
                   {key: Price(key, float(p["price"]), float(p["per"]), str(p["unit"]), str(p["source"]),
                               str(p["checked"])) for key, p in doc["prices"].items()})


@dataclass(frozen=True, slots=True)
class Fleet:
    """``report_every`` and ``bundle`` in seconds; a bundle of 0 (or one report) is raw publishing:
    one message per report."""

    devices: int
    report_every: float
    bundle: float
    points: int = 13
    compact: bool = False
    """Messages in the compact envelope form (``edgeferry.batch/2``)."""
    site: str = "fleet-eu"
    asset_type: str = "reefer"
    rule: str = "edgeferry_telemetry"

    @property
    def reports_per_message(self) -> int:
        return max(1, round(self.bundle / self.report_every))

    @property
    def messages_per_month(self) -> float:
        return self.devices * HOURS_PER_MONTH * 3600 / (self.report_every * self.reports_per_message)

    @property
    def readings_per_month(self) -> float:
        return self.devices * HOURS_PER_MONTH * 3600 / self.report_every * self.points


@dataclass(frozen=True, slots=True)
class Assumptions:
    """What the model cannot measure here; each figure is printed with the estimate."""

    rule_actions: int = 2
    """Actions per rule firing (the shipped telemetry rule: kinesis and firehose)."""
    lambda_batch: int = 100
    lambda_seconds: float = 0.3
    lambda_gb: float = 0.25
    firehose_buffer_s: int = 300
    partitions: int = 1
    """Partition values written per buffer interval (sites x dates)."""
    timestream_record_bytes: int = 70
    """One reading in Timestream: time, dimensions device and kind, measure name and value."""
    memory_hours: float = 48
    magnetic_days: float = 730
    parquet_bytes_per_row: float = 12
    """Snappy-compressed Parquet of the lake's row columns, per reading."""
    audit_gzip_ratio: float = 0.3
    audit_days: float = 2555
    lake_days: float = 730


@dataclass(frozen=True, slots=True)
class Line:
    service: str
    item: str
    quantity: float
    price: Price

    @property
    def monthly(self) -> float:
        return self.price.of(self.quantity)


@dataclass(frozen=True, slots=True)
class Estimate:
    fleet: Fleet
    message_bytes: int
    """Payload plus topic: what IoT Core meters."""
    lines: list[Line] = field(default_factory=list)

    @property
    def units_per_message(self) -> int:
        return metering_units(self.message_bytes)

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)


def sample_batch(fleet: Fleet) -> Batch:
    """A realistic envelope of one message: ``points`` points named like the reefer's, each with one
    reading per report, two-decimal values, millisecond times."""
    t0 = 1_795_000_000_000
    names = [f"reefer_point_{i:02d}" for i in range(fleet.points)]
    readings = tuple(Reading("trailer-00001", name, t0 + r * int(fleet.report_every * 1000) + i,
                             round(-18.0 + 0.37 * i + 0.11 * r, 2))
                     for r in range(fleet.reports_per_message) for i, name in enumerate(names))
    return Batch(device="trailer-00001", site=fleet.site, asset_type=fleet.asset_type, epoch="3f9c2a7e1b5d4c60",
                 seq=123456, start=t0, end=readings[-1].t, readings=readings,
                 last={r.point: r.v for r in readings[-fleet.points:]}, compact=fleet.compact)


def estimate(fleet: Fleet, prices: PriceList, assume: Assumptions = Assumptions()) -> Estimate:
    """Every line of the month's bill for ``fleet``."""
    batch = sample_batch(fleet)
    payload = batch.encode()
    topic = TopicScheme(fleet.site, fleet.asset_type, batch.device).telemetry
    size = len(payload) + len(topic.encode())
    p = prices.prices
    messages = fleet.messages_per_month
    units = messages * metering_units(size)
    rows = fleet.readings_per_month
    row_json = sum(len(row_json_line(r)) for r in explode_batch(payload).rows) / len(batch.readings)
    kinesis_gb = messages * math.ceil(len(payload) / KB) * KB / GB
    firehose_gb = messages * math.ceil((len(payload) + 1) / (5 * KB)) * 5 * KB / GB
    rows_gb = rows * row_json / GB
    lambda_runs = messages / assume.lambda_batch + HOURS_PER_MONTH * 3600 / 60
    ts_bytes = rows * assume.timestream_record_bytes
    lake_gb = rows * assume.parquet_bytes_per_row / GB
    audit_gb = messages * len(payload) * assume.audit_gzip_ratio / GB
    lines = [
        Line("IoT Core", "connectivity", fleet.devices * HOURS_PER_MONTH * 60, p["iot_connectivity"]),
        Line("IoT Core", "messages: none charged through basic ingest", 0.0, p["iot_messaging"]),
        Line("IoT Core", "rules triggered", units, p["iot_rules_triggered"]),
        Line("IoT Core", f"actions executed ({assume.rule_actions} per rule)", units * assume.rule_actions,
             p["iot_actions_executed"]),
        Line("Kinesis", "on-demand stream-hours", HOURS_PER_MONTH, p["kinesis_stream_hour"]),
        Line("Kinesis", "data in (GB)", kinesis_gb, p["kinesis_data_in"]),
        Line("Kinesis", "data out to the rows processor (GB)", kinesis_gb, p["kinesis_data_out"]),
        Line("Lambda", "invocations (rows processor, lake transformation)", lambda_runs, p["lambda_requests"]),
        Line("Lambda", "compute (GB-s)", lambda_runs * assume.lambda_seconds * assume.lambda_gb, p["lambda_compute"]),
        Line("Firehose", "ingested (GB, 5 KB records)", firehose_gb, p["firehose_ingest"]),
        Line("Firehose", "Parquet conversion (GB)", firehose_gb, p["firehose_format_conversion"]),
        Line("Firehose", "dynamic partitioning (GB of rows)", rows_gb, p["firehose_dynamic_partitioning"]),
        Line("Firehose", "partitioned S3 objects", assume.partitions * HOURS_PER_MONTH * 3600 / assume.firehose_buffer_s,
             p["firehose_partition_objects"]),
        Line("Timestream", "writes (1 KB units, batched)", ts_bytes / KB, p["timestream_writes"]),
        Line("Timestream", f"memory store ({assume.memory_hours:g} h, GB-hours)",
             ts_bytes * assume.memory_hours / GB, p["timestream_memory_store"]),
        Line("Timestream", f"magnetic store ({assume.magnetic_days:g} days, GB-months, full)",
             ts_bytes / GB * assume.magnetic_days / (HOURS_PER_MONTH / 24), p["timestream_magnetic_store"]),
        Line("DynamoDB", "current-state writes (one per point per message)", messages * fleet.points,
             p["dynamodb_writes"]),
        Line("S3", "lake, first 30 days Standard (GB-months)", lake_gb * 30 / (HOURS_PER_MONTH / 24), p["s3_standard"]),
        Line("S3", f"lake, then Standard-IA to {assume.lake_days:g} days (GB-months, full)",
             lake_gb * (assume.lake_days - 30) / (HOURS_PER_MONTH / 24), p["s3_standard_ia"]),
        Line("S3", "audit batches, first 90 days Standard (GB-months)", audit_gb * 90 / (HOURS_PER_MONTH / 24),
             p["s3_standard"]),
        Line("S3", f"audit, then Glacier IR to {assume.audit_days:g} days (GB-months, full)",
             audit_gb * (assume.audit_days - 90) / (HOURS_PER_MONTH / 24), p["s3_glacier_ir"]),
    ]
    return Estimate(fleet, size, lines)
