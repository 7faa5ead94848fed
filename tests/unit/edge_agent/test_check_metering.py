"""agent check's traffic estimate: the shipped reefer (13 points every 30 s, 5-minute bundles) in
the compact form is one 5 KB unit per bundle, 288 a day; the full form needs more."""

from __future__ import annotations

from pathlib import Path

from edge_agent.check import summarize
from edge_agent.config import load_config

REEFER = Path(__file__).parents[3] / "examples" / "reefer.yaml"


def test_the_reefer_example_is_288_units_a_day_in_the_compact_form() -> None:
    config = load_config(REEFER)
    assert config.batching.form == "compact"
    summary = summarize(config)
    assert round(summary.batches_per_day) == 288
    assert round(summary.metering_units_per_day) == 288
    assert summary.batch_bytes < 5 * 1024 - 256, "room for the topic, which is metered too"


def test_the_full_form_of_the_same_reefer_needs_more_units() -> None:
    config = load_config(REEFER)
    full = config.model_copy(update={"batching": config.batching.model_copy(update={"form": "full"})})
    assert summarize(full).metering_units_per_day > 400
