from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from cloud.rules import (
    FunctionNotAvailable,
    Message,
    SqlSyntaxError,
    compile_rule,
    compile_template,
    substitute,
)
from cloud.rules.types import JsonValue

PAYLOAD = json.dumps(
    {"deviceid": "iot123", "temp": 54.98, "coords": {"latitude": 47.6}, "tags": ["a"]}).encode()


def test_aws_example_topic_republish() -> None:
    assert substitute("${topic()}/republish", PAYLOAD, topic="my/iot/topic") == "my/iot/topic/republish"


def test_expressions_see_the_original_payload_and_message() -> None:
    text = substitute("dt/${topic(3)}/${deviceid}/${coords.latitude}/${temp > 50}/${tags}/${clientid()}",
                      PAYLOAD, topic="$aws/rules/r/a/b/c", clientid="c9")
    assert text == 'dt/c/iot123/47.6/true/["a"]/c9'


def test_undefined_is_empty_and_literal_text_is_kept() -> None:
    assert substitute("x${missing}y", PAYLOAD, topic="t") == "xy"
    assert substitute("no placeholders", PAYLOAD, topic="t") == "no placeholders"
    assert substitute("${ {'k': 'v'}.k }-${'}'}", PAYLOAD, topic="t") == "v-}"


def test_parse_time_template_and_variables() -> None:
    assert substitute("${parse_time('yyyy', timestamp(), 'UTC')}", PAYLOAD, topic="t",
                      timestamp=1497028786000) == "2017"
    rule = compile_rule("SET @site = upper(deviceid) SELECT temp FROM 'a'")
    result = rule.run("a", PAYLOAD)
    assert result is not None
    assert substitute("s/${@site}", PAYLOAD, topic="a", variables=result.variables) == "s/IOT123"


def test_errors_point_into_the_template() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        compile_template("abc/${temp +}")
    assert (caught.value.line, caught.value.column) == (1, 13)
    with pytest.raises(SqlSyntaxError, match="unterminated substitution template"):
        compile_template("abc/${temp")


class Secrets:
    def call(self, name: str, args: Sequence[JsonValue], message: Message) -> JsonValue:
        return f"{name}:{args[0]}"


def test_service_functions_in_templates_need_a_resolver() -> None:
    template = "Bearer ${get_secret('API_KEY', 'SecretString', 'k', 'arn:aws:iam::1:role/r')}"
    with pytest.raises(FunctionNotAvailable):
        substitute(template, PAYLOAD, topic="t")
    assert substitute(template, PAYLOAD, topic="t", resolver=Secrets()) == "Bearer get_secret:API_KEY"


@dataclass
class UnhashableSecrets(Secrets):
    prefix: str = "x"


def test_an_unhashable_resolver_still_works() -> None:
    assert substitute("${get_secret('a', 'SecretString', 'arn:aws:iam::1:role/r')}", PAYLOAD, topic="t",
                      resolver=UnhashableSecrets()) == "get_secret:a"
