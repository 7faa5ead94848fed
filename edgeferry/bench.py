"""``edgeferry bench [NAME ...] [--quick]``: run the benchmark scripts in ``bench/`` (from a source
checkout); each prints its own figures. Results and commands are recorded in docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from edge_agent.errors import EdgeferryError

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


def available() -> list[str]:
    """The runnable scripts in bench/ (helper modules have no ``__main__`` block)."""
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if "__main__" in p.read_text())


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="short runs")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    names = available()
    if not names:
        raise EdgeferryError(f"no benchmarks in {BENCH_DIR} (run from a source checkout)")
    if args.list:
        print("\n".join(names))
        return 0
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        raise EdgeferryError(f"unknown benchmark {', '.join(unknown)}; available: {', '.join(names)}")
    failed = 0
    for name in args.names or names:
        print(f"== bench/{name}.py", flush=True)
        command = [sys.executable, str(BENCH_DIR / f"{name}.py"), *(["--quick"] if args.quick else [])]
        failed += subprocess.run(command, check=False).returncode != 0
    return 1 if failed else 0
