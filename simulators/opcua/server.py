"""``OpcUaSimulator``: a real asyncua server exposing a signal model as an OPC-UA address space.

Node tree: ``Objects/2:Station/2:<Field>`` for station signals and ``Objects/2:Station/2:Pump<i>/
2:<Field>`` for each pump (``Objects/2:Reefer/2:<Field>`` for a reefer), with string node ids
``ns=2;s=<Group>.<Field>`` (``ns=2;s=Pump3.Flow``).
Values are written every ``update_interval`` seconds, only when they change, with source time:
exactly what a data-change subscription reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import errno
import logging
import socket
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Self

from asyncua import ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager

from simulators.opcua.certs import make_certificate
from simulators.opcua.faults import BadStatus, Fault, Restart
from simulators.profiles import SignalModel, SignalSpec, SignalValue, build_model

logger = logging.getLogger(__name__)

Security = Literal["none", "sign", "signandencrypt"]
Policy = Literal["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
"""Security policies by their OPC-UA names (Part 7); asyncua spells them without underscores."""
NAMESPACE = "urn:edgeferry:simulator"
ROOT_OBJECT = {"pump-station": "Station", "reefer": "Reefer"}
"""The object under Objects that holds a profile's own signals and its other groups (pumps)."""
_VARIANT = {"analog": ua.VariantType.Double, "counter": ua.VariantType.Int64,
            "state": ua.VariantType.Boolean, "text": ua.VariantType.String}
_MODES: dict[Security, str] = {"sign": "Sign", "signandencrypt": "SignAndEncrypt"}


def _endpoint_policies(security: Security, policy: Policy) -> list[ua.SecurityPolicyType]:
    if security == "none":
        return [ua.SecurityPolicyType.NoSecurity]
    return [getattr(ua.SecurityPolicyType, f"{policy.replace('_', '')}_{_MODES[security]}")]


class _KnownUsers(UserManager):
    """asyncua user manager: only the listed user names with their passwords, and the holders of
    the listed user certificates (asyncua checks the token's signature), get a session."""

    def __init__(self, users: Mapping[str, str], certificates: Iterable[bytes]) -> None:
        self._users = dict(users)
        self._certificates = set(certificates)

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:
        if username is not None and self._users.get(username) == password:
            return User(role=UserRole.User, name=username)
        if certificate is not None and bytes(certificate) in self._certificates:
            return User(role=UserRole.User, name="x509")
        return None


