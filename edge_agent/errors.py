"""Typed errors: what the runtime does next depends on the type, never on the message."""

from __future__ import annotations


class EdgeferryError(Exception):
    """Base of every error edgeferry raises on purpose; its message is one line for a user."""


class ConfigError(EdgeferryError):
    """Invalid configuration; ``problems`` lists every ``path: message`` found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} configuration error(s): " + "; ".join(problems))


class Retryable(EdgeferryError):
    """A transient failure (link down, timeout, throttled): back off and try again."""


class Rejected(EdgeferryError):
    """The peer refused this item for good (too large, not authorised): dead-letter it, count it."""


class SpoolFull(Retryable):
    """The spool is at its cap and its policy is ``reject_new``."""
