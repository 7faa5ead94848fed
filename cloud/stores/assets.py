"""The local stand-in of AWS IoT SiteWise: an asset model (site → line → machine → sensor, each
sensor a property with an alias) and the timestamp-quality-value points written to its properties.

As BatchPutAssetPropertyValue does (iot-sitewise API reference), a point is refused when its alias
names no property or its time is more than 7 days in the past or 10 minutes in the future, and a
point with the time and quality of a stored one replaces it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cloud.stores.sql import SqlDatabase, Transaction

LEVELS = ("site", "line", "machine", "sensor")
PAST, FUTURE = 7 * 86400, 600
"""The seconds before and after now that SiteWise accepts a point's time within."""

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS assets (
        id INTEGER PRIMARY KEY, parent INTEGER REFERENCES assets (id), level TEXT NOT NULL,
        name TEXT NOT NULL, UNIQUE (parent, name))""",
    """CREATE TABLE IF NOT EXISTS properties (
        alias TEXT PRIMARY KEY, sensor INTEGER NOT NULL REFERENCES assets (id))""",
    """CREATE TABLE IF NOT EXISTS property_values (
        alias TEXT NOT NULL REFERENCES properties (alias), seconds BIGINT NOT NULL, nanos INTEGER NOT NULL,
        quality TEXT NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (alias, seconds, nanos, quality))""",
)
_CONTEXT = """SELECT site.name, line.name, machine.name, sensor.name FROM properties p
    JOIN assets sensor ON sensor.id = p.sensor JOIN assets machine ON machine.id = sensor.parent
    JOIN assets line ON line.id = machine.parent JOIN assets site ON site.id = line.parent WHERE p.alias = ?"""

AssetModel = dict[str, dict[str, dict[str, dict[str, str]]]]
"""site → line → machine → sensor → property alias."""


@dataclass(frozen=True, slots=True)
class PropertyPoint:
    """One timestamp-quality-value point of a property; ``type`` names the variant (``double``,
    ``integer``, ``boolean``, ``string``)."""

    alias: str
    seconds: int
    nanos: int
    quality: str
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class StoredPoint:
    """A point with its asset context."""

    site: str
    line: str
    machine: str
    sensor: str
    point: PropertyPoint


class AssetStore:
    """The asset model and property values in one SQLite database; ``model`` is upserted on open."""

    def __init__(self, db: SqlDatabase, model: AssetModel) -> None:
        self.db = db
        self.model = model

    def open(self) -> None:
        self.db.open(SCHEMA)
        self.db.transact(self._load_model)

    def close(self) -> None:
        self.db.close()

    def _load_model(self, tx: Transaction) -> None:
        for site, lines in self.model.items():
            site_id = _asset(tx, None, "site", site)
            for line, machines in lines.items():
                line_id = _asset(tx, site_id, "line", line)
                for machine, sensors in machines.items():
                    machine_id = _asset(tx, line_id, "machine", machine)
                    for sensor, alias in sensors.items():
                        sensor_id = _asset(tx, machine_id, "sensor", sensor)
                        tx.execute("INSERT INTO properties (alias, sensor) VALUES (?, ?) ON CONFLICT (alias) "
                                   "DO UPDATE SET sensor = excluded.sensor", (alias, sensor_id))

    async def put(self, points: list[PropertyPoint]) -> None:
        """Store every point, or none: the first one SiteWise would refuse raises ValueError."""
        now = time.time()
        for p in points:
            if not now - PAST <= p.seconds + p.nanos / 1e9 <= now + FUTURE:
                raise ValueError(f"TimestampOutOfRangeException: {p.alias} at {p.seconds}s is outside "
                                 "[-7 days, +10 minutes] of now")
        await self.db.run(lambda tx: self._put(tx, points))

    @staticmethod
    def _put(tx: Transaction, points: list[PropertyPoint]) -> None:
        for p in points:
            if not tx.query("SELECT 1 FROM properties WHERE alias = ?", (p.alias,)):
                raise ValueError(f"ResourceNotFoundException: no asset property has the alias {p.alias!r}")
        tx.execute_many(
            """INSERT INTO property_values (alias, seconds, nanos, quality, type, value) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (alias, seconds, nanos, quality) DO UPDATE SET type = excluded.type, value = excluded.value""",
            [(p.alias, p.seconds, p.nanos, p.quality, p.type, p.value) for p in points])

    def history(self, alias: str) -> list[StoredPoint]:
        """The points of one property, oldest first, with the site, line, machine and sensor it belongs to."""
        def read(tx: Transaction) -> list[StoredPoint]:
            [(site, line, machine, sensor)] = tx.query(_CONTEXT, (alias,))
            rows = tx.query("SELECT alias, seconds, nanos, quality, type, value FROM property_values "
                            "WHERE alias = ? ORDER BY seconds, nanos", (alias,))
            return [StoredPoint(site, line, machine, sensor, PropertyPoint(*row)) for row in rows]
        return self.db.transact(read)


def _asset(tx: Transaction, parent: int | None, level: str, name: str) -> int:
    where = "parent IS NULL" if parent is None else "parent = ?"
    params = (name,) if parent is None else (name, parent)
    found = tx.query(f"SELECT id FROM assets WHERE name = ? AND {where}", params)
    if found:
        return int(found[0][0])
    tx.execute("INSERT INTO assets (parent, level, name) VALUES (?, ?, ?)", (parent, level, name))
    return int(tx.query(f"SELECT id FROM assets WHERE name = ? AND {where}", params)[0][0])
