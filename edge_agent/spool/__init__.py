"""Durable store-and-forward spools: SQLite (default) and Greengrass Stream Manager.

Backends are imported by their config's ``build()`` only, so importing this package stays cheap.
"""

from edge_agent.spool.stats import SpoolStats

__all__ = ["SpoolStats"]
