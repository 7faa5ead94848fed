"""republish with MQTT 5 headers through the real broker: the device's MQTT 5 client receives every
property, templates substituted; a header MQTT 5 cannot carry is an action failure."""

from __future__ import annotations

import base64
from pathlib import Path

from awscrt import mqtt5

from cloud.rig import Rig
from cloud.rig.rules import CLIENT_ID_PROPERTY, PRINCIPAL_PROPERTY
from cloud.rules.rulesfile import parse_rules
from cloud.rules.runner import RulesRunner
from tests.fixtures.broker import MqttClientFactory
from tests.integration.cloud.test_runner_mqtt import WAIT, settings
from tests.unit.cloud.batches import make_batch

HEADERS = {"payloadFormatIndicator": "UTF8_DATA", "contentType": "application/json",
           "responseTopic": "dt/${topic(2)}/reefer/${topic(4)}/ack",
           "correlationData": base64.b64encode(b"corr-1").decode(), "messageExpiry": "${seq}",
           "userProperties": [{"key": "site", "value": "${site}"}, {"key": "rule", "value": "alerts"}]}


async def test_republished_messages_carry_their_mqtt5_properties(rig: Rig, mqtt_client: MqttClientFactory,
                                                                 tmp_path: Path) -> None:
    doc = parse_rules({"dataDir": str(tmp_path), "rules": [
        {"name": "alerts", "sql": "SELECT device, seq FROM 'dt/+/+/+/telemetry'",
         "actions": [{"republish": {"topic": "cmd/${topic(4)}/alert", "qos": 1, "headers": HEADERS}},
                     {"republish": {"topic": "cmd/${topic(4)}/bad", "headers": {"correlationData": "%%%"}}}],
         "errorAction": {"dlq": {}}}]})
    device = await mqtt_client(rig.issue_identity("pump-1", tmp_path / "pump-1"))
    await device.subscribe("cmd/pump-1/#")
    async with RulesRunner(doc, mqtt=settings(rig)) as runner:
        outcome = await runner.process("dt/plant1/pump/pump-1/telemetry", make_batch(seq=42).encode())
        message = await device.next_message(WAIT)
    assert message.topic == "cmd/pump-1/alert"
    packet = message.packet
    assert packet is not None
    assert packet.payload_format_indicator == mqtt5.PayloadFormatIndicator.AWS_MQTT5_PFI_UTF8
    assert packet.content_type == "application/json"
    assert packet.response_topic == "dt/plant1/reefer/pump-1/ack"
    assert packet.correlation_data_bytes == b"corr-1"
    assert 0 < packet.message_expiry_interval_sec <= 42
    # the rig stamps every message with its publisher's identity (cloud.rig.rules); leave those out
    assert [(p.name, p.value) for p in packet.user_properties
            if p.name not in (CLIENT_ID_PROPERTY, PRINCIPAL_PROPERTY)] == [("site", "plant1"), ("rule", "alerts")]
    [failure] = outcome.failures["alerts"]
    assert failure.failed_resource == "cmd/${topic(4)}/bad"
    assert "is not base64" in failure.error_message
