"""MQTT topic-filter matching (MQTT 3.1.1 section 4.7; the same in MQTT 5)."""

from __future__ import annotations


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT matching: '+' is one level, a final '#' any number of levels (also none); wildcards at
    the first level do not match topics starting with '$'."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for i, wanted in enumerate(filter_levels):
        if wanted == "#":
            return True
        if i >= len(topic_levels):
            return False
        if wanted != "+" and wanted != topic_levels[i]:
            return False
    return len(filter_levels) == len(topic_levels)
