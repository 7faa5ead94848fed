"""The exported device policy against every topic edgeferry uses by default: all of a thing's own
topics allowed, every other thing's denied (evaluated as IoT Core evaluates policies)."""

from __future__ import annotations

import pytest

from components.recipe import RecipeParams
from edge_agent.envelope import TopicScheme
from edge_agent.publish.config import GreengrassPublishConfig, MqttPublishConfig
from provisioning.aws.export import DEVICE_POLICY_NAME, device_policy
from provisioning.policy import PolicyError, check, statements

THING = "reefer-00042"
OTHER = "reefer-00043"
POLICIES = {DEVICE_POLICY_NAME: device_policy(region="eu-west-1", account="123456789012")}
PREFIX = "arn:aws:iot:eu-west-1:123456789012:"

# (who uses them, telemetry rule, alarm rule) with their default settings
DEFAULT_RULES = [
    ("agent", MqttPublishConfig().rule, MqttPublishConfig().alarm_rule),
    ("greengrass component", GreengrassPublishConfig(type="greengrass_ipc").rule,
     GreengrassPublishConfig(type="greengrass_ipc").alarm_rule),
    ("component recipe", RecipeParams("c", "1.0.0", ()).rule,
     RecipeParams("c", "1.0.0", ()).alarm_rule),
    ("fleet simulator", MqttPublishConfig(endpoint="127.0.0.1").rule, MqttPublishConfig().alarm_rule),
    ("plain topics (no basic ingest)", None, None),
]


def requests(device: str, rule: str | None, alarm_rule: str | None) -> list[tuple[str, str]]:
    scheme = TopicScheme("site-1", "reefer", device, rule=rule, alarm_rule=alarm_rule)
    return [("iot:Publish", scheme.telemetry), ("iot:Publish", scheme.alarm),
            ("iot:Subscribe", scheme.commands), ("iot:Receive", f"cmd/{device}/setpoint")]


def decide(action: str, name: str, client_id: str = THING) -> bool:
    return check(POLICIES, action, name, client_id=client_id, thing=THING if client_id == THING else None,
                 prefix=PREFIX).allowed


@pytest.mark.parametrize(("user", "rule", "alarm_rule"), DEFAULT_RULES)
def test_every_default_topic_of_the_thing_is_allowed(user: str, rule: str | None, alarm_rule: str | None) -> None:
    assert decide("iot:Connect", THING)
    for action, name in requests(THING, rule, alarm_rule):
        assert decide(action, name), f"{user}: {action} {name}"


@pytest.mark.parametrize(("user", "rule", "alarm_rule"), DEFAULT_RULES)
def test_every_topic_of_another_thing_is_denied(user: str, rule: str | None, alarm_rule: str | None) -> None:
    for action, name in requests(OTHER, rule, alarm_rule):
        assert not decide(action, name), f"{user}: {action} {name}"


@pytest.mark.parametrize(("action", "name"), [
    ("iot:Connect", OTHER), ("iot:Subscribe", "#"), ("iot:Subscribe", "cmd/#"), ("iot:Subscribe", "$aws/rules/#"),
    ("iot:Publish", "$aws/rules/other_rule/dt/site-1/reefer/reefer-00042/telemetry"),
    ("iot:Publish", f"$aws/things/{THING}/shadow/update"), ("iot:Receive", f"cmd/{OTHER}/x"),
])
def test_what_the_policy_does_not_grant_is_denied(action: str, name: str) -> None:
    assert not decide(action, name)


def test_a_connection_under_another_client_id_resolves_no_thing_and_gets_nothing() -> None:
    """${iot:Connection.Thing.ThingName} resolves only when the client id is the attached thing."""
    assert not decide("iot:Connect", OTHER, client_id=OTHER)
    assert not decide("iot:Publish", f"dt/site-1/reefer/{OTHER}/telemetry", client_id=OTHER)


def test_deny_wins_and_names_its_statement() -> None:
    deny = {"Statement": [{"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/dt/*"}]}
    decision = check({**POLICIES, "quarantine": deny}, "iot:Publish", f"dt/site-1/reefer/{THING}/telemetry",
                     client_id=THING, thing=THING, prefix=PREFIX)
    assert not decision.allowed
    assert decision.statement is not None
    assert decision.describe() == "denied: quarantine Statement[0] Deny iot:Publish arn:aws:iot:*:*:topic/dt/*"


def test_policy_wildcards_are_iot_wildcards_not_mqtt_ones() -> None:
    literal_plus = {"p": {"Statement": [
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:*:*:topic/a/+"}]}}
    assert not check(literal_plus, "iot:Publish", "a/b", client_id="c", thing=None).allowed
    assert check(literal_plus, "iot:Publish", "a/+", client_id="c", thing=None).allowed
    question = {"p": {"Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "arn:aws:iot:*:*:topic/a/?"}]}}
    assert check(question, "iot:Receive", "a/b", client_id="c", thing=None).allowed
    assert not check(question, "iot:Receive", "a/bc", client_id="c", thing=None).allowed


@pytest.mark.parametrize("statement", [
    {"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "*"},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": "*", "Condition": {"StringEquals": {"x": "y"}}},
    {"Effect": "Allow", "Action": "iot:GetThingShadow", "Resource": "*"},
    {"Effect": "Maybe", "Action": "iot:Publish", "Resource": "*"},
])
def test_what_the_evaluator_cannot_model_is_one_clear_error(statement: dict[str, object]) -> None:
    with pytest.raises(PolicyError, match=r"^policy p: Statement\[0\]"):
        statements("p", {"Statement": [statement]})
