"""Configuration of an OPC-UA server connection and its nodes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from edge_agent.secrets import Secret
from edge_agent.sources.points import PointBase, StrictModel
from edge_agent.units import Duration

if TYPE_CHECKING:
    from edge_agent.interfaces import Source


NODE_ID = r"^(ns=\d+;)?(i=\d+|s=.+|g=[0-9A-Fa-f-]{36}|b=.+)$"
"""OPC-UA Part 6, 5.3.1.10: ``ns=2;s=Pump1.Flow``, ``ns=3;i=1001``, ``g=<guid>``, ``b=<base64>``."""
BROWSE_PATH = r"^/?(\d+:)?[^/]+(/(\d+:)?[^/]+)*$"
"""Qualified names from the Objects folder, ``<namespace index>:<name>`` joined by ``/``."""


class OpcUaPoint(PointBase):
    """A node, by id (``ns=2;s=Pump1.Flow``, ``ns=3;i=1001``) or by browse path from Objects
    (``2:Station/2:Pump1/2:Flow``)."""

    node: str | None = Field(default=None, pattern=NODE_ID)
    browse_path: str | None = Field(default=None, pattern=BROWSE_PATH)
    sampling: Literal["subscribe", "poll"] = "subscribe"

    @model_validator(mode="after")
    def _one_address(self) -> OpcUaPoint:
        if (self.node is None) == (self.browse_path is None):
            raise ValueError("set exactly one of node or browse_path")
        if self.count > 1 and "{i" not in (self.node or self.browse_path or ""):
            raise ValueError("a point with count > 1 needs '{i}' in its node or browse_path")
        return self


SecurityPolicy = Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
"""OPC-UA security policies by their Part 7 names (Basic128Rsa15 and Basic256 are deprecated)."""


class OpcUaSecurity(StrictModel):
    policy: SecurityPolicy = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: Path | None = None
    """Client application certificate (DER or PEM)."""
    private_key: Path | None = None
    server_certificate: Path | None = None
    """Pin the server's certificate: trusted without the trust list, any other one refused."""
    pki: Path = Path("pki")
    """Trust list directory: ``trusted/certs`` (servers or their CAs), ``trusted/crl``,
    ``rejected/certs`` (refused servers, to be copied to ``trusted/certs`` once checked)."""

    @model_validator(mode="after")
    def _consistent(self) -> OpcUaSecurity:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError(f"policy None goes with mode None, {self.policy} with Sign or SignAndEncrypt")
        if self.policy != "None" and (self.certificate is None or self.private_key is None):
            raise ValueError(f"{self.policy} needs certificate and private_key")
        return self


class OpcUaUserCertificate(StrictModel):
    """An X.509 user identity token: the session is activated as the holder of this certificate."""

    certificate: Path
    private_key: Path


class OpcUaDevice(StrictModel):
    type: Literal["opcua"]
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    security: OpcUaSecurity = OpcUaSecurity()
    username: str | None = None
    password: Secret | None = None
    """Inline, or ``{file: ...}``, ``{env: ...}``, ``{greengrass_secret: ..., key: ...}``."""
    user_certificate: OpcUaUserCertificate | None = None
    poll_interval: Duration = Field(default=1.0, gt=0)
    """For points with sampling ``poll``: one Read request for all of them per interval."""
    sampling_interval: Duration = Field(default=1.0, gt=0)
    """Requested server sampling interval for subscribed points."""
    publishing_interval: Duration = Field(default=1.0, gt=0)
    queue_size: int = Field(default=10, ge=1, le=10_000)
    timeout: Duration = Field(default=5.0, gt=0)
    watchdog_interval: Duration = Field(default=2.0, gt=0)
    """The session watchdog reads the server's state this often; no answer within the interval
    (or a closed socket) means the connection is lost."""
    max_nodes_per_read: int = Field(default=0, ge=0)
    """Split a poll's Read into requests of at most this many nodes (0: one request), for
    servers with a small ``MaxNodesPerRead`` operation limit."""
    buffer: int = Field(default=1000, ge=1, le=1_000_000)
    """Scans (poll cycles, notification batches) held for ``scans()``; a full buffer drops the
    new notifications and counts them in ``queue_drops``."""
    reconnect_min: Duration = Field(default=0.5, gt=0)
    reconnect_max: Duration = Field(default=30.0, gt=0)
    points: list[OpcUaPoint] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_user(self) -> OpcUaDevice:
        if self.user_certificate is not None and self.username is not None:
            raise ValueError("set username or user_certificate, not both")
        if self.password is not None and self.username is None:
            raise ValueError("password needs username")
        return self

    def build(self) -> Source:
        from edge_agent.sources.opcua.source import OpcUaSource

        return OpcUaSource(self)
