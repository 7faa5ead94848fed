"""Text logs: logfmt values, and log lines that print above a live status line, not glued to it."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest
from rich.console import Console
from rich.live import Live
from rich.text import Text

from edgeferry.logs import TextFormatter, configure_logging


@pytest.fixture
def default_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO")
    yield
    root.handlers[:], root.level = saved


def test_values_with_spaces_are_quoted() -> None:
    record = logging.makeLogRecord({"msg": "mqtt_connect_failed", "levelname": "WARNING", "name": "x",
                                    "cause": "connection refused: nothing listens", "thing": "t1"})
    line = TextFormatter().format(record)
    assert line.endswith('mqtt_connect_failed cause="connection refused: nothing listens" thing=t1')


def test_a_log_line_goes_above_the_live_status_line(default_logging: None) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    with Live(Text("t1 0 readings/s  link waiting"), console=console, auto_refresh=False) as live:
        live.refresh()
        logging.getLogger("edge_agent.publish.mqtt").warning("mqtt_connect_failed", extra={"thing": "t1"})
        live.refresh()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())  # drop cursor movements
    lines = re.split(r"[\r\n]", text)  # a carriage return starts the line over
    assert any(re.fullmatch(r"\S+Z WARNING +edge_agent\.publish\.mqtt: mqtt_connect_failed thing=t1", line)
               for line in lines), text
    assert not re.search(r"link waiting\S", text)
