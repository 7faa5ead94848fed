"""OPC-UA device configuration: addresses, array expansion, security, intervals."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from edge_agent.interfaces import Source
from edge_agent.sources.opcua.config import OpcUaDevice
from edge_agent.sources.opcua.targets import expand_points


def device(**overrides: Any) -> OpcUaDevice:
    data: dict[str, Any] = {"type": "opcua", "name": "booster", "endpoint": "opc.tcp://127.0.0.1:4840/",
                            "points": [{"name": "flow", "node": "ns=2;s=Pump1.Flow"}]}
    data.update(overrides)
    return OpcUaDevice.model_validate(data)


def test_defaults_and_durations() -> None:
    d = device(poll_interval="250ms", sampling_interval="2s", watchdog_interval=0.5)
    assert (d.poll_interval, d.sampling_interval, d.watchdog_interval) == (0.25, 2.0, 0.5)
    assert d.points[0].sampling == "subscribe"
    assert d.security.policy == "None"
    assert d.buffer == 1000


@pytest.mark.parametrize("node", ["ns=2;s=Pump1.Flow", "ns=3;i=1001", "i=2258",
                                  "ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a", "ns=2;b=M/RbKBsRVkePCePcx24oRA=="])
def test_node_id_forms_accepted(node: str) -> None:
    assert device(points=[{"name": "p", "node": node}]).points[0].node == node


@pytest.mark.parametrize("node", ["Pump1.Flow", "ns=x;s=a", "ns=2;i=abc", "ns=2;q=1"])
def test_malformed_node_ids_refused(node: str) -> None:
    with pytest.raises(ValidationError, match="node"):
        device(points=[{"name": "p", "node": node}])


def test_exactly_one_address() -> None:
    with pytest.raises(ValidationError, match="exactly one of node or browse_path"):
        device(points=[{"name": "p"}])
    with pytest.raises(ValidationError, match="exactly one of node or browse_path"):
        device(points=[{"name": "p", "node": "i=1", "browse_path": "2:Station"}])


def test_intervals_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="poll_interval"):
        device(poll_interval=0)


def test_security_needs_certificate_and_matching_mode(tmp_path: Any) -> None:
    with pytest.raises(ValidationError, match="needs certificate and private_key"):
        device(security={"policy": "Basic256Sha256", "mode": "Sign"})
    with pytest.raises(ValidationError, match="policy None goes with mode None"):
        device(security={"policy": "None", "mode": "SignAndEncrypt"})
    ok = device(security={"policy": "Basic256Sha256", "mode": "SignAndEncrypt",
                          "certificate": str(tmp_path / "c.der"), "private_key": str(tmp_path / "k.pem")})
    assert ok.security.mode == "SignAndEncrypt"


def test_array_points_expand_names_and_addresses() -> None:
    d = device(points=[
        {"name": "pump{i}_flow", "node": "ns=2;s=Pump{i}.Flow", "count": 3, "start": 1, "scale": 2.0},
        {"name": "level", "browse_path": "2:Station/2:TankLevel", "sampling": "poll"},
    ])
    targets = expand_points(d.points)
    assert [(t.point, t.node) for t in targets[:3]] == [
        ("pump1_flow", "ns=2;s=Pump1.Flow"), ("pump2_flow", "ns=2;s=Pump2.Flow"), ("pump3_flow", "ns=2;s=Pump3.Flow")]
    assert all(t.scale == 2.0 and t.sampling == "subscribe" for t in targets[:3])
    assert targets[3].browse_path == "2:Station/2:TankLevel"
    assert targets[3].address == "Objects/2:Station/2:TankLevel"
    assert targets[3].sampling == "poll"


def test_build_makes_the_source() -> None:
    source = device().build()
    assert isinstance(source, Source)
    assert source.name == "booster"
    assert source.counters.snapshot() == {}
