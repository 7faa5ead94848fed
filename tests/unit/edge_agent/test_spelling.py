"""A misspelled configuration key gets "did you mean …" when a known key of that place is close."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.config import AgentConfig, parse_config
from edge_agent.errors import ConfigError
from edge_agent.spelling import known_keys

BASE: dict[str, Any] = {
    "thing": "t1", "site": "s", "asset_type": "a",
    "devices": [{"type": "modbus_tcp", "name": "plc", "host": "10.0.0.5", "points": [{"name": "x", "address": 1}]}],
}


def problems(**changes: Any) -> list[str]:
    with pytest.raises(ConfigError) as error:
        parse_config(BASE | changes)
    return error.value.problems


@pytest.mark.parametrize(("changes", "expected"), [
    ({"thingg": "t2"}, "thingg: Extra inputs are not permitted; did you mean 'thing'?"),
    ({"publish": {"type": "mqtt", "prot": 8883}},
     "publish.prot: Extra inputs are not permitted; did you mean 'port'?"),
    ({"devices": [{**BASE["devices"][0], "pol_interval": "1s"}]},
     "devices[0].pol_interval: Extra inputs are not permitted; did you mean 'poll_interval'?"),
    ({"devices": [{**BASE["devices"][0], "points": [{"name": "x", "adress": 1}]}]},
     "devices[0].points[0].adress: Extra inputs are not permitted; did you mean 'address'?"),
    ({"devices": [{"type": "opcua", "name": "b", "endpoint": "opc.tcp://h:4840", "sampling_intervall": "1s",
                   "points": [{"name": "y", "node": "ns=2;s=Y"}]}]},
     "devices[0].sampling_intervall: Extra inputs are not permitted; did you mean 'sampling_interval'?"),
    ({"status": {"shutdown_grac": "3s"}},
     "status.shutdown_grac: Extra inputs are not permitted; did you mean 'shutdown_grace'?"),
])
def test_close_keys_are_suggested(changes: dict[str, Any], expected: str) -> None:
    assert expected in problems(**changes)


def test_no_suggestion_when_nothing_is_close() -> None:
    assert "colour: Extra inputs are not permitted" in problems(colour="blue")


def test_known_keys_follow_discriminated_unions_and_lists() -> None:
    assert {"host", "port", "unit", "points"} <= known_keys(AgentConfig, ("devices", 0, "modbus_tcp"))
    assert "endpoint" not in known_keys(AgentConfig, ("devices", 0, "modbus_tcp"))
    assert {"name", "address", "dtype"} <= known_keys(AgentConfig, ("devices", 0, "modbus_tcp", "points", 3))
    assert known_keys(AgentConfig, ("nowhere",)) == set()
