"""IoT SQL evaluation rate: evaluations/s on one core for a typical telemetry rule.

The rule has five SELECT expressions and a WHERE with two comparisons; the payload is a ~1 KB batch
envelope. Measured side by side in one run: the payload as bytes (JSON parse included), as a pre-parsed
dict, and ``json.loads`` alone for scale. Rates are per CPU-second of the measuring thread (one core's
worth of work, whatever else the machine runs); the cases take turns over several rounds and each keeps
its best round, so that a busy shared machine disturbs the ratios less.

    .venv/bin/python bench/rules.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from cloud.rules import compile_rule

SQL = (
    "SELECT device, seq, last.temp AS temp, (last.temp - 32) * 5 / 9 AS celsius, topic(4) AS asset "
    "FROM 'dt/+/+/+/telemetry' WHERE last.temp > last.setpoint + 3 AND seq > 0"
)
TOPIC = "$aws/rules/telemetry/dt/plant1/pump/p0007/telemetry"


def payload() -> dict[str, object]:
    """A batch envelope of about 1 KB, shaped as edge_agent writes them."""
    readings = [{"point": f"pt{i:02d}", "t": 1763770000000 + i * 1000, "v": 20.5 + i * 0.25, "q": 0}
                for i in range(12)]
    return {
        "schema": "edgeferry.batch/1", "device": "p0007", "site": "plant1", "asset_type": "pump",
        "epoch": "8f1c2e1a", "seq": 4711, "start": 1763770000000, "end": 1763770011000,
        "readings": readings,
        "last": {"temp": 81.5, "setpoint": 72.0, "pressure": 3.25, "flow": 12.75, "running": True},
    }


ROUNDS = 5


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per CPU-second of ``work`` over about ``seconds`` of CPU (GC paused, as a steady server)."""
    gc.collect()
    gc.disable()
    try:
        count, start = 0, time.thread_time()
        deadline = start + seconds
        while True:
            for _ in range(200):
                work()
            count += 200
            now = time.thread_time()
            if now >= deadline:
                return count / (now - start)
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (0.1 s per case and round)")
    args = parser.parse_args()
    seconds = 0.1 if args.quick else 1.0

    rule = compile_rule(SQL)
    document = payload()
    raw = json.dumps(document).encode()
    assert rule.evaluate(TOPIC, raw) == rule.evaluate(TOPIC, document) is not None

    cases = {
        "json.loads alone (reference)": lambda: json.loads(raw),
        "evaluate, payload bytes (JSON parse included)": lambda: rule.evaluate(TOPIC, raw),
        "evaluate, pre-parsed dict payload": lambda: rule.evaluate(TOPIC, document),
        "compile_rule (per rule, not per message)": lambda: compile_rule(SQL),
    }
    table = Table(title=f"IoT SQL, per CPU-second of one core, payload {len(raw)} bytes")
    table.add_column("case")
    table.add_column("per CPU-second", justify="right")
    table.add_column("µs CPU each", justify="right")
    best = dict.fromkeys(cases, 0.0)
    for _ in range(ROUNDS):
        for name, work in cases.items():
            best[name] = max(best[name], rate(work, seconds))
    for name, per_second in best.items():
        table.add_row(name, f"{per_second:,.0f}", f"{1e6 / per_second:.1f}")
    Console().print(table)
    Console().print(f"rule: {SQL}")


if __name__ == "__main__":
    main()
