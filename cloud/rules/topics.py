"""MQTT topic filters as the FROM clause uses them, and the basic-ingest prefix rules do not see."""

from __future__ import annotations

from typing import Final

BASIC_INGEST_PREFIX: Final = "$aws/rules/"


def strip_basic_ingest(topic: str) -> tuple[str, bool]:
    """``$aws/rules/<rule>/a/b`` -> (``a/b``, True); any other topic -> (topic, False).

    https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html: topic() does not see
    the prefix.
    """
    if topic.startswith(BASIC_INGEST_PREFIX):
        rest = topic[len(BASIC_INGEST_PREFIX):]
        slash = rest.find("/")
        if slash > 0:
            return rest[slash + 1:], True
    return topic, False


def filter_problem(topic_filter: str) -> str | None:
    """Why a topic filter is invalid, or None: '#' must be a whole, last level; '+' a whole level."""
    if not topic_filter:
        return "the topic filter is empty"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be the last level, on its own"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None
