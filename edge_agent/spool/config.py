"""Which spool holds batches while the link is down, and what happens when it is full."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from edge_agent.sources.points import StrictModel
from edge_agent.spool.budget import MIN_MAX_BYTES
from edge_agent.units import ByteSize, Duration

if TYPE_CHECKING:
    from edge_agent.interfaces import Spool

WhenFull = Literal["drop_oldest", "reject_new"]


class SqliteSpoolConfig(StrictModel):
    type: Literal["sqlite"] = "sqlite"
    path: Path = Path("spool.db")
    max_bytes: ByteSize = 64 * 1024**2
    """Bounds everything the spool writes: database, write-ahead log and reserve (see
    :mod:`edge_agent.spool.budget`)."""
    max_age: Duration | None = None
    """Batches older than this are dropped (and counted) rather than sent."""
    when_full: WhenFull = "drop_oldest"
    on_corrupt: Literal["move_aside", "fail"] = "move_aside"
    """A corrupt file is renamed ``<name>.corrupt-<UTC time>`` and a new epoch starts, or the
    spool refuses to open (``fail``)."""

    @field_validator("max_bytes")
    @classmethod
    def _room_for_the_log(cls, value: int) -> int:
        if value < MIN_MAX_BYTES:
            raise ValueError(f"at least {-(-MIN_MAX_BYTES // 1024)} KiB is needed ({value:,} bytes given): the "
                             f"spool's write-ahead log and its reserve take {MIN_MAX_BYTES // 1024 - 1} KiB of it")
        return value

    def build(self) -> Spool:
        from edge_agent.spool.sqlite import SqliteSpool

        return SqliteSpool(self)


class StreamManagerSpoolConfig(StrictModel):
    """Greengrass Stream Manager (component ``aws.greengrass.StreamManager``)."""

    type: Literal["stream_manager"]
    stream: str = Field(default="edgeferry-batches", pattern=r"^[\w ,.\-]{1,200}$")
    """Telemetry stream; alarms go to ``<stream>-alarms``, rejected batches to ``<stream>-rejected``."""
    max_bytes: ByteSize = Field(default=256 * 1024**2, ge=1024)
    when_full: WhenFull = "drop_oldest"
    flush_on_write: bool = True
    position_file: Path = Path("stream-position.json")
    """Where the last acknowledged sequence number is kept across restarts."""

    def build(self) -> Spool:
        from edge_agent.spool.stream_manager import StreamManagerSpool

        return StreamManagerSpool(self)


SpoolConfig = SqliteSpoolConfig | StreamManagerSpoolConfig
