"""The provisioning endpoint: an MQTT 3.1.1 and 5 listener over mutual TLS that answers the fleet
provisioning API on the connection that asked, as IoT Core does ("IoT Core Fleet Provisioning
returns the device provisioning MQTT API results through the same MQTT connection used to publish
the API request", fleet-provision-api.md).

A shared broker cannot do that: on Mosquitto every subscriber of
``$aws/certificates/create-from-csr/json/accepted`` would receive every device's certificate and
ownership token. So claim certificates talk to this endpoint, which delivers a reply only to its
own connection, and the unmodified awsiotsdk identity client works against it and against IoT
Core alike. A claim certificate may publish only the three request topics and subscribe only to
their replies; anything else is refused as IoT Core refuses it (MQTT 5: PUBACK 0x87 and SUBACK 0x87;
MQTT 3.1.1: the connection is closed on an unauthorised PUBLISH, SUBACK 0x80 on an unauthorised
SUBSCRIBE). Requests and replies are JSON or CBOR, as the request topic says. Claim certificates
are signed by a claim CA the broker does not trust, so they cannot reach telemetry at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
from typing import Self

from cryptography import x509
from cryptography.x509.oid import NameOID

from edge_agent.metrics import Counters
from edge_agent.topic_filter import topic_matches
from provisioning import topics
from provisioning.service.api import Caller, FleetProvisioningApi
from provisioning.service.mqtt import packets
from provisioning.service.mqtt.packets import Packet, ProtocolError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0


class ProvisioningEndpoint:
    """Listens on ``host:port`` (0 picks a free port); async context manager."""

    def __init__(self, api: FleetProvisioningApi, tls: ssl.SSLContext, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.api = api
        self._tls = tls
        self.host = host
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._sessions: dict[str, _Session] = {}
        self.counters = Counters()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the provisioning endpoint is not listening")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, self._requested_port,
                                                  ssl=self._tls, backlog=1024,
                                                  ssl_handshake_timeout=CONNECT_TIMEOUT)
        logger.info("provisioning_endpoint_listening", extra={"host": self.host, "port": self.port})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            for session in list(self._sessions.values()):
                session.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        try:
            await session.run()
        except (ProtocolError, asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            logger.debug("provisioning_session_closed", extra={"client_id": session.client_id,
                                                                "reason": str(exc) or type(exc).__name__})
        finally:
            await session.finish()

    def admit(self, session: _Session) -> None:
        """A client id connects once: a second connection with it takes over (IoT Core does the same)."""
        previous = self._sessions.get(session.client_id)
        if previous is not None and previous is not session:
            previous.close()
        self._sessions[session.client_id] = session

    def forget(self, session: _Session) -> None:
        if self._sessions.get(session.client_id) is session:
            del self._sessions[session.client_id]


class _Session:
    """One claim connection: its subscriptions and the replies owed to it."""

    def __init__(self, endpoint: ProvisioningEndpoint, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self._endpoint = endpoint
        self._reader = reader
        self._writer = writer
        self.client_id = ""
        self._caller = Caller(client_id="")
        self._filters: dict[str, int] = {}
        """Subscribed reply filters and the QoS granted for each."""
        self._next_packet_id = 0
        self._v5 = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        first = await asyncio.wait_for(packets.read_packet(self._reader), CONNECT_TIMEOUT)
        if first.kind != packets.CONNECT:
            raise ProtocolError("the first packet must be CONNECT")
        connect = packets.decode_connect(first)
        if connect.protocol_level not in (packets.PROTOCOL_LEVEL_311, packets.PROTOCOL_LEVEL_5):
            self._send(packets.connack(packets.CONNACK_BAD_PROTOCOL))
            raise ProtocolError(f"MQTT protocol level {connect.protocol_level} is not served here")
        self._v5 = connect.protocol_level == packets.PROTOCOL_LEVEL_5
        self.client_id = connect.client_id or f"anonymous-{id(self):x}"
        self._caller = _caller(self.client_id, self._writer)
        self._endpoint.admit(self)
        self._endpoint.counters.inc("connections")
        self._send(packets.connack(packets.CONNACK_ACCEPTED, self._v5))
        idle = connect.keep_alive * 1.5 if connect.keep_alive else None
        while True:
            packet = await asyncio.wait_for(packets.read_packet(self._reader), idle)
            if not self._on_packet(packet):
                return

    def _on_packet(self, packet: Packet) -> bool:
        """Handle one packet; False when the connection must end."""
        if packet.kind == packets.PUBLISH:
            return self._on_publish(packets.decode_publish(packet, self._v5))
        if packet.kind == packets.SUBSCRIBE:
            request = packets.decode_subscribe(packet, self._v5)
            codes = []
            for topic_filter, qos in request.filters:
                if topics.is_reply_filter(topic_filter):
                    self._filters[topic_filter] = min(qos, 1)
                    codes.append(min(qos, 1))
                else:
                    self._endpoint.counters.inc("subscribe_denied")
                    codes.append(packets.NOT_AUTHORIZED if self._v5 else packets.SUBACK_FAILURE)
            self._send(packets.suback(request.packet_id, codes, self._v5))
        elif packet.kind == packets.UNSUBSCRIBE:
            unsubscribe = packets.decode_unsubscribe(packet, self._v5)
            for topic_filter in unsubscribe.filters:
                self._filters.pop(topic_filter, None)
            self._send(packets.unsuback(unsubscribe.packet_id, len(unsubscribe.filters), self._v5))
        elif packet.kind == packets.PINGREQ:
            self._send(packets.pingresp())
        elif packet.kind == packets.DISCONNECT:
            return False
        elif packet.kind != packets.PUBACK:
            raise ProtocolError(f"unexpected packet type {packet.kind}")
        return True

    def _on_publish(self, publish: packets.Publish) -> bool:
        if not topics.is_request(publish.topic):
            self._endpoint.counters.inc("publish_denied")
            logger.warning("provisioning_publish_denied",
                           extra={"client_id": self.client_id, "topic": publish.topic})
            if self._v5:  # PUBACK 0x87 Not authorized (mqtt.md, MQTT reason codes)
                if publish.packet_id is not None:
                    self._send(packets.puback(publish.packet_id, packets.NOT_AUTHORIZED))
                return True
            return False  # IoT Core closes an MQTT 3.1.1 connection that publishes where it may not
        if publish.packet_id is not None:
            self._send(packets.puback(publish.packet_id))
        self._endpoint.counters.inc("requests")
        task = asyncio.create_task(self._answer(publish))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _answer(self, publish: packets.Publish) -> None:
        reply = await self._endpoint.api.handle(publish.topic, publish.payload, self._caller)
        self._endpoint.counters.inc("accepted" if reply.topic.endswith(topics.ACCEPTED) else "rejected")
        qos = max((q for f, q in self._filters.items() if topic_matches(f, reply.topic)), default=None)
        if qos is None:
            self._endpoint.counters.inc("replies_unsubscribed")
            return
        packet_id = None
        if qos:
            self._next_packet_id = packet_id = self._next_packet_id % 0xFFFF + 1
        self._send(packets.publish(reply.topic, reply.encoded(), packet_id, self._v5))
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    def _send(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    def close(self) -> None:
        self._writer.close()

    async def finish(self) -> None:
        self._endpoint.forget(self)
        for task in self._tasks:
            task.cancel()
        self._writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), 5.0)


def _caller(client_id: str, writer: asyncio.StreamWriter) -> Caller:
    """The caller as its verified claim certificate names it."""
    tls: ssl.SSLObject | None = writer.get_extra_info("ssl_object")
    der = tls.getpeercert(binary_form=True) if tls is not None else None
    if not der:
        return Caller(client_id=client_id)
    names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return Caller(client_id=client_id, claim_name=str(names[0].value) if names else None,
                  claim_certificate_id=hashlib.sha256(der).hexdigest())
