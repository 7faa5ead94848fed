"""HTTP topic rule destinations, as AWS IoT keeps them (rule-destination-http-managing.html):
a destination per confirmation URL, in state IN_PROGRESS until its endpoint proves it is reached
by sending back the confirmation token, then ENABLED; ERROR when the confirmation request failed.
Only an ENABLED destination may receive data."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Literal

from cloud.stores.sql import SqlDatabase, Transaction

State = Literal["IN_PROGRESS", "ENABLED", "DISABLED", "ERROR"]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS destinations (
        confirmation_url TEXT PRIMARY KEY, arn TEXT NOT NULL, state TEXT NOT NULL,
        token TEXT NOT NULL UNIQUE, reason TEXT NOT NULL DEFAULT '')""",
)


@dataclass(frozen=True, slots=True)
class Destination:
    confirmation_url: str
    arn: str
    state: State
    token: str
    reason: str


class DestinationStore:
    """The destinations of a rules run, in one SQLite database (the runner and the command that
    confirms a destination share it)."""

    def __init__(self, db: SqlDatabase, *, region: str = "local", account: str = "000000000000") -> None:
        self.db = db
        self._arn_prefix = f"arn:aws:iot:{region}:{account}:ruledestination/http/"

    def open(self) -> None:
        self.db.open(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def get(self, confirmation_url: str) -> Destination | None:
        rows = self.db.transact(lambda tx: tx.query(
            "SELECT confirmation_url, arn, state, token, reason FROM destinations WHERE confirmation_url = ?",
            (confirmation_url,)))
        return Destination(*rows[0]) if rows else None

    def to_confirm(self, confirmation_url: str) -> Destination | None:
        """The destination of ``confirmation_url``, created IN_PROGRESS with a new token when missing
        or put back IN_PROGRESS when its confirmation failed; None when it needs no confirmation request."""
        def work(tx: Transaction) -> Destination | None:
            rows = tx.query("SELECT state FROM destinations WHERE confirmation_url = ?", (confirmation_url,))
            if rows and rows[0][0] != "ERROR":
                return None
            token = secrets.token_urlsafe(48)
            tx.execute("""INSERT INTO destinations (confirmation_url, arn, state, token) VALUES (?, ?, 'IN_PROGRESS', ?)
                ON CONFLICT (confirmation_url) DO UPDATE SET state = 'IN_PROGRESS', token = excluded.token,
                reason = ''""", (confirmation_url, f"{self._arn_prefix}{uuid.uuid4()}", token))
            [row] = tx.query("SELECT confirmation_url, arn, state, token, reason FROM destinations "
                             "WHERE confirmation_url = ?", (confirmation_url,))
            return Destination(*row)
        return self.db.transact(work)

    def failed(self, confirmation_url: str, reason: str) -> None:
        """The confirmation request did not reach the endpoint: the destination is in ERROR."""
        self.db.transact(lambda tx: tx.execute(
            "UPDATE destinations SET state = 'ERROR', reason = ? WHERE confirmation_url = ?",
            (reason, confirmation_url)))

    def confirm(self, token: str) -> Destination:
        """ConfirmTopicRuleDestination: the IN_PROGRESS destination holding ``token`` becomes ENABLED;
        an unknown token is a ValueError."""
        def work(tx: Transaction) -> Destination:
            if not tx.execute("UPDATE destinations SET state = 'ENABLED' WHERE token = ? AND state = 'IN_PROGRESS'",
                              (token,)):
                raise ValueError("no destination awaits this confirmation token")
            [row] = tx.query("SELECT confirmation_url, arn, state, token, reason FROM destinations WHERE token = ?",
                             (token,))
            return Destination(*row)
        return self.db.transact(work)
