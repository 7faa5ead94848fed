"""Loads every module in tests/fixtures/ as a pytest plugin, so shared fixtures live beside each other."""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if p.stem != "__init__"
)
