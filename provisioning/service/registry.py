"""The thing registry: things, thing groups, certificates and their attachments, in SQLite.

Certificate statuses are IoT Core's: PENDING_ACTIVATION (issued over MQTT, not yet registered),
ACTIVE, INACTIVE and REVOKED. A pending certificate carries its ownership token, valid one hour
(fleet-provision-api.md); an unregistered certificate whose token has expired is deleted. The
token outlives :meth:`Registry.register` until :meth:`Registry.confirm_registration`: a
RegisterThing that failed after the registry step (its reply never said "accepted") can be
retried with the same token instead of costing the device a new certificate.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

CertificateStatus = Literal["PENDING_ACTIVATION", "ACTIVE", "INACTIVE", "REVOKED"]
Override = Literal["DO_NOTHING", "REPLACE", "MERGE"]
STATUSES: tuple[CertificateStatus, ...] = ("PENDING_ACTIVATION", "ACTIVE", "INACTIVE", "REVOKED")
TOKEN_LIFETIME = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS things (
    name TEXT PRIMARY KEY, thing_type TEXT, attributes TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS thing_groups (
    thing TEXT NOT NULL REFERENCES things(name) ON DELETE CASCADE, name TEXT NOT NULL,
    PRIMARY KEY (thing, name));
CREATE TABLE IF NOT EXISTS certificates (
    id TEXT PRIMARY KEY, common_name TEXT NOT NULL UNIQUE, serial TEXT NOT NULL, pem TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, token TEXT UNIQUE, token_expires_at REAL,
    claim TEXT);
CREATE TABLE IF NOT EXISTS attachments (
    thing TEXT NOT NULL REFERENCES things(name) ON DELETE CASCADE,
    certificate_id TEXT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    PRIMARY KEY (thing, certificate_id));
CREATE TABLE IF NOT EXISTS certificate_policies (
    certificate_id TEXT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    policy TEXT NOT NULL, PRIMARY KEY (certificate_id, policy));
"""


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    certificate_id: str
    common_name: str
    serial: int
    status: CertificateStatus
    created_at: float
    token_expires_at: float | None
    claim: str | None
    things: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """What the broker needs to know about one certificate."""

    certificate_id: str
    common_name: str
    status: CertificateStatus
    serial: int
    things: list[str]


