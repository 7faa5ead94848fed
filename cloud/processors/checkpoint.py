"""The processors' checkpoint: per partition, the stream position, the clock, the state of every
changed window and detector instance, alarm states and history, the outbox of notifications and
the dead letters (late readings, undecodable records) — all written in one transaction, so a
processor killed at any point restarts from a consistent cut: nothing lost, nothing repeated.

SQLite by default (shared by the worker processes of one machine), PostgreSQL across machines.
The same database holds the consumer group's leases and the operators' alarm commands.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from cloud.processors.alarms import Alarm, AlarmState
from cloud.processors.partition import Notification, PartitionProcessor, Step
from cloud.stores.sql import SqlDatabase, Transaction

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS proc_positions (
        part INTEGER PRIMARY KEY, position TEXT NOT NULL, clock BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS proc_instances (
        operator TEXT NOT NULL, k TEXT NOT NULL, part INTEGER NOT NULL, state TEXT NOT NULL,
        PRIMARY KEY (operator, k))""",
    "CREATE INDEX IF NOT EXISTS proc_instances_part ON proc_instances (part)",
    """CREATE TABLE IF NOT EXISTS proc_alarms (
        model TEXT NOT NULL, alarm TEXT NOT NULL, k TEXT NOT NULL, part INTEGER NOT NULL,
        state TEXT NOT NULL, severity INTEGER NOT NULL, since BIGINT NOT NULL, occurrence TEXT NOT NULL,
        snooze_until BIGINT NOT NULL, PRIMARY KEY (model, alarm, k))""",
    """CREATE TABLE IF NOT EXISTS proc_alarm_history (
        occurrence TEXT NOT NULL, t BIGINT NOT NULL, state TEXT NOT NULL, cause TEXT NOT NULL,
        model TEXT NOT NULL, alarm TEXT NOT NULL, k TEXT NOT NULL, recorded BIGINT NOT NULL,
        PRIMARY KEY (occurrence, t, state))""",
    """CREATE TABLE IF NOT EXISTS proc_outbox (
        id TEXT PRIMARY KEY, part INTEGER NOT NULL, action TEXT NOT NULL, payload TEXT NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS proc_outbox_pending ON proc_outbox (part, delivered)",
    """CREATE TABLE IF NOT EXISTS proc_dead_letters (
        part INTEGER NOT NULL, position TEXT NOT NULL, n INTEGER NOT NULL, reason TEXT NOT NULL,
        body TEXT NOT NULL, PRIMARY KEY (part, position, n))""",
    """CREATE TABLE IF NOT EXISTS proc_commands (
        id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, alarm TEXT NOT NULL, k TEXT NOT NULL,
        command TEXT NOT NULL, snooze_ms BIGINT NOT NULL, issued BIGINT NOT NULL,
        applied INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS proc_leases (
        part INTEGER PRIMARY KEY, owner TEXT NOT NULL, expires BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS proc_members (
        member TEXT PRIMARY KEY, expires BIGINT NOT NULL)""",
)


COMMAND_DEDUP_MS = 5_000


class LeaseLost(Exception):
    """The partition now belongs to another worker: this worker's pending work is discarded."""


@dataclass(frozen=True, slots=True)
class PendingCommand:
    id: int
    model: str
    alarm: str
    key: str
    command: str
    snooze_ms: int
    issued: int


class Checkpoint:
    """Reads and writes the processors' state in a :class:`SqlDatabase`."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def open(self) -> None:
        self.db.open(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- one partition ---------------------------------------------------------------------------
    def load(self, processor: PartitionProcessor) -> int:
        """Restore a partition's state; return its stream position (0: from the start; an integer
        of any size: Kinesis sequence numbers pass 64 bits, so it is stored as text)."""
        part = processor.partition

        def read(tx: Transaction) -> tuple[list[tuple[Any, ...]], ...]:
            return (tx.query("SELECT position, clock FROM proc_positions WHERE part = ?", (part,)),
                    tx.query("SELECT operator, k, state FROM proc_instances WHERE part = ?", (part,)),
                    tx.query("SELECT model, alarm, k, state, severity, since, occurrence, snooze_until "
                             "FROM proc_alarms WHERE part = ?", (part,)))

        position, instances, alarms = self.db.transact(read)
        for operator, key, state in instances:
            processor.restore(operator, key, state)
        for model, name, key, state, severity, since, occurrence, snooze in alarms:
            processor.alarms[(model, name, key)] = Alarm(model, name, key, int(severity), AlarmState(state),
                                                         int(since), occurrence, int(snooze))
        if not position:
            return 0
        processor.clock = int(position[0][1])
        return int(position[0][0])

    def save(self, processor: PartitionProcessor, position: int, step: Step, *,
             owner: str | None = None, commands: tuple[int, ...] = ()) -> None:
        """Commit one step with the new position; with ``owner``, only while it holds the lease."""
        part = processor.partition
        now = int(time.time() * 1000)

        def write(tx: Transaction) -> None:
            if owner is not None and not tx.query(
                    "SELECT 1 FROM proc_leases WHERE part = ? AND owner = ?", (part, owner)):
                raise LeaseLost(f"partition {part} is no longer leased to {owner}")
            tx.execute("INSERT INTO proc_positions (part, position, clock) VALUES (?, ?, ?) "
                       "ON CONFLICT (part) DO UPDATE SET position = excluded.position, clock = excluded.clock",
                       (part, str(position), processor.clock))
            instances = [(op, key, part, s) for op, key in sorted(step.dirty)
                         if (s := processor.snapshot(op, key)) is not None]
            tx.execute_many("INSERT INTO proc_instances (operator, k, part, state) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT (operator, k) DO UPDATE SET state = excluded.state, "
                            "part = excluded.part", instances)
            alarms = {(c.alarm.model, c.alarm.name, c.alarm.key): c.alarm for c in step.changes}.values()
            tx.execute_many(
                "INSERT INTO proc_alarms (model, alarm, k, part, state, severity, since, occurrence, "
                "snooze_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, alarm, k) DO UPDATE "
                "SET state = excluded.state, severity = excluded.severity, since = excluded.since, "
                "occurrence = excluded.occurrence, snooze_until = excluded.snooze_until, part = excluded.part",
                [(a.model, a.name, a.key, part, a.state.value, a.severity, a.since, a.occurrence,
                  a.snooze_until) for a in alarms])
            tx.execute_many(
                "INSERT INTO proc_alarm_history (occurrence, t, state, cause, model, alarm, k, recorded) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(c.alarm.occurrence, c.t, c.alarm.state.value, c.cause, c.alarm.model, c.alarm.name,
                  c.alarm.key, now) for c in step.changes])
            tx.execute_many("INSERT INTO proc_outbox (id, part, action, payload) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT DO NOTHING",
                            [(n.id, part, n.action.model_dump_json(by_alias=True, exclude_none=True),
                              json.dumps(n.payload)) for n in step.notifications])
            letters = [("late", json.dumps(_late(x))) for x in step.late]
            letters += [(reason, data.decode(errors="replace")) for reason, data in step.undecodable]
            tx.execute_many("INSERT INTO proc_dead_letters (part, position, n, reason, body) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            [(part, str(position), n, r, b) for n, (r, b) in enumerate(letters)])
            for command_id in commands:
                tx.execute("UPDATE proc_commands SET applied = 1 WHERE id = ?", (command_id,))

        self.db.transact(write)

    # -- outbox ----------------------------------------------------------------------------------
    def pending(self, part: int, limit: int = 500) -> list[tuple[str, str, str]]:
        """Undelivered notifications of a partition: (id, action JSON, payload JSON), oldest first."""
        return self.db.transact(lambda tx: [
            (str(i), str(a), str(p)) for i, a, p in tx.query(
                "SELECT id, action, payload FROM proc_outbox WHERE part = ? AND delivered = 0 "
                "ORDER BY rowid LIMIT ?", (part, limit))])

    def delivered(self, ids: list[str]) -> None:
        self.db.transact(lambda tx: tx.execute_many(
            "UPDATE proc_outbox SET delivered = 1 WHERE id = ?", [(i,) for i in ids]))

    # -- operators' commands ---------------------------------------------------------------------
    def issue(self, model: str, alarm: str, key: str, command: str, snooze_ms: int = 0) -> int:
        """Queue an operator's command for the worker owning the key; return its id. The same
        command still pending from the last few seconds is not queued twice (every worker of a
        group receives an MQTT command)."""
        def insert(tx: Transaction) -> int:
            now = int(time.time() * 1000)
            same = tx.query("SELECT id FROM proc_commands WHERE model = ? AND alarm = ? AND k = ? AND "
                            "command = ? AND snooze_ms = ? AND applied = 0 AND issued > ?",
                            (model, alarm, key, command, snooze_ms, now - COMMAND_DEDUP_MS))
            if same:
                return int(same[0][0])
            tx.execute("INSERT INTO proc_commands (model, alarm, k, command, snooze_ms, issued) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (model, alarm, key, command, snooze_ms, now))
            return int(tx.query("SELECT MAX(id) FROM proc_commands")[0][0])
        return self.db.transact(insert)

    def commands(self) -> list[PendingCommand]:
        rows = self.db.transact(lambda tx: tx.query(
            "SELECT id, model, alarm, k, command, snooze_ms, issued FROM proc_commands "
            "WHERE applied = 0 ORDER BY id"))
        return [PendingCommand(int(i), m, a, k, c, int(s), int(t)) for i, m, a, k, c, s, t in rows]

    # -- queries ---------------------------------------------------------------------------------
    def alarms(self) -> list[dict[str, Any]]:
        rows = self.db.transact(lambda tx: tx.query(
            "SELECT model, alarm, k, state, severity, since, occurrence, snooze_until FROM proc_alarms "
            "ORDER BY model, alarm, k"))
        return [Alarm(m, a, k, int(sev), AlarmState(s), int(since), occ, int(snz)).to_json()
                for m, a, k, s, sev, since, occ, snz in rows]

    def history(self) -> list[dict[str, Any]]:
        rows = self.db.transact(lambda tx: tx.query(
            "SELECT occurrence, t, state, cause, recorded FROM proc_alarm_history ORDER BY t, occurrence"))
        return [{"id": o, "t": int(t), "state": s, "cause": c, "recorded": int(r)} for o, t, s, c, r in rows]

    def dead_letters(self) -> list[tuple[str, str]]:
        return self.db.transact(lambda tx: [(str(r), str(b)) for r, b in tx.query(
            "SELECT reason, body FROM proc_dead_letters ORDER BY part, position, n")])


def _late(late: Any) -> dict[str, Any]:
    return {"window": late.window, "device": late.device, "point": late.point, "t": late.t,
            "value": late.value, "watermark": late.watermark}


__all__ = ["Checkpoint", "LeaseLost", "Notification", "PendingCommand"]
