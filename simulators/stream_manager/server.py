"""A local Stream Manager server for the unmodified ``stream_manager`` SDK client.

AWS ships Stream Manager only as a Greengrass component (Java). This server speaks the same
protocol (:mod:`simulators.stream_manager.frames`) over TCP on 127.0.0.1, so the SDK's
``StreamManagerClient`` (port from ``STREAM_MANAGER_SERVER_PORT``, token from
``AWS_CONTAINER_AUTHORIZATION_TOKEN``) can be used off a Greengrass device: by the agent with
the ``stream_manager`` spool on a laptop, and by the tests. It keeps streams in a
:class:`~simulators.stream_manager.store.StreamStore`; it does not export them anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from pathlib import Path
from typing import Any, Final, Self

from stream_manager.data import (
    ConnectRequest,
    ConnectResponse,
    Operation,
    ReadMessagesOptions,
    ResponseStatusCode,
    UnknownOperationError,
    VersionInfo,
)
from stream_manager.utilinternal import UtilInternal

from simulators.stream_manager.frames import (
    CONNECT_VERSION,
    REQUESTS,
    Frame,
    FrameError,
    decode_payload,
    encode_message,
    read_frame,
    request_id_of,
)
from simulators.stream_manager.store import StoreError, StreamStore

logger = logging.getLogger(__name__)

PROTOCOL_VERSIONS: Final = (VersionInfo.PROTOCOL_VERSION.value,)
SERVER_VERSION: Final = "edgeferry-sim"


class StreamManagerServer:
    """Serves the streams kept under ``store`` on ``host:port`` (0: a free port, see ``port``).

    ``auth_tokens``: when given, a client must present one of them in its connect request
    (Stream Manager's ``STREAM_MANAGER_AUTHENTICATE_CLIENT`` true); None accepts every client.
    """

    def __init__(self, store: Path, *, host: str = "127.0.0.1", port: int = 0,
                 auth_tokens: frozenset[str] | None = None, flush_interval: float = 1.0) -> None:
        self.store_path = store
        self.host = host
        self.port = port
        self.auth_tokens = auth_tokens
        self.flush_interval = flush_interval
        self._store: StreamStore | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Condition()
        self._clients = itertools.count(1)

    async def __aenter__(self) -> Self:
        self._store = StreamStore(self.store_path)
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._spawn(self._flush_periodically())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            self._store_().flush()

    # --- connections ---

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        current = asyncio.current_task()
        assert current is not None
        self._tasks.add(current)
        lock = asyncio.Lock()
        requests: set[asyncio.Task[None]] = set()
        try:
            if not await self._handshake(reader, writer):
                return
            while True:
                frame = await read_frame(reader)
                task = asyncio.create_task(self._answer(frame, writer, lock))
                requests.add(task)
                task.add_done_callback(requests.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        except FrameError as exc:
            logger.warning("stream_manager_bad_frame", extra={"error": str(exc)})
        finally:
            for task in requests:
                task.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._tasks.discard(current)

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        version = (await reader.readexactly(1))[0]
        frame = await read_frame(reader)
        request = ConnectRequest()
        status, error, protocol = ResponseStatusCode.Success, None, PROTOCOL_VERSIONS[0]
        if version != CONNECT_VERSION:
            status, error = ResponseStatusCode.UnsupportedConnectVersion, f"connect version {version}"
        elif frame.operation != Operation.Connect.value:
            status, error = ResponseStatusCode.UnexpectedOperation, f"operation {frame.operation} before Connect"
        else:
            request = decode_payload(frame, ConnectRequest)
            offered = [request.protocol_version, *(request.other_supported_protocol_versions or [])]
            common = [v for v in offered if v in PROTOCOL_VERSIONS]
            if problem := UtilInternal.is_invalid(request):
                status, error = ResponseStatusCode.InvalidRequest, problem
            elif not common:
                status, error = ResponseStatusCode.UnsupportedProtocolVersion, f"protocol versions {offered}"
            elif self.auth_tokens is not None and request.auth_token not in self.auth_tokens:
                status, error = ResponseStatusCode.Unauthorized, "the client's auth token is not valid"
            else:
                protocol = common[0]
        response = ConnectResponse(
            request_id=request.request_id, status=status, error_message=error, protocol_version=protocol,
            supported_protocol_versions=list(PROTOCOL_VERSIONS), server_version=SERVER_VERSION,
            client_identifier=f"client-{next(self._clients)}")
        writer.write(bytes([CONNECT_VERSION]) + encode_message(Operation.ConnectResponse, response))
        await writer.drain()
        if status != ResponseStatusCode.Success:
            logger.warning("stream_manager_connect_refused", extra={"status": status.name, "error": error})
        return bool(status == ResponseStatusCode.Success)

    async def _answer(self, frame: Frame, writer: asyncio.StreamWriter, lock: asyncio.Lock) -> None:
        operation = _operation(frame.operation)
        known = None if operation is None else REQUESTS.get(operation)
        if known is None:
            out = encode_message(Operation.UnknownOperationError, UnknownOperationError(
                request_id=request_id_of(frame), status=ResponseStatusCode.UnknownOperation,
                error_message=f"unknown operation {frame.operation}"))
        else:
            request_cls, response_cls, response_op = known
            fields: dict[str, Any] = {"status": ResponseStatusCode.Success}
            try:
                request = decode_payload(frame, request_cls)
                fields["request_id"] = request.request_id
                if problem := UtilInternal.is_invalid(request):
                    raise StoreError(ResponseStatusCode.InvalidRequest, problem)
                fields |= await self._handle(operation, request)
            except FrameError as exc:
                fields = {"request_id": request_id_of(frame), "status": ResponseStatusCode.InvalidRequest,
                          "error_message": str(exc)}
            except StoreError as exc:
                fields |= {"status": exc.status, "error_message": str(exc)}
            out = encode_message(response_op, response_cls(**fields))
        async with lock:
            writer.write(out)
            await writer.drain()

    # --- operations ---

    async def _handle(self, operation: Operation, request: Any) -> dict[str, Any]:
        """The response's fields for a valid request; :class:`StoreError` for a refusal."""
        store = self._store_()
        now_ms = int(time.time() * 1000)
        match operation:
            case Operation.CreateMessageStream:
                store.create(request.definition)
            case Operation.UpdateMessageStream:
                store.get(request.definition.name).update(request.definition)
            case Operation.DeleteMessageStream:
                store.delete(request.name)
                await self._notify()
            case Operation.DescribeMessageStream:
                stream = store.get(request.name)
                stream.expire(now_ms)
                return {"message_stream_info": stream.info()}
            case Operation.ListStreams:
                return {"streams": list(store.streams)}
            case Operation.AppendMessage:
                seq = store.get(request.name).append(request.payload, now_ms)
                await self._notify()
                return {"sequence_number": seq}
            case Operation.ReadMessages:
                return {"messages": await self._read(request.stream_name,
                                                     request.read_messages_options or ReadMessagesOptions())}
        return {}

    async def _read(self, name: str, options: ReadMessagesOptions) -> list[Any]:
        """``min_message_count`` messages (up to ``max_message_count``) from the desired start, waiting
        up to ``read_timeout_millis`` for them to be appended; else NotEnoughMessages."""
        start = options.desired_start_sequence_number or 0
        low = options.min_message_count or 1
        high = options.max_message_count or low
        if low > high:
            raise StoreError(ResponseStatusCode.InvalidRequest,
                             "min_message_count must be less than or equal to max_message_count")
        deadline = time.monotonic() + (options.read_timeout_millis or 0) / 1000
        async with self._changed:
            while True:
                stream = self._store_().get(name)
                stream.expire(int(time.time() * 1000))
                if stream.available(start) >= low:
                    return stream.read(start, high)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StoreError(ResponseStatusCode.NotEnoughMessages,
                                     f"fewer than {low} messages from {start} on in stream {name}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _store_(self) -> StreamStore:
        if self._store is None:
            raise RuntimeError("the server is not running")
        return self._store


def _operation(value: int) -> Operation | None:
    try:
        return Operation(value)
    except ValueError:
        return None
