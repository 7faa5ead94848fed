"""Consumer-group membership: workers share a stream's partitions through leases in the
checkpoint database.

Each worker renews its membership and leases every ``ttl / 3`` seconds. The fair share is
``ceil(partitions / live members)``: a worker above it releases partitions, one below it claims
unleased or expired ones. A worker that dies (even by SIGKILL) stops renewing; after ``ttl`` its
leases expire and the others take the partitions over, loading the checkpointed state. A
checkpoint commits only while its writer holds the lease (checked in the same transaction), so a
worker that lost a partition cannot overwrite its new owner's progress.
"""

from __future__ import annotations

import math
import time

from cloud.stores.sql import SqlDatabase, Transaction


class Membership:
    """One worker's view of the group."""

    def __init__(self, db: SqlDatabase, member: str, partitions: int, ttl: float) -> None:
        self.db = db
        self.member = member
        self.partitions = partitions
        self.ttl = ttl

    def beat(self) -> set[int]:
        """Renew, rebalance, and return the partitions this worker owns now (blocking)."""
        return self.db.transact(self._beat)

    def _beat(self, tx: Transaction) -> set[int]:
        now = int(time.time() * 1000)
        expires = now + int(self.ttl * 1000)
        tx.execute("INSERT INTO proc_members (member, expires) VALUES (?, ?) ON CONFLICT (member) "
                   "DO UPDATE SET expires = excluded.expires", (self.member, expires))
        tx.execute("DELETE FROM proc_members WHERE expires < ?", (now,))
        tx.execute("DELETE FROM proc_leases WHERE expires < ?", (now,))
        tx.execute("UPDATE proc_leases SET expires = ? WHERE owner = ?", (expires, self.member))
        live = int(tx.query("SELECT COUNT(*) FROM proc_members")[0][0])
        share = math.ceil(self.partitions / max(live, 1))
        mine = sorted(int(p) for (p,) in tx.query("SELECT part FROM proc_leases WHERE owner = ?",
                                                  (self.member,)))
        for part in mine[share:]:
            tx.execute("DELETE FROM proc_leases WHERE part = ? AND owner = ?", (part, self.member))
        mine = mine[:share]
        taken = {int(p) for (p,) in tx.query("SELECT part FROM proc_leases")}
        for part in range(self.partitions):
            if len(mine) >= share:
                break
            if part not in taken:
                tx.execute("INSERT INTO proc_leases (part, owner, expires) VALUES (?, ?, ?)",
                           (part, self.member, expires))
                mine.append(part)
        return set(mine)

    def leave(self) -> None:
        """Give the partitions up at once (a clean stop), so the others need not wait ``ttl``."""
        def leave(tx: Transaction) -> None:
            tx.execute("DELETE FROM proc_leases WHERE owner = ?", (self.member,))
            tx.execute("DELETE FROM proc_members WHERE member = ?", (self.member,))
        self.db.transact(leave)