@dataclass(frozen=True, slots=True)
class ThingRecord:
    name: str
    thing_type: str | None
    attributes: dict[str, str]
    groups: tuple[str, ...]
    created_at: float
    certificates: tuple[CertificateRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class Registration:
    """What RegisterThing writes, as a provisioning template decided it."""

    thing_name: str
    attributes: dict[str, str] = field(default_factory=dict)
    thing_type: str | None = None
    groups: tuple[str, ...] = ()
    certificate_status: CertificateStatus = "ACTIVE"
    policies: tuple[str, ...] = ()
    attributes_override: Override = "DO_NOTHING"
    """What to do with the attributes of a thing that already exists (OverrideSettings)."""
    groups_override: Override = "DO_NOTHING"
    type_override: Override = "DO_NOTHING"


class Registry:
    """One SQLite file; safe to use from several threads of one process and from several processes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # certificates -------------------------------------------------------------------------------

    def add_pending_certificate(self, *, certificate_id: str, common_name: str, serial: int, pem: str,
                                token: str, claim: str | None, now: float | None = None) -> None:
        created = time.time() if now is None else now
        with self._transaction() as db:
            db.execute(
                "INSERT INTO certificates (id, common_name, serial, pem, status, created_at, token, "
                "token_expires_at, claim) VALUES (?, ?, ?, ?, 'PENDING_ACTIVATION', ?, ?, ?, ?)",
                (certificate_id, common_name, str(serial), pem, created, token, created + TOKEN_LIFETIME,
                 claim))

    def certificate_for_token(self, token: str, now: float | None = None) -> CertificateRecord | None:
        """The certificate this ownership token proves, if the token is known and valid: a pending
        one, or one registered by a RegisterThing not yet confirmed (its ``things`` say where)."""
        at = time.time() if now is None else now
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM certificates WHERE token = ? AND token_expires_at > ?",
                (token, at)).fetchone()
        return self.certificate(row[0]) if row else None

    def certificate(self, certificate_id: str) -> CertificateRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, common_name, serial, status, created_at, token_expires_at, claim "
                "FROM certificates WHERE id = ?", (certificate_id,)).fetchone()
            if row is None:
                return None
            things = tuple(r[0] for r in self._db.execute(
                "SELECT thing FROM attachments WHERE certificate_id = ? ORDER BY thing", (row[0],)))
            policies = tuple(r[0] for r in self._db.execute(
                "SELECT policy FROM certificate_policies WHERE certificate_id = ? ORDER BY policy",
                (row[0],)))
        return CertificateRecord(row[0], row[1], int(row[2]), row[3], row[4], row[5], row[6],
                                 things, policies)

    def certificates(self) -> list[CertificateRecord]:
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM certificates ORDER BY created_at")]
        return [c for c in (self.certificate(i) for i in ids) if c is not None]

    def access_entries(self) -> list[AccessEntry]:
        """Every certificate's ID, CN, status, serial and things, in one query (for the broker)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.common_name, c.status, c.serial, a.thing FROM certificates c "
                "LEFT JOIN attachments a ON a.certificate_id = c.id ORDER BY c.created_at").fetchall()
        entries: dict[str, AccessEntry] = {}
        for certificate_id, common_name, status, serial, thing in rows:
            entry = entries.setdefault(certificate_id, AccessEntry(certificate_id, common_name, status,
                                                                   int(serial), []))
            if thing is not None:
                entry.things.append(thing)
        return list(entries.values())

    def set_status(self, certificate_id: str, status: CertificateStatus) -> None:
        with self._transaction() as db:
            db.execute("UPDATE certificates SET status = ?, token = NULL WHERE id = ?",
                       (status, certificate_id))

    def delete_expired_pending(self, now: float | None = None) -> int:
        """Delete unregistered certificates whose ownership token has expired; how many."""
        at = time.time() if now is None else now
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM certificates WHERE status = 'PENDING_ACTIVATION' AND token_expires_at <= ? "
                "AND id NOT IN (SELECT certificate_id FROM attachments)", (at,))
            return cursor.rowcount

    # things -----------------------------------------------------------------------------------

    def register(self, certificate_id: str, registration: Registration, now: float | None = None) -> None:
        """Create or update the thing, attach the certificate and set its status, atomically;
        again with the same arguments, the same result. The ownership token stays valid until
        :meth:`confirm_registration`."""
        created = time.time() if now is None else now
        r = registration
        with self._transaction() as db:
            row = db.execute("SELECT attributes FROM things WHERE name = ?", (r.thing_name,)).fetchone()
            if row is None:
                db.execute("INSERT INTO things (name, thing_type, attributes, created_at) "
                           "VALUES (?, ?, ?, ?)",
                           (r.thing_name, r.thing_type, json.dumps(r.attributes), created))
                groups: tuple[str, ...] = r.groups
            else:
                attributes = {"MERGE": {**json.loads(row[0]), **r.attributes}, "REPLACE": r.attributes,
                              "DO_NOTHING": json.loads(row[0])}[r.attributes_override]
                db.execute("UPDATE things SET attributes = ? WHERE name = ?",
                           (json.dumps(attributes), r.thing_name))
                if r.type_override == "REPLACE":
                    db.execute("UPDATE things SET thing_type = ? WHERE name = ?",
                               (r.thing_type, r.thing_name))
                if r.groups_override == "REPLACE":
                    db.execute("DELETE FROM thing_groups WHERE thing = ?", (r.thing_name,))
                groups = () if r.groups_override == "DO_NOTHING" else r.groups
            db.executemany("INSERT OR IGNORE INTO thing_groups (thing, name) VALUES (?, ?)",
                           [(r.thing_name, g) for g in groups])
            db.execute("INSERT OR IGNORE INTO attachments (thing, certificate_id) VALUES (?, ?)",
                       (r.thing_name, certificate_id))
            db.executemany("INSERT OR IGNORE INTO certificate_policies (certificate_id, policy) "
                           "VALUES (?, ?)", [(certificate_id, p) for p in r.policies])
            db.execute("UPDATE certificates SET status = ? WHERE id = ?", (r.certificate_status, certificate_id))

    def confirm_registration(self, certificate_id: str) -> None:
        """The device is told its registration succeeded: its ownership token is spent."""
        with self._transaction() as db:
            db.execute("UPDATE certificates SET token = NULL, token_expires_at = NULL WHERE id = ?",
                       (certificate_id,))

    def thing_exists(self, name: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM things WHERE name = ?", (name,)).fetchone() is not None

    def thing_with_attribute(self, attribute: str, value: str) -> str | None:
        """The name of a thing whose attribute ``attribute`` is ``value``, if any."""
        with self._lock:
            row = self._db.execute("SELECT name FROM things WHERE json_extract(attributes, ?) = ? LIMIT 1",
                                   (f'$."{attribute}"', value)).fetchone()
        return None if row is None else str(row[0])

    def thing(self, name: str) -> ThingRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, thing_type, attributes, created_at FROM things WHERE name = ?",
                (name,)).fetchone()
            if row is None:
                return None
            groups = tuple(r[0] for r in self._db.execute(
                "SELECT name FROM thing_groups WHERE thing = ? ORDER BY name", (name,)))
            cert_ids = [r[0] for r in self._db.execute(
                "SELECT certificate_id FROM attachments WHERE thing = ? ORDER BY certificate_id", (name,))]
        certificates = tuple(c for c in (self.certificate(i) for i in cert_ids) if c is not None)
        return ThingRecord(row[0], row[1], json.loads(row[2]), groups, row[3], certificates)

    def things(self) -> list[ThingRecord]:
        with self._lock:
            names = [r[0] for r in self._db.execute("SELECT name FROM things ORDER BY name")]
        return [t for t in (self.thing(n) for n in names) if t is not None]
