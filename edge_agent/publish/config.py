"""Where batches go: AWS IoT Core (or the local rig) over MQTT, Greengrass IPC, stdout or a file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

from edge_agent.secrets import Secret
from edge_agent.sources.points import StrictModel
from edge_agent.units import ByteSize, Duration

if TYPE_CHECKING:
    from edge_agent.identity import Identity
    from edge_agent.interfaces import Sink


class RateLimit(StrictModel):
    """Token buckets under IoT Core's per-connection limits (limits-iot.md): 100 publishes/s
    and 512 KiB/s, neither adjustable. Defaults keep a little headroom."""

    enabled: bool = True
    publishes_per_second: float = Field(default=100.0, gt=0)
    bytes_per_second: ByteSize = Field(default=512 * 1024, gt=0)


class X509Auth(StrictModel):
    """Mutual TLS with the device certificate: port 8883, or 443 where the client offers the ALPN
    protocol ``x-amzn-mqtt-ca`` (awscrt's builders do so on port 443). AWS IoT developer guide,
    protocols.html, "Protocols, port mappings, and authentication"."""

    type: Literal["x509"] = "x509"


class SigV4Auth(StrictModel):
    """MQTT over WebSockets, the handshake signed with SigV4 (service ``iotdevicegateway``). The
    temporary credentials come from the IoT credentials provider, which exchanges the device
    certificate for those of the IAM role behind ``role_alias``."""

    type: Literal["sigv4"]
    region: str = Field(min_length=1)
    role_alias: str = Field(min_length=1, max_length=128, pattern=r"^[\w=,@-]+$")
    credentials_endpoint: str = Field(min_length=1)
    """``aws iot describe-endpoint --endpoint-type iot:CredentialProvider`` (HTTPS, port 443)."""


class CustomAuthorizerAuth(StrictModel):
    """An IoT Core custom authorizer (a Lambda): MQTT on port 443 with ALPN ``mqtt``, or over
    WebSockets. Name, token and signature travel in the MQTT username as query parameters."""

    type: Literal["custom_authorizer"]
    authorizer: str | None = None
    """None: the endpoint's default authorizer."""
    username: str | None = None
    password: Secret | None = None
    token_key_name: str | None = None
    token: Secret | None = None
    token_signature: str | None = None
    """Base64 signature of ``token`` with the authorizer's private key (authorizers with signing)."""

    @model_validator(mode="after")
    def _token_pair(self) -> CustomAuthorizerAuth:
        if (self.token_key_name is None) != (self.token is None):
            raise ValueError("token_key_name and token go together")
        return self


MqttAuth = Annotated[X509Auth | SigV4Auth | CustomAuthorizerAuth, Field(discriminator="type")]


class HttpProxy(StrictModel):
    """An HTTP(S) proxy the connection tunnels through (CONNECT), as plant networks often require."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    tls: bool = False
    """True: an HTTPS proxy (TLS to the proxy itself)."""
    ca: Path | None = None
    """CA of an HTTPS proxy's certificate (default: the system trust store)."""
    username: str | None = None
    password: Secret | None = None


class MqttPublishConfig(StrictModel):
    type: Literal["mqtt"] = "mqtt"
    endpoint: str = "127.0.0.1"
    port: int = Field(default=8883, ge=1, le=65535)
    protocol: Literal["mqtt5", "mqtt311"] = "mqtt5"
    rule: str | None = "edgeferry_telemetry"
    """Basic-ingest rule name: topics become ``$aws/rules/<rule>/dt/...``. None: plain topics."""
    alarm_rule: str | None = "edgeferry_alarms"
    """Basic-ingest rule for alarms. A basic-ingest message reaches only the rule it names, so
    alarms need a rule whose FROM matches ``dt/+/+/+/alarm`` (None: the telemetry rule)."""
    keep_alive: Duration = Field(default=60.0, ge=30, le=1200)
    """IoT Core accepts 30..1200 s."""
    max_in_flight: int = Field(default=10, ge=1, le=100)
    """Unacknowledged QoS 1 publishes; IoT Core allows 100 per connection."""
    publish_timeout: Duration = 30.0
    rate_limit: RateLimit = RateLimit()
    connect_jitter: Duration = 10.0
    """Random delay (0..this) before the first connect and after a connection loss."""
    reconnect_min: Duration = 1.0
    reconnect_max: Duration = 120.0
    transport: Literal["mqtt", "websockets"] = "mqtt"
    """``websockets``: MQTT over WebSocket Secure (port 443), with ``sigv4`` or ``custom_authorizer``."""
    auth: MqttAuth = X509Auth()
    proxy: HttpProxy | None = None

    @model_validator(mode="after")
    def _auth_fits_transport(self) -> MqttPublishConfig:
        if self.transport == "websockets" and self.auth.type == "x509":
            raise ValueError("transport websockets needs auth sigv4 or custom_authorizer (IoT Core "
                             "takes certificates over MQTT only)")
        if self.transport == "mqtt" and self.auth.type == "sigv4":
            raise ValueError("auth sigv4 needs transport websockets")
        if self.transport == "mqtt" and self.auth.type == "custom_authorizer" and self.port != 443:
            # IoT Core takes custom authentication over MQTT only on 443 with ALPN "mqtt"
            # (protocols.html); awscrt's 3.1.1 builder even forces the port to 443
            raise ValueError("auth custom_authorizer over transport mqtt needs port 443")
        return self

    def build(self, identity: Identity | None) -> Sink:
        from edge_agent.errors import EdgeferryError
        from edge_agent.publish.mqtt import MqttSink

        if identity is None:
            raise EdgeferryError("publish type mqtt needs a device identity (identity.dir)")
        return MqttSink(self, identity)


class StdoutPublishConfig(StrictModel):
    type: Literal["stdout"]

    def build(self, identity: Identity | None) -> Sink:
        from edge_agent.publish.local import StdoutSink

        return StdoutSink()


class FilePublishConfig(StrictModel):
    """Append each batch as a JSON line; useful for tests and air-gapped capture."""

    type: Literal["file"]
    path: Path

    def build(self, identity: Identity | None) -> Sink:
        from edge_agent.publish.local import FileSink

        return FileSink(self.path)


class GreengrassPublishConfig(StrictModel):
    """Through the nucleus's own connection (IPC PublishToIoTCore). Weaker guarantee: success
    means the nucleus accepted the message, not the cloud's PUBACK."""

    type: Literal["greengrass_ipc"]
    rule: str | None = "edgeferry_telemetry"
    alarm_rule: str | None = "edgeferry_alarms"
    timeout: Duration = 10.0

    def build(self, identity: Identity | None) -> Sink:
        from edge_agent.publish.greengrass import GreengrassIpcSink

        return GreengrassIpcSink(self)



