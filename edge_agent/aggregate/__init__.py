"""Readings in, batches out: raw bundles, wall-clock windows, deadband reports and alarms."""

from edge_agent.aggregate.aggregator import Aggregator
from edge_agent.aggregate.alarms import FiredAlarm, alarm_problems, compile_alarms
from edge_agent.aggregate.batcher import VALUE_NOT_ENCODABLE, VALUE_TOO_LARGE, byte_limit
from edge_agent.aggregate.expr import Condition, ExpressionError, compile_condition
from edge_agent.aggregate.modes import PointMode, resolve_point_modes

__all__ = [
    "VALUE_NOT_ENCODABLE",
    "VALUE_TOO_LARGE",
    "Aggregator",
    "Condition",
    "ExpressionError",
    "FiredAlarm",
    "PointMode",
    "alarm_problems",
    "byte_limit",
    "compile_alarms",
    "compile_condition",
    "resolve_point_modes",
]