class OpcUaSimulator:
    """A simulated OPC-UA server, as an async context manager.

    ``points`` sizes the pump-station profile (thousands are fine); ``faults`` from
    :func:`~simulators.opcua.faults.parse_fault`; ``security`` other than ``none`` serves only
    ``policy`` (Basic256Sha256 by default) Sign or SignAndEncrypt with a self-signed certificate
    (``server_certificate``) and checks that a client's application URI matches its certificate;
    ``users`` maps user names to passwords and ``user_certificates`` lists the DER certificates of
    X.509 user tokens it accepts; either refuses anonymous sessions.
    """

    def __init__(self, profile: str = "pump-station", port: int = 4840, points: int | None = None,
                 faults: Iterable[Fault] = (), security: Security = "none",
                 users: Mapping[str, str] | None = None, *, host: str = "127.0.0.1",
                 update_interval: float = 1.0, seed: int = 0, cert_dir: Path | None = None,
                 policy: Policy = "Basic256Sha256", user_certificates: Iterable[Path] = ()) -> None:
        self.model: SignalModel = build_model(profile, points=points, seed=seed)
        self.profile = profile
        self.port = port
        self.host = host
        self.security = security
        self.update_interval = update_interval
        self._users = users
        self.policy = policy
        self._user_certificates = [p.read_bytes() for p in user_certificates]
        self._faults = tuple(faults)
        self._bad: dict[str, int] = {f.key: f.code for f in self._faults if isinstance(f, BadStatus)}
        unknown = sorted(set(self._bad) - {s.key for s in self.model.signals})
        if unknown:
            raise ValueError(f"no such node in the {profile} profile: {', '.join(unknown)}")
        self._cert_dir = cert_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: Server | None = None
        self._nodes: dict[str, ua.NodeId] = {}
        self._published: dict[str, tuple[SignalValue, int]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self.restarts = 0
        self.server_certificate: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/edgeferry/"

    @property
    def node_ids(self) -> dict[str, str]:
        """Every signal key (``Pump1.Flow``) with its node id string (``ns=2;s=Pump1.Flow``)."""
        return {key: node.to_string() for key, node in self._nodes.items()}

    async def __aenter__(self) -> Self:
        auto_port = self.port == 0
        for attempt in range(1, PORT_ATTEMPTS + 1):
            if auto_port:
                self.port = _free_port(self.host)
            self._server = await self._build()
            await self._publish(force=True)
            try:
                await self.start()
                break
            except OSError as exc:
                # Another process took the port between the probe and the bind: pick another.
                if not auto_port or exc.errno != errno.EADDRINUSE or attempt == PORT_ATTEMPTS:
                    raise
        self._tasks.append(asyncio.create_task(self._update_forever(), name="opcua-sim-update"))
        for fault in self._faults:
            if isinstance(fault, Restart):
                self._tasks.append(asyncio.create_task(self._restart_forever(fault),
                                                       name="opcua-sim-restart"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    async def start(self) -> None:
        """Listen again (after :meth:`stop`); the address space and its values are kept."""
        if self._server is not None and not self._running:
            await self._server.start()
            self._running = True
            logger.info("opcua_sim_listening", extra={"endpoint": self.endpoint, "points": len(self._nodes),
                                                      "security": self.security})

    async def stop(self) -> None:
        """Close the listener and every client connection, as a crashing server would."""
        if self._server is not None and self._running:
            self._running = False
            await self._server.stop()

    async def restart(self, down: float = 0.0) -> None:
        """Stop, stay down ``down`` seconds, start again."""
        await self.stop()
        await asyncio.sleep(down)
        await self.start()
        self.restarts += 1

    def set_bad_status(self, key: str, code: int | None) -> None:
        """From the next update, node ``key`` reports ``code`` (None: good again)."""
        if code is None:
            self._bad.pop(key, None)
        else:
            self._bad[key] = code

    async def _build(self) -> Server:
        known = self._users or self._user_certificates
        server = Server(user_manager=_KnownUsers(self._users or {}, self._user_certificates) if known else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"edgeferry {self.profile} simulator")
        await server.set_application_uri(f"{NAMESPACE}:{self.profile}")
        server.set_security_policy(_endpoint_policies(self.security, self.policy))
        # Offer only the identity the simulator checks: with every token type (asyncua's default)
        # and no signing policy, asyncua warns at each start about certificate and password tokens
        # it could not protect.
        tokens: list[type] = [ua.UserNameIdentityToken] if self._users else []
        tokens += [ua.X509IdentityToken] if self._user_certificates else []
        server.set_identity_tokens(tokens or [ua.AnonymousIdentityToken])
        if self.security != "none":
            await self._load_certificate(server)
        index = await server.register_namespace(NAMESPACE)
        await self._add_nodes(server, index)
        return server

    async def _load_certificate(self, server: Server) -> None:
        directory = self._cert_dir
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="edgeferry-opcua-sim-")
            directory = Path(self._tmp.name)
        files = make_certificate(directory, "opcua-simulator", server.get_application_uri(),
                                 hosts=("localhost", self.host, socket.gethostname()))
        await server.load_certificate(str(files.certificate))
        await server.load_private_key(str(files.private_key))
        # Time range and application URI against the client's certificate (OPC-UA Part 4, 5.6.2).
        server.set_certificate_validator(CertificateValidator(
            CertificateValidatorOptions.BASIC_VALIDATION | CertificateValidatorOptions.PEER_CLIENT).validate)
        self.server_certificate = files.certificate

    async def _add_nodes(self, server: Server, ns: int) -> None:
        root = ROOT_OBJECT.get(self.profile, "Station")
        objects = server.nodes.objects
        groups = {root: await objects.add_object(_node_id(root, ns), ua.QualifiedName(root, ns))}
        initial = self.model.sample(time.time())
        for spec in self.model.signals:
            parent = groups.get(spec.group)
            if parent is None:
                parent = await groups[root].add_object(_node_id(spec.group, ns), ua.QualifiedName(spec.group, ns))
                groups[spec.group] = parent
            value = ua.Variant(_coerce(spec, initial[spec.key]), _VARIANT[spec.kind])
            node = await parent.add_variable(_node_id(spec.key, ns), ua.QualifiedName(spec.field, ns), value)
            if spec.writable:
                await node.set_writable()
            self._nodes[spec.key] = node.nodeid

    async def _update_forever(self) -> None:
        while True:
            await asyncio.sleep(self.update_interval)
            await self._publish()

    async def _publish(self, force: bool = False) -> None:
        """Write every value (and injected status) that changed since the last write."""
        assert self._server is not None
        await self._take_client_writes()
        now = time.time()
        values = self.model.sample(now)
        source_time: Any = datetime.datetime.fromtimestamp(now, datetime.UTC)
        for spec in self.model.signals:
            value = _coerce(spec, values[spec.key])
            code = self._bad.get(spec.key, 0)
            if not force and self._published.get(spec.key) == (value, code):
                continue
            self._published[spec.key] = (value, code)
            dv = ua.DataValue(ua.Variant(value, _VARIANT[spec.kind]), ua.StatusCode(ua.UInt32(code)),
                              SourceTimestamp=source_time, ServerTimestamp=source_time)
            await self._server.write_attribute_value(self._nodes[spec.key], dv)

    async def _take_client_writes(self) -> None:
        """A client's write to a setpoint goes into the model."""
        assert self._server is not None
        for spec in self.model.signals:
            if not spec.writable or spec.key not in self._published:
                continue
            current = self._server.read_attribute_value(self._nodes[spec.key]).Value
            if current is not None and current.Value != self._published[spec.key][0]:
                with contextlib.suppress(KeyError, ValueError):
                    self.model.set(spec.key, current.Value)

    async def _restart_forever(self, fault: Restart) -> None:
        while True:
            await asyncio.sleep(fault.every)
            logger.info("opcua_sim_restart", extra={"down_s": fault.down})
            await self.restart(fault.down)


def _coerce(spec: SignalSpec, value: SignalValue) -> SignalValue:
    if spec.kind == "analog":
        return float(value)
    if spec.kind == "counter":
        return int(value)
    if spec.kind == "state":
        return bool(value)
    return str(value)


PORT_ATTEMPTS = 5


def _free_port(host: str) -> int:
    """A port the OS has just handed out: asyncua must know its port before it listens, because
    the endpoint URL it announces carries it."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _node_id(key: str, ns: int) -> ua.NodeId:
    return ua.NodeId(ua.String(key), ua.Int16(ns))
