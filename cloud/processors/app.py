"""Assembly of a processor worker from its parts (the one home the CLI, the Lambda handler, the
benchmarks and the demo share): stream source, checkpoint, stores, MQTT and notification targets.

Operators' alarm commands arrive through the CLI (written to the checkpoint database) or as an
MQTT message on ``alarms/<key>/<alarm>/<command>`` (``ack``, ``snooze``, ``reset``; a snooze's
payload may say ``{"for": seconds}``), which the worker queues the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cloud.processors.checkpoint import Checkpoint
from cloud.processors.model import ProcessorConfig
from cloud.processors.notify import Notifier
from cloud.processors.sources import EmbeddedSource, NatsSource, PartitionedSource
from cloud.processors.worker import Worker
from cloud.stores.current_state import CurrentStateStore
from cloud.stores.dlq import DeadLetterQueue
from cloud.stores.sql import SqlDatabase
from cloud.stores.timeseries import TimeseriesStore

logger = logging.getLogger(__name__)

COMMAND_FILTER = "alarms/+/+/+"
COMMANDS = {"ack": "acknowledge", "acknowledge": "acknowledge", "snooze": "snooze", "reset": "reset"}


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Where a worker reads, keeps its state and writes (``data``: the embedded stores' directory)."""

    config: ProcessorConfig
    state: Path
    stream: Path | None = None
    nats_servers: tuple[str, ...] = ()
    nats_stream: str = "telemetry"
    partitions: int = 4
    data: Path | None = None
    broker_dir: Path | None = None
    group: bool = False
    member: str | None = None
    client_id: str = "edgeferry-processors"


def source_for(options: WorkerOptions) -> PartitionedSource:
    if options.nats_servers:
        return NatsSource(list(options.nats_servers), options.nats_stream, partitions=options.partitions)
    if options.stream is None:
        raise ValueError("give a stream: an embedded stream directory or NATS servers")
    return EmbeddedSource(options.stream)


@contextlib.asynccontextmanager
async def open_worker(options: WorkerOptions) -> AsyncIterator[Worker]:
    """A started worker with every part it uses; all stopped on exit."""
    from cloud.processors.alarms import Command

    source = source_for(options)
    checkpoint = Checkpoint(SqlDatabase(path=options.state))
    checkpoint.open()
    opened: list[TimeseriesStore | CurrentStateStore | DeadLetterQueue] = []
    timeseries = current = dlq = None
    if options.data is not None:
        timeseries = TimeseriesStore(SqlDatabase(path=options.data / "timeseries.db"), retention=7 * 86400.0)
        current = CurrentStateStore(SqlDatabase(path=options.data / "current_state.db"))
        dlq = DeadLetterQueue(SqlDatabase(path=options.data / "processors_dlq.db"))
        for store in (timeseries, current, dlq):
            store.open()
            opened.append(store)
    mqtt = None
    if options.broker_dir is not None:
        from cloud.rules.mqtt_attach import MqttAttachment, MqttSettings

        rig = MqttSettings.from_rig(options.broker_dir)
        settings = MqttSettings(rig.host, rig.port, rig.ca, rig.cert, rig.key,
                                client_id=f"{options.client_id}-{options.member or 'solo'}")

        async def on_command(topic: str, payload: bytes) -> None:
            _, key, alarm, verb = topic.split("/")
            if verb not in COMMANDS:
                logger.warning("processor_unknown_command", extra={"topic": topic})
                return
            model = next((m.detector_model_name for m in options.config.detector_models
                          for a in m.alarms if a.alarm_name == alarm), None)
            if model is None:
                logger.warning("processor_unknown_alarm", extra={"topic": topic})
                return
            seconds = 0.0
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                seconds = float(json.loads(payload or b"{}").get("for", 0))
            await asyncio.to_thread(checkpoint.issue, model, alarm, key, Command(COMMANDS[verb]).value,
                                    int(seconds * 1000))

        mqtt = MqttAttachment(settings, on_command, [COMMAND_FILTER], basic_ingest=False, workers=1)
        await mqtt.start()
    notifier = Notifier(publish=mqtt.publish if mqtt else None, current_state=current, dlq=dlq)
    await source.start()
    try:
        yield Worker(options.config, source, checkpoint, notifier=notifier, timeseries=timeseries,
                     group=options.group, member=options.member)
    finally:
        await source.stop()
        await notifier.stop()
        if mqtt is not None:
            await mqtt.stop()
        for store in opened:
            store.close()
        checkpoint.close()
