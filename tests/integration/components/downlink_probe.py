"""A Greengrass component for the nucleus tests: through the agent's downlink over IPC
(SubscribeToIoTCore / PublishToIoTCore) it subscribes to its own commands, says it is ready, and
answers the first command with the command's topic and payload (on its telemetry topic, which
the device policy lets it publish to)."""

import asyncio
import sys

from edge_agent.downlink import Downlink, Message
from edge_agent.publish.config import GreengrassPublishConfig
from edge_agent.publish.greengrass import GreengrassIpcSink


async def main(thing: str) -> None:
    answered = asyncio.Event()
    reply_topic = f"dt/plant/gateway/{thing}/telemetry"
    async with Downlink() as downlink:

        async def answer(message: Message) -> None:
            await downlink.publish(reply_topic, {"topic": message.topic, "command": message.json()})
            answered.set()

        sink = GreengrassIpcSink(GreengrassPublishConfig(type="greengrass_ipc"))
        downlink.bind(sink)
        async with sink:
            await downlink.subscribe(f"cmd/{thing}/#", answer)
            await downlink.wait_connected(30)
            await downlink.publish(reply_topic, {"ready": True})
            await asyncio.wait_for(answered.wait(), 120)


asyncio.run(main(sys.argv[1]))
