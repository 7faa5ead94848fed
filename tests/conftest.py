"""Loads every module in tests/fixtures/ as a pytest plugin, so shared fixtures live beside each other.

Property tests run without Hypothesis's per-example deadline: the suite runs on small shared
machines where one slow example says nothing about the code, and timing is measured in bench/.
"""

from pathlib import Path

from hypothesis import settings

settings.register_profile("edgeferry", deadline=None)
settings.load_profile("edgeferry")

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (Path(__file__).parent / "fixtures").glob("*.py")
    if p.stem != "__init__"
)
