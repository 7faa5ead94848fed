"""The downlink's routing, re-subscription and error handling, over a scripted channel."""

from __future__ import annotations

import asyncio

import pytest

from edge_agent.downlink import Downlink, Message, MessageReceiver
from edge_agent.errors import Rejected, Retryable


class ScriptedChannel:
    """A MessageChannel whose broker refuses the filters in ``refuse``."""

    def __init__(self, *, refuse: tuple[str, ...] = ()) -> None:
        self.receiver: MessageReceiver | None = None
        self.connected = False
        self.refuse = refuse
        self.subscribed: list[str] = []
        self.published: list[tuple[str, bytes]] = []

    def attach(self, receiver: MessageReceiver | None) -> None:
        self.receiver = receiver

    async def subscribe(self, topic_filter: str) -> None:
        if not self.connected:
            raise Retryable("offline")
        if topic_filter in self.refuse:
            raise Rejected("SUBACK NOT_AUTHORIZED")
        self.subscribed.append(topic_filter)

    async def unsubscribe(self, topic_filter: str) -> None:
        self.subscribed.remove(topic_filter)

    async def publish_message(self, topic: str, payload: bytes) -> None:
        if not self.connected:
            raise Retryable("offline")
        self.published.append((topic, payload))

    def come_up(self) -> None:
        self.connected = True
        self.subscribed.clear()  # a clean session: the broker forgot every subscription
        assert self.receiver is not None
        self.receiver.on_channel_up()



async def test_routes_are_subscribed_on_every_connection_and_messages_reach_their_handler() -> None:
    channel, received = ScriptedChannel(), []

    async def handler(message: Message) -> None:
        received.append(message)

    async with Downlink() as downlink:
        downlink.bind(channel)
        await downlink.subscribe("cmd/pump-1/#", handler)  # offline: subscribed once connected
        assert channel.subscribed == []
        channel.come_up()
        await downlink.wait_connected(1)
        assert channel.subscribed == ["cmd/pump-1/#"]
        channel.connected = False
        channel.come_up()  # reconnect with a clean session
        await downlink.wait_connected(1)
        assert channel.subscribed == ["cmd/pump-1/#"]
        assert channel.receiver is downlink
        downlink.on_message(Message("cmd/pump-1/defrost", b'{"id":"a"}'))
        downlink.on_message(Message("cmd/other/defrost", b"{}"))
        await asyncio.sleep(0)
        assert [m.json() for m in received] == [{"id": "a"}]
        assert downlink.counters.snapshot()["unrouted"] == 1


async def test_a_refused_subscription_raises_when_connected_and_is_counted_on_reconnect() -> None:
    channel = ScriptedChannel(refuse=("cmd/victim/#",))

    async def ignore(message: Message) -> None:
        return None

    async with Downlink() as downlink:
        downlink.bind(channel)
        channel.come_up()
        with pytest.raises(Rejected, match="cmd/victim/#"):
            await downlink.subscribe("cmd/victim/#", ignore)
        await downlink.subscribe("cmd/pump-1/#", ignore)
        assert channel.subscribed == ["cmd/pump-1/#"]
        assert downlink.counters.snapshot()["subscribe_failures"] == 1


async def test_a_failing_handler_is_counted_and_later_messages_still_arrive() -> None:
    channel, received = ScriptedChannel(), []

    async def handler(message: Message) -> None:
        if message.payload == b"bad":
            raise ValueError("boom")
        received.append(message.payload)

    async with Downlink() as downlink:
        downlink.bind(channel)
        channel.come_up()
        await downlink.subscribe("cmd/pump-1/#", handler)
        downlink.on_message(Message("cmd/pump-1/x", b"bad"))
        downlink.on_message(Message("cmd/pump-1/x", b"good"))
        for _ in range(3):
            await asyncio.sleep(0)
    assert received == [b"good"]
    assert downlink.counters.snapshot()["handler_errors"] == 1


async def test_publish_encodes_json_and_fails_retryably_without_a_channel() -> None:
    channel = ScriptedChannel()
    async with Downlink() as downlink:
        with pytest.raises(Retryable, match="carries no messages"):
            await downlink.publish("cmd/pump-1/x/response", {"id": "a"})
        downlink.bind(object())  # a sink that is no MessageChannel (stdout, file)
        with pytest.raises(Retryable):
            await downlink.publish("cmd/pump-1/x/response", "text")
        downlink.bind(channel)
        channel.come_up()
        await downlink.publish("cmd/pump-1/x/response", {"id": "a", "status": "done"})
        await downlink.publish("cmd/pump-1/x/response", "plain")
    assert channel.published == [("cmd/pump-1/x/response", b'{"id":"a","status":"done"}'),
                                 ("cmd/pump-1/x/response", b"plain")]
    assert channel.receiver is None  # closing the downlink detaches it
