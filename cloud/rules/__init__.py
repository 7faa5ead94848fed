"""AWS IoT SQL (versions 2016-03-23 and 2015-10-08): compile a rule once, evaluate it per message.

    rule = compile_rule("SELECT last.temp AS t, topic(4) AS device FROM 'dt/+/+/+/telemetry' "
                        "WHERE last.temp > last.setpoint + 3")
    rule.evaluate("dt/site1/pump/p7/telemetry", payload_bytes)  # -> {"t": 81.5, "device": "p7"} or None

Where AWS's documentation is silent or contradicts itself, this engine chooses as follows:

- an unaliased SELECT item is keyed by its last path name, its @variable or function name, else
  ``_<position>``; ``x IN y`` needs an Array on the right; ``get_or_default`` falls back on Null too;
- with a binary payload, ``SELECT *`` passes the bytes through, and ``*`` adds nothing to an object
  built with other items; a JSON number, string or literal at the top of a payload is binary too;
- Int ``/`` Int truncates (the operator table), although the SET page's example shows a fraction;
  ``bitnot(13)`` is ``-14`` (two's complement; the page says 2); ``concat(x)`` returns x unchanged
  (the table; an example shows a String);
- string positions count code points (Java counts UTF-16 units: differs beyond the BMP);
- md2 is not available (neither hashlib nor OpenSSL 3 provide it).
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
