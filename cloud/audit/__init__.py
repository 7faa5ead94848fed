"""The audit archive: the lake's closed files in a hash chain, retention, and audit exports."""

from cloud.audit.archive import Archive
from cloud.audit.chain import ChainError, Entry

__all__ = ["Archive", "ChainError", "Entry"]
