"""Spool failures that are neither transient (``Retryable``) nor a refused item (``Rejected``)."""

from __future__ import annotations

from edge_agent.errors import EdgeferryError


class SpoolCorrupt(EdgeferryError):
    """The spool's file cannot be read as a spool; the message names the file."""


class SpoolLocked(EdgeferryError):
    """Another process has the spool open for writing."""


class SpoolClosed(EdgeferryError):
    """The spool was closed while a ``take`` waited, or is used after close."""
