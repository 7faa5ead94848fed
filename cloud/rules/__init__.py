"""AWS IoT SQL (versions 2016-03-23 and 2015-10-08): compile a rule once, evaluate it per message.

    rule = compile_rule("SELECT last.temp AS t, topic(4) AS device FROM 'dt/+/+/+/telemetry' "
                        "WHERE last.temp > last.setpoint + 3")
    rule.evaluate("dt/site1/pump/p7/telemetry", payload_bytes)  # -> {"t": 81.5, "device": "p7"} or None
"""

from cloud.rules.context import FunctionResolver, Message
from cloud.rules.errors import FunctionNotAvailable, RulesError, SqlSyntaxError
from cloud.rules.rule import Output, Rule, RuleResult, compile_rule
from cloud.rules.templates import Template, compile_template, substitute
from cloud.rules.types import UNDEFINED, JsonValue, UndefinedType, dumps

__all__ = [
    "UNDEFINED",
    "FunctionNotAvailable",
    "FunctionResolver",
    "JsonValue",
    "Message",
    "Output",
    "Rule",
    "RuleResult",
    "RulesError",
    "SqlSyntaxError",
    "Template",
    "UndefinedType",
    "compile_rule",
    "compile_template",
    "dumps",
    "substitute",
]
