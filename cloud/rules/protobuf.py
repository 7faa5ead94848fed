"""``decode(value, 'proto', bucket, key, protoFile, messageType)``: a protobuf payload to JSON with the
message type of a descriptor file (binary-payloads.html, "Decoding protobuf message payloads").

On AWS the descriptor file (a ``FileDescriptorSet``, ``protoc --descriptor_set_out --include_imports``)
is read from S3 at ``bucket``/``key``; locally the rules file's ``protoDescriptors`` says which file
stands for each S3 object. ``protoFile`` names the ``.proto`` file (the extension may be left out)
and ``messageType`` a message it defines (qualified by the file's package or not).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import Message
from pydantic import Field

from cloud.rules.actions.base import CloudModel


class ProtoDescriptorFile(CloudModel):
    """The local file that stands for the descriptor file at S3 ``bucket``/``key``."""

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1)
    path: Path


class ProtoDescriptors:
    """Message classes from descriptor files, each file read once."""

    def __init__(self, files: Iterable[ProtoDescriptorFile]) -> None:
        self._paths = {(f.bucket, f.key): f.path for f in files}
        self._pools: dict[Path, tuple[descriptor_pool.DescriptorPool, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def decode(self, data: bytes, bucket: str, key: str, proto_file: str, message_type: str) -> Any:
        """The message as JSON (proto3's JSON mapping, with the .proto field names); ValueError when
        the descriptor or type is unknown or the bytes are not such a message."""
        cls = self._message_class(bucket, key, proto_file, message_type)
        try:
            message = cls.FromString(data)
        except Exception as exc:  # protobuf raises DecodeError, or RuntimeWarning-like errors in upb
            raise ValueError(f"not a {message_type} message: {exc}") from None
        return json_format.MessageToDict(message, preserving_proto_field_name=True)

    def _message_class(self, bucket: str, key: str, proto_file: str, message_type: str) -> type[Message]:
        path = self._paths.get((bucket, key))
        if path is None:
            raise ValueError(f"no protoDescriptors entry for s3://{bucket}/{key}")
        pool, packages = self._pool(path)
        name = proto_file if proto_file.endswith(".proto") else f"{proto_file}.proto"
        if name not in packages:
            raise ValueError(f"{path} does not describe {name}")
        qualified = f"{packages[name]}.{message_type}" if packages[name] else message_type
        descriptor = next((d for d in (_find(pool, qualified), _find(pool, message_type))
                           if d is not None and d.file.name == name), None)
        if descriptor is None:
            raise ValueError(f"{name} in {path} defines no message {message_type}")
        return message_factory.GetMessageClass(descriptor)

    def _pool(self, path: Path) -> tuple[descriptor_pool.DescriptorPool, dict[str, str]]:
        with self._lock:
            if path not in self._pools:
                files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
                pool = descriptor_pool.DescriptorPool()
                for file in files.file:
                    pool.Add(file)
                self._pools[path] = pool, {file.name: file.package for file in files.file}
            return self._pools[path]


def _find(pool: descriptor_pool.DescriptorPool, name: str) -> Any:
    try:
        return pool.FindMessageTypeByName(name)
    except KeyError:
        return None
