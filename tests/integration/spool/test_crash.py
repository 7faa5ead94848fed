"""SIGKILL a process using the SQLite spool at random moments, many times; after each kill check
that nothing whose put returned was lost unless acknowledged, no seq was reused, and the epoch
did not change."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("crash_child.py")
ROOT = Path(__file__).resolve().parents[3]
KILLS = 20


@dataclass
class Run:
    """What one child reported before it was killed."""

    lines: list[str] = field(default_factory=list)
    opened: threading.Event = field(default_factory=threading.Event)

    def seqs(self, tag: str) -> set[int]:
        return {int(line.split()[1]) for line in self.lines if line.split()[0] == tag}


def run_until_killed(db: Path, seed: int, rng: random.Random) -> Run:
    child = subprocess.Popen([sys.executable, str(CHILD), str(db), str(seed)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    run = Run()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            run.lines.append(line.strip())
            if line.startswith("open"):
                run.opened.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert run.opened.wait(60), "child did not open the spool"
        time.sleep(rng.uniform(0.02, 0.4))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        reader.join(30)
    return run


def stored(db: Path) -> tuple[str, int, set[int]]:
    conn = sqlite3.connect(db)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        seqs = {row[0] for row in conn.execute("SELECT seq FROM batches")}
    finally:
        conn.close()
    return str(meta["epoch"]), int(meta["last_seq"]), seqs


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing_acknowledged(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    db = tmp_path / "spool.db"
    epoch: str | None = None
    returned: set[int] = set()  # put returned
    acked: set[int] = set()  # ack(None) returned
    acking: set[int] = set()  # ack(None) begun: may have committed before the kill
    started: set[int] = set()  # put begun in an earlier run
    kills_mid_put = 0
    for i in range(KILLS):
        run = run_until_killed(db, rng.randrange(1 << 30), rng)
        context = f"seed {seed}, run {i}, last lines {run.lines[-4:]}"
        opened = run.lines[0].split()
        if epoch is None:
            epoch = opened[1]
        assert opened[1] == epoch, context
        assert int(opened[2]) >= max(returned, default=0), context
        begun = run.seqs("P+")
        assert not begun & (returned | acked), f"seq reused: {sorted(begun & returned)} ({context})"
        assert min(begun, default=int(opened[2]) + 1) > int(opened[2]), context
        kills_mid_put += bool(begun - run.seqs("P="))
        returned |= run.seqs("P=")
        acked |= run.seqs("A=")
        acking |= run.seqs("A+")
        started |= begun

        now_epoch, last_seq, present = stored(db)
        assert now_epoch == epoch, context
        assert present <= started, f"invented batches {sorted(present - started)} ({context})"
        lost = returned - present - acked - acking
        assert not lost, f"lost batches {sorted(lost)} ({context})"
        assert not acked & present, f"acknowledged batches came back {sorted(acked & present)} ({context})"
        assert last_seq >= max(returned | present, default=0), context
        # seqs begun but never committed may be used again by the next run: forget them
        started &= present | returned | acked
    assert len(returned) > KILLS, "the children did too little work to test anything"
    assert acked, "no batch was ever acknowledged"
    assert kills_mid_put > 0 or len(returned) > 500
