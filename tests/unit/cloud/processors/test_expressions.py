"""IoT Events expressions: syntax, undefined values, and what is refused."""

from __future__ import annotations

import pytest

from cloud.processors.expressions import Expression, ExpressionError, Scope

SCOPE = Scope({"Reefer.ReturnAir": -14.5, "setpoint": -18.0, "door": True, "name": "EFRU"},
              {"count": 3}, expired_timer="warm")


@pytest.mark.parametrize(("source", "value"), [
    ("$input.Reefer.ReturnAir > $input.setpoint + 3", True),
    ("$input.door == true && !($variable.count >= 4)", True),
    ("$input.door == false || $variable.count % 2 == 0", False),
    ("timeout(\"warm\") && timeout('warm')", True),
    ("timeout('other')", False),
    ("isUndefined($input.missing)", True),
    ("abs($input.setpoint) * 2 - 1", 35.0),
    ("$input.name == 'EFRU'", True),
])
def test_expressions_evaluate_as_in_iot_events(source: str, value: object) -> None:
    assert Expression(source).evaluate(SCOPE) == value


def test_an_undefined_operand_makes_a_condition_false_not_an_error() -> None:
    assert Expression("$input.missing > 3").evaluate(SCOPE) is None
    assert not Expression("$input.missing > 3").holds(SCOPE)


@pytest.mark.parametrize("source", ["__import__('os')", "(1).__class__", "[1, 2]", "lambda: 1",
                                    "$input.a >", "open('/etc/passwd')"])
def test_anything_but_the_expression_language_is_refused(source: str) -> None:
    with pytest.raises(ExpressionError, match="expression"):
        Expression(source)
