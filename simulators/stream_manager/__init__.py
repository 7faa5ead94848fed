"""A local Greengrass Stream Manager: the SDK's wire protocol over TCP, streams in segment files."""

from simulators.stream_manager.server import StreamManagerServer

__all__ = ["StreamManagerServer"]
