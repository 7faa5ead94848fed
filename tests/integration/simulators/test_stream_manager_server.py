"""The local Stream Manager server as the unmodified SDK client sees it: Stream Manager's
documented semantics (sequence numbers, reads, size caps, segments) and its refusals mapped to
the SDK's exception types."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from stream_manager import (
    ConnectFailedException,
    InvalidRequestException,
    MessageStoreReadErrorException,
    MessageStreamDefinition,
    NotEnoughMessagesException,
    Persistence,
    ReadMessagesOptions,
    ResourceNotFoundException,
    StrategyOnFull,
    StreamManagerClient,
    UpdateNotAllowedException,
    ValidationException,
)

from simulators.stream_manager.store import RECORD
from tests.fixtures.stream_manager import ServerThread

pytestmark = pytest.mark.usefixtures("stream_manager")


def stream(name: str = "s", *, strategy: StrategyOnFull = StrategyOnFull.OverwriteOldestData,
           max_size: int = 256 * 1024 * 1024, segment: int = 16 * 1024 * 1024,
           persistence: Persistence = Persistence.File) -> MessageStreamDefinition:
    return MessageStreamDefinition(name=name, max_size=max_size, stream_segment_size=segment,
                                   strategy_on_full=strategy, persistence=persistence, flush_on_write=True)


def read(client: StreamManagerClient, start: int = 0, *, low: int = 1, high: int = 100,
         timeout_ms: int = 0) -> list[int]:
    options = ReadMessagesOptions(desired_start_sequence_number=start, min_message_count=low,
                                  max_message_count=high, read_timeout_millis=timeout_ms)
    return [m.sequence_number for m in client.read_messages("s", options)]


@pytest.fixture
def client() -> StreamManagerClient:
    with StreamManagerClient() as c:  # port and token from the environment, as on a Greengrass device
        yield c


def test_sequence_numbers_start_at_zero_and_reads_start_at_the_oldest(client: StreamManagerClient) -> None:
    client.create_message_stream(stream())
    assert [client.append_message("s", b"x") for _ in range(5)] == [0, 1, 2, 3, 4]
    assert read(client, 2, high=2) == [2, 3]
    status = client.describe_message_stream("s").storage_status
    assert (status.oldest_sequence_number, status.newest_sequence_number) == (0, 4)
    assert status.total_bytes == 5 * (RECORD.size + 1)


def test_a_read_times_out_with_not_enough_messages(client: StreamManagerClient) -> None:
    client.create_message_stream(stream())
    client.append_message("s", b"x")
    started = time.monotonic()
    with pytest.raises(NotEnoughMessagesException):
        read(client, 0, low=2, timeout_ms=300)
    assert time.monotonic() - started >= 0.3
    with pytest.raises(NotEnoughMessagesException):
        read(client, 1)  # no timeout: answered at once


def test_a_read_waits_for_appends_up_to_its_timeout(stream_manager: ServerThread,
                                                    client: StreamManagerClient) -> None:
    client.create_message_stream(stream())

    def append_later() -> None:
        time.sleep(0.3)
        with stream_manager.client() as writer:
            writer.append_message("s", b"a")
            writer.append_message("s", b"b")

    threading.Thread(target=append_later).start()
    assert read(client, 0, low=2, timeout_ms=30_000) == [0, 1]


def test_overwrite_oldest_data_deletes_whole_segments(client: StreamManagerClient) -> None:
    record = RECORD.size + 500
    client.create_message_stream(stream(max_size=record * 10, segment=record * 4))
    for _ in range(11):
        client.append_message("s", b"x" * 500)
    status = client.describe_message_stream("s").storage_status
    assert (status.oldest_sequence_number, status.newest_sequence_number) == (4, 10), "segment 0-3 went"
    assert read(client, 0) == list(range(4, 11))


def test_reject_new_data_refuses_appends_once_full(client: StreamManagerClient) -> None:
    record = RECORD.size + 500
    client.create_message_stream(stream(strategy=StrategyOnFull.RejectNewData, max_size=record * 3, segment=1024))
    for _ in range(3):
        client.append_message("s", b"x" * 500)
    with pytest.raises(InvalidRequestException, match="full"):
        client.append_message("s", b"x" * 500)
    assert read(client) == [0, 1, 2]


def test_refusals_map_to_the_sdk_exceptions(client: StreamManagerClient) -> None:
    with pytest.raises(ResourceNotFoundException):
        client.append_message("missing", b"x")
    with pytest.raises(ResourceNotFoundException):
        client.describe_message_stream("missing")
    client.create_message_stream(stream())
    with pytest.raises(InvalidRequestException, match="already exists"):
        client.create_message_stream(stream())
    with pytest.raises(UpdateNotAllowedException):
        client.update_message_stream(stream(persistence=Persistence.Memory))
    with pytest.raises(ValidationException):  # refused by the SDK before it is sent
        client.append_message("s", "not bytes")  # type: ignore[arg-type]
    client.delete_message_stream("s")
    assert client.list_streams() == []


def test_a_wrong_auth_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "not-the-token")
    with pytest.raises(ConnectFailedException):
        StreamManagerClient()


def test_a_corrupt_record_is_a_message_store_read_error(stream_manager: ServerThread,
                                                        client: StreamManagerClient) -> None:
    client.create_message_stream(stream())
    client.append_message("s", b"hello world")
    (segment,) = stream_manager.store.glob("*/*.seg")
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    with pytest.raises(MessageStoreReadErrorException):
        read(client)


def test_a_torn_record_is_cut_off_when_the_store_is_loaded(stream_manager: ServerThread, tmp_path: Path) -> None:
    server = ServerThread(tmp_path / "store", stream_manager.token)
    server.start()
    try:
        with StreamManagerClient(port=server.port) as c:
            c.create_message_stream(stream())
            c.append_message("s", b"kept")
            c.append_message("s", b"torn")
    finally:
        server.stop()
    (segment,) = (tmp_path / "store").glob("*/*.seg")
    segment.write_bytes(segment.read_bytes()[:-2])  # a crash in the middle of the second write
    server = ServerThread(tmp_path / "store", stream_manager.token)
    server.start()
    try:
        with StreamManagerClient(port=server.port) as c:
            assert [m.payload for m in c.read_messages("s", ReadMessagesOptions(max_message_count=9))] == [b"kept"]
            assert c.append_message("s", b"next") == 1
    finally:
        server.stop()
