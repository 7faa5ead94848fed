"""Child process of test_crash.py: puts, takes and acks on a spool forever, reporting each step.

Lines on stdout, flushed at once: ``open <epoch> <last_seq>``, ``P+ <seq>`` (before put),
``P= <seq>`` (put returned), ``T <seq>`` (taken), ``A+ <seq>`` / ``A= <seq>`` (around ack(None)),
``N <seq>`` (requeued with Retryable). The parent SIGKILLs it at random moments.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

from edge_agent.errors import Retryable
from edge_agent.interfaces import Spool
from edge_agent.spool.config import SqliteSpoolConfig
from edge_agent.spool.sqlite import SqliteSpool
from tests.contracts.spool_contract import make_batch


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def put(spool: Spool, seq: int) -> None:
    report(f"P+ {seq}")
    await spool.put(make_batch(spool.epoch, seq, readings=20))
    report(f"P= {seq}")


async def main(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    async with SqliteSpool(SqliteSpoolConfig(path=path)) as spool:
        report(f"open {spool.epoch} {spool.last_seq}")
        seq = spool.last_seq
        while True:
            if rng.random() < 0.5:
                count = rng.randint(1, 8)  # concurrent puts: one group commit
                await asyncio.gather(*(put(spool, seq + i) for i in range(1, count + 1)))
                seq += count
                continue
            try:
                batch, ack = await asyncio.wait_for(spool.take(), timeout=0.05)
            except TimeoutError:
                continue
            report(f"T {batch.seq}")
            if rng.random() < 0.15:
                await ack(Retryable("link down"))
                report(f"N {batch.seq}")
            else:
                report(f"A+ {batch.seq}")
                await ack(None)
                report(f"A= {batch.seq}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
