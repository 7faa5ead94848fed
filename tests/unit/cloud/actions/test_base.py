from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from cloud.rules.actions.base import ActionMessage, Duration, describe
from tests.unit.cloud.batches import make_batch


@pytest.mark.parametrize(("text", "seconds"), [(30, 30.0), ("250ms", 0.25), ("15m", 900.0), ("7d", 604800.0)])
def test_durations(text: object, seconds: float) -> None:
    assert TypeAdapter(Duration).validate_python(text) == seconds


@pytest.mark.parametrize("bad", ["forever", -1, True, "5 weeks"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Duration).validate_python(bad)


def test_templates_read_the_original_payload_and_topic() -> None:
    batch = make_batch("pump-9", 4)
    message = ActionMessage(rule="r", topic="$aws/rules/r/dt/plant1/pump/pump-9/telemetry", payload=batch.encode(),
                            output={"renamed": "x"}, clientid="c1", timestamp=5)
    assert message.substitute("${topic(4)}/${device}/${seq}") == "pump-9/pump-9/4"
    assert message.substitute("plain") == "plain"
    assert message.data == b'{"renamed":"x"}'
    assert message.record.device == "c1", "a raw output is attributed to the client id"
    anonymous = ActionMessage(rule="r", topic="$aws/rules/r/dt/plant1/pump/pump-9/telemetry", payload=b"{}",
                              output={"temp": 3})
    assert anonymous.record.device == "pump-9", "or else to the device level of its topic"
    assert ActionMessage(rule="r", topic="other/x", payload=b"", output={}).record.device == "unknown"



def test_describe_is_one_line() -> None:
    assert describe(ValueError("bad\nsecond line")) == "ValueError: bad"
    assert describe(TimeoutError()) == "TimeoutError"
