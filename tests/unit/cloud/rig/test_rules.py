"""The rules file the rig's broker plugin reads: one line per statement, principal and limit, all
derived from the policy documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.rig.rules import BrokerAuthorization, Limits, append_principal
from provisioning.policy import PolicyError, Principal


def lines(authorization: BrokerAuthorization) -> list[list[str]]:
    return [line.split("\t") for line in authorization.render().splitlines() if not line.startswith("#")]


def test_the_device_policy_is_flattened_one_statement_per_action_and_resource() -> None:
    rendered = lines(BrokerAuthorization())
    device = rendered[rendered.index(["policy", "edgeferry-device"]) + 1:rendered.index(["policy", "edgeferry-cloud"])]
    assert ["statement", "Allow", "iot:Connect", "1", "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"] \
        in device
    assert ["statement", "Allow", "iot:Publish", "0",
            "arn:aws:iot:*:*:topic/$aws/rules/edgeferry_alarms/dt/*/*/${iot:Connection.Thing.ThingName}/alarm"] \
        in device
    assert {s[2] for s in device} == {"iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"}


def test_limits_and_principals_are_written() -> None:
    authorization = BrokerAuthorization(limits=Limits(connect_per_client=0, publish_per_second=5))
    authorization.principals["c1"] = Principal("c1", ("edgeferry-device",), ("pump-1", "pump-2"), "REVOKED")
    rendered = lines(authorization)
    assert ["limit", "connect_per_client", "0"] in rendered
    assert ["limit", "publish_per_second", "5"] in rendered
    assert ["principal", "c1", "REVOKED", "1", "edgeferry-device", "pump-1,pump-2"] in rendered


def test_a_policy_the_rig_cannot_evaluate_faithfully_is_refused_when_rendering() -> None:
    authorization = BrokerAuthorization()
    authorization.policies["odd"] = {"Statement": [{"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "*"}]}
    with pytest.raises(PolicyError, match="NotAction"):
        authorization.render()


def test_issued_principals_are_appended_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "principals"
    append_principal(path, Principal("a", ("edgeferry-device",), ("t-1",)))
    append_principal(path, Principal("b", ("edgeferry-cloud",), limited=False))
    assert path.read_text().splitlines() == ["principal\ta\tACTIVE\t1\tedgeferry-device\tt-1",
                                             "principal\tb\tACTIVE\t0\tedgeferry-cloud\t-"]
