"""Nothing lost? Each trailer's spool file says what it made; the ledger says what arrived.

After the fleet stops, every spool is read back from disk (read-only): its epoch, its last seq,
its drop and rejection counters, and the batches still stored. The batches a trailer made in
this run are the seqs above the one it started from; each of them must have arrived, still be
in the spool (pending), or be counted as dropped or rejected by the spool's own policy. Any
other is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.spool.sqlite_store import connect_read_only, read_meta
from simulators.fleet.ledger import Ledger
from simulators.fleet.trailer import Trailer


@dataclass(frozen=True, slots=True)
class TrailerAccount:
    thing: str
    epoch: str
    generated: int
    """Batches made in this run and kept by the spool (seq range minus drops and rejections)."""
    received: int
    pending: int
    dropped: int
    rejected: int
    duplicates: int
    carried_over: int
    """Batches of an earlier run delivered in this one."""

    @property
    def lost(self) -> int:
        return self.generated - self.received - self.pending


def account(trailer: Trailer, ledger: Ledger) -> TrailerAccount:
    """Read the trailer's spool file back and compare it with the ledger."""
    conn = connect_read_only(trailer.spool_path)
    try:
        meta = read_meta(conn)
        stored = {int(row[0]) for row in conn.execute("SELECT seq FROM batches")}
    finally:
        conn.close()
    made = range(trailer.start_seq + 1, meta.last_seq + 1)
    arrived = ledger.seqs(trailer.thing, meta.epoch)
    dropped = meta.dropped - trailer.start_dropped  # both full policies: oldest dropped, newest refused
    rejected = meta.rejected - trailer.start_rejected
    return TrailerAccount(
        thing=trailer.thing, epoch=meta.epoch,
        generated=len(made) - dropped - rejected,
        received=sum(1 for seq in arrived if seq in made),
        pending=sum(1 for seq in stored if seq in made),
        dropped=dropped, rejected=rejected,
        duplicates=ledger.book.copies(trailer.thing),
        carried_over=sum(1 for seq in arrived if seq <= trailer.start_seq))


@dataclass(frozen=True, slots=True)
class FleetAccount:
    """The sum over the fleet, and the trailers that lost anything."""

    generated: int
    received: int
    duplicates: int
    pending: int
    dropped: int
    rejected: int
    carried_over: int
    lost: int
    losing: list[str]

    @classmethod
    def of(cls, accounts: list[TrailerAccount]) -> FleetAccount:
        return cls(
            generated=sum(a.generated for a in accounts), received=sum(a.received for a in accounts),
            duplicates=sum(a.duplicates for a in accounts), pending=sum(a.pending for a in accounts),
            dropped=sum(a.dropped for a in accounts), rejected=sum(a.rejected for a in accounts),
            carried_over=sum(a.carried_over for a in accounts), lost=sum(a.lost for a in accounts),
            losing=[a.thing for a in accounts if a.lost])
