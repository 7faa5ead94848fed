"""The local IoT Core: a Mosquitto broker with mutual TLS, authorised by AWS IoT policies, in one directory.

Layout of a rig directory::

    D/ca/ca.pem, ca.key.pem          the rig's CA (key 0600), made once and reused
    D/broker/server.pem, .key.pem    the broker's certificate (SAN localhost, 127.0.0.1)
    D/broker/mosquitto.conf, rules   generated configuration and authorisation rules (cloud.rig.rules)
    D/broker/principals              certificates the rig issued (appended)
    D/broker/mosquitto.log           the broker's log
    D/cloud/                         the privileged identity (CN ``edgeferry-cloud``)
    D/rig.json                       host, port and pid of the running broker

Use it plainly (``rig.start()`` ... ``rig.stop()``), as a context manager (``with Rig(d) as rig``)
or an async one (``async with Rig(d) as rig``). The broker runs in its own session, so a rig
started by ``edgeferry cloud up`` outlives the command; ``Rig(d).stop()`` from another process
stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import re
import resource
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cloud.rig.errors import RigError
from cloud.rig.files import write_private, write_text
from cloud.rig.identity import RigIdentity, write_identity
from cloud.rig.mosquitto import BrokerSettings, find_mosquitto
from cloud.rig.plugin import plugin_path
from cloud.rig.rules import CLOUD_POLICY_NAME, BrokerAuthorization, Limits, append_principal
from provisioning.aws.export import DEVICE_POLICY_NAME
from provisioning.pki import CertificateAuthority
from provisioning.policy import Principal

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
CLOUD_USER = "edgeferry-cloud"
"""CN of the rig's privileged client (the rules runner and the test subscriber)."""
SERVER_NAMES = ("localhost", "127.0.0.1")
CLIENT_NAME = re.compile(r"^[A-Za-z0-9_:-]{1,128}$")
"""AWS IoT thing names; also keeps ``+ # /`` and the rules file's separators out of thing names."""
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
_PORT_ATTEMPTS = 5


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_taken(port: int, host: str = HOST) -> bool:
    """Whether something already listens on ``host:port`` (bound as the broker would bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class Rig:
    """A Mosquitto broker with a generated CA and an mTLS listener in ``directory``, authorising as
    IoT Core does from the policies in :attr:`authorization` (see :mod:`cloud.rig.rules`).

    ``port=None`` reuses the port of the last run in this directory, or picks a free one.
    ``limits`` sets IoT Core's connect, publish and payload limits (default: those of the last start
    in this directory, else AWS's), so that every process rewriting the rules keeps them.
    """

    def __init__(self, directory: Path, port: int | None = None, *, limits: Limits | None = None) -> None:
        self.directory = directory.resolve()
        self.host = HOST
        self._requested_port = port
        self._port: int | None = port or self._saved_state().get("port")
        self._process: subprocess.Popen[bytes] | None = None
        self._ca: CertificateAuthority | None = None
        saved = self._saved_state().get("limits")
        self.authorization = BrokerAuthorization(
            limits=limits or (Limits(**saved) if isinstance(saved, dict) else Limits()),
            principals=self._saved_principals())
        """Policies, registry principals and limits; change them and call :meth:`reload`."""

    # paths and identities -------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RigError(f"{self.directory}: the rig has no port yet (start it first)")
        return self._port

    @property
    def ca(self) -> CertificateAuthority:
        """The rig's CA (created on first use; the key stays in memory for fast issuing)."""
        if self._ca is None:
            self._ca = CertificateAuthority.open(self.directory / "ca")
        return self._ca

    @property
    def ca_path(self) -> Path:
        return self.directory / "ca" / CertificateAuthority.CERT_FILE

    @property
    def broker_dir(self) -> Path:
        return self.directory / "broker"

    @property
    def config_path(self) -> Path:
        return self.broker_dir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.broker_dir / "mosquitto.log"

    @property
    def crl_path(self) -> Path:
        """Where a CRL goes; the broker uses it when the file exists at start or reload."""
        return self.directory / "ca" / "crl.pem"

    @property
    def rules_path(self) -> Path:
        return self.broker_dir / "rules"

    @property
    def principals_path(self) -> Path:
        return self.broker_dir / "principals"

    @property
    def registry_path(self) -> Path:
        """The principals set through :attr:`authorization` (by the provisioning service), kept so
        that another process starting or reloading this rig keeps them."""
        return self.broker_dir / "registry-principals.json"

    @property
    def cloud_identity(self) -> RigIdentity:
        """The privileged client (CN ``edgeferry-cloud``): reads ``$aws/rules/#`` and ``dt/#``,
        writes ``cmd/#``."""
        identity = RigIdentity(CLOUD_USER, self.directory / "cloud")
        if not identity.cert_path.exists():
            write_identity(self.ca, CLOUD_USER, identity.directory, endpoint=self.host)
        return identity

    def issue_identity(self, thing: str, directory: Path, *, policies: tuple[str, ...] = (DEVICE_POLICY_NAME,),
                       limited: bool = True) -> Path:
        """Issue a device certificate with CN ``thing`` into ``directory`` in the edge agent's
        identity layout (``device.cert.pem``, ``device.key.pem`` 0600, ``root-ca.pem``,
        ``identity.json``) and return ``directory``.

        As ``aws iot create-thing`` + ``attach-thing-principal`` + ``attach-policy`` would, the
        certificate is attached to the thing ``thing`` with ``policies`` (the device policy by
        default); the broker knows it before this returns."""
        if not CLIENT_NAME.match(thing):
            raise RigError(f"invalid thing name {thing!r}: use 1-128 of A-Z a-z 0-9 _ - :")
        if thing == CLOUD_USER:
            raise RigError(f"{CLOUD_USER!r} is the rig's privileged identity, not a thing name")
        identity = RigIdentity(thing, write_identity(self.ca, thing, directory, endpoint=self.host).directory)
        self.broker_dir.mkdir(parents=True, exist_ok=True)
        append_principal(self.principals_path, Principal(identity.certificate_id, policies, (thing,),
                                                         limited=limited))
        return directory

    # lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the broker and return once it answers an mTLS handshake; no-op if running.

        Without an explicit port, a port lost to another process meanwhile is replaced by a
        free one (a few attempts)."""
        if self.is_running():
            return self
        if self._requested_port and port_taken(self._requested_port, self.host):
            suggestion = free_port(self.host)
            raise RigError(f"port {self._requested_port} is taken by another process; use a free one, "
                           f"e.g. --port {suggestion}, or leave out --port to have one picked, and give "
                           f"agents the same port (publish.port: {suggestion})")
        binary = find_mosquitto()
        self._prepare()
        attempts = 1 if self._requested_port else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            if self._port is None:
                self._port = free_port(self.host)
            try:
                self._spawn(binary)
                break
            except RigError:
                if attempt == attempts:
                    raise
                logger.warning("rig_port_retry", extra={"port": self._port})
                self._port = None
        logger.info("rig_started", extra={"port": self._port, "dir": str(self.directory)})
        return self

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after a grace period); no-op if not running."""
        self._signal_and_wait(signal.SIGTERM, STOP_TIMEOUT)

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would."""
        self._signal_and_wait(signal.SIGKILL, STOP_TIMEOUT)

    def restart(self) -> None:
        """Stop and start again on the same port (clients see a connection loss)."""
        self.stop()
        self.start()

    def reload(self) -> None:
        """Rewrite the rules and the configuration, SIGHUP the broker to reload its CRL, and return
        once the plugin applied the rules (within a broker tick; it closes every connection of a
        certificate no longer active)."""
        self._write_config()
        pid = self._pid()
        if pid is None:
            raise RigError(f"{self.directory}: the rig is not running")
        os.kill(pid, signal.SIGHUP)
        self._wait_rules_loaded()

    def _wait_rules_loaded(self) -> None:
        """Return once the plugin says it applied the rules file as it is now."""
        written = self.rules_path.stat()
        wanted = f"{written.st_mtime_ns} {written.st_size}"
        ack = self.rules_path.with_name(self.rules_path.name + ".loaded")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if ack.read_text().strip() == wanted:
                    return
            time.sleep(0.01)
        raise RigError(f"{self.directory}: the broker did not apply the new rules within {START_TIMEOUT:.0f} s")

    def is_running(self) -> bool:
        return self._pid() is not None

    def status(self) -> dict[str, Any]:
        """A summary for ``edgeferry cloud status``."""
        return {"running": self.is_running(), "host": self.host, "port": self._port,
                "pid": self._pid(), "dir": str(self.directory), "ca": str(self.ca_path),
                "cloud_identity": str(self.directory / "cloud")}

    # context managers -------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # internals --------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Create the CA, the broker's certificate and the cloud identity when missing."""
        server_cert, server_key = self.broker_dir / "server.pem", self.broker_dir / "server.key.pem"
        if not (server_cert.exists() and server_key.exists()):
            issued = self.ca.issue("localhost", server_names=SERVER_NAMES)
            write_private(server_key, issued.key_pem, 0o600)
            write_private(server_cert, issued.cert_pem, 0o644)
        if not self.crl_path.exists():
            # mosquitto 2.0 reloads a CRL on SIGHUP only when ``crlfile`` was set at start
            write_private(self.crl_path, self.ca.revocation_list(()), 0o644)
        _ = self.cloud_identity

    def _settings(self) -> BrokerSettings:
        return BrokerSettings(
            host=self.host, port=self.port, ca_file=self.ca_path,
            cert_file=self.broker_dir / "server.pem", key_file=self.broker_dir / "server.key.pem",
            plugin=plugin_path(), rules_file=self.rules_path, principals_file=self.principals_path,
            crl_file=self.crl_path if self.crl_path.exists() else None,
            persistence_dir=self.broker_dir,
        )

    def _write_config(self) -> None:
        settings = self._settings()
        principals = self.authorization.principals
        write_text(self.registry_path, json.dumps([dataclasses.asdict(p) for p in principals.values()]))
        cloud = self.cloud_identity.certificate_id
        principals[cloud] = Principal(cloud, (CLOUD_POLICY_NAME,), limited=False)
        write_text(self.rules_path, self.authorization.render())
        write_text(self.config_path, settings.render())

    def _spawn(self, binary: Path) -> None:
        self._write_config()
        self.broker_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen(
                [str(binary), "-c", str(self.config_path)], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        _raise_open_file_limit(process.pid)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers_tls():
            if process.poll() is not None:
                raise RigError(f"mosquitto exited at start (code {process.returncode}) on port "
                               f"{self.port}: {self._last_log_line()}")
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise RigError(f"mosquitto did not listen on {self.host}:{self.port} within "
                               f"{START_TIMEOUT:.0f} s: {self._last_log_line()}")
            time.sleep(0.02)
        self._process = process
        state = {"host": self.host, "port": self.port, "pid": process.pid,
                 "config": str(self.config_path), "limits": dataclasses.asdict(self.authorization.limits)}
        write_text(self.directory / "rig.json", json.dumps(state, indent=2) + "\n")

    def _answers_tls(self) -> bool:
        """A full mTLS handshake as the cloud identity, checking the broker's certificate against
        the rig's CA: proves our broker listens (not whoever else may hold the port)."""
        identity = self.cloud_identity
        context = ssl.create_default_context(cafile=str(self.ca_path))
        context.load_cert_chain(str(identity.cert_path), str(identity.key_path))
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as raw, \
                    context.wrap_socket(raw, server_hostname=self.host):
                return True
        except OSError:  # includes ssl.SSLError
            return False

    def _pid(self) -> int | None:
        """The broker's pid if it is alive: our child, or the one recorded in ``rig.json``."""
        if self._process is not None:
            return self._process.pid if self._process.poll() is None else None
        pid = self._saved_state().get("pid")
        if isinstance(pid, int) and _is_our_broker(pid, self.config_path):
            return pid
        return None

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> None:
        pid = self._pid()
        if pid is None:
            self._process = None
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if not self._wait_gone(pid, timeout) and sig != signal.SIGKILL:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, timeout)
        self._process = None
        logger.info("rig_stopped", extra={"port": self._port, "signal": sig.name})

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while _is_our_broker(pid, self.config_path):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _saved_principals(self) -> dict[str, Principal]:
        try:
            saved = json.loads(self.registry_path.read_text())
        except (OSError, ValueError):
            return {}
        principals = (Principal(**{**p, "policies": tuple(p["policies"]), "things": tuple(p["things"])})
                      for p in saved if isinstance(p, dict))
        return {p.certificate_id: p for p in principals}

    def _saved_state(self) -> dict[str, Any]:
        try:
            state = json.loads((self.directory / "rig.json").read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _last_log_line(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "no log"


def _is_our_broker(pid: int, config: Path) -> bool:
    """Whether ``pid`` is alive and runs mosquitto with this rig's config (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    zombie = stat.rpartition(")")[2].split()[0] == "Z"
    return not zombie and str(config).encode() in cmdline


def _raise_open_file_limit(pid: int) -> None:
    """Let the broker hold as many connections as the hard limit allows (one fd each)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(OSError, ValueError):
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (hard, hard))
