"""Failed connects: the cause in words from awscrt's error names, and how often they are logged."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from awscrt.exceptions import AwsCrtError

from edge_agent.metrics import Counters
from edge_agent.publish.causes import Broker, ConnackRefused, ConnectCause, explain
from edge_agent.publish.outage import ConnectFailureLog

LOCAL = Broker("127.0.0.1", 8883, Path("/id/root-ca.pem"), Path("/id/c.pem"), Path("/id/k.pem"), "t1")
REMOTE = Broker("abc-ats.iot.eu-west-1.amazonaws.com", 8883, None, Path("c"), Path("k"), "t1")


def crt(name: str) -> AwsCrtError:
    return AwsCrtError(code=0, name=name, message=name.lower())


@pytest.mark.parametrize(("name", "kind", "words"), [
    ("AWS_IO_SOCKET_CONNECTION_REFUSED", "refused", "nothing listens on 127.0.0.1:8883"),
    ("AWS_IO_DNS_INVALID_NAME", "DNS", "cannot resolve"),
    ("AWS_IO_DNS_QUERY_FAILED", "DNS", "cannot resolve"),
    ("AWS_IO_TLS_NEGOTIATION_TIMEOUT", "timeout", "no TLS handshake"),
    ("AWS_IO_SOCKET_TIMEOUT", "timeout", "connecting to 127.0.0.1:8883"),
    ("AWS_ERROR_MQTT5_CONNACK_TIMEOUT", "timeout", "no CONNACK"),
    ("AWS_IO_TLS_UNKNOWN_ROOT_CERTIFICATE", "unknown CA", "does not chain"),
    ("AWS_IO_TLS_CERTIFICATE_EXPIRED", "certificate expired", "has expired"),
    ("AWS_IO_TLS_HOST_NAME_MISMATCH", "host name mismatch", "not valid for '127.0.0.1'"),
    ("AWS_IO_TLS_PEER_CERTIFICATE_REVOKED", "device certificate refused", "refused this device's"),
    ("AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE", "TLS", "TLS with 127.0.0.1:8883 failed"),
    ("AWS_IO_TLS_ERROR_READ_FAILURE", "TLS", "TLS with 127.0.0.1:8883 failed"),
    ("AWS_AUTH_SIGNING_NO_CREDENTIALS", "no credentials", "credentials provider gave no credentials"),
    ("AWS_ERROR_HTTP_WEBSOCKET_UPGRADE_FAILURE", "WebSocket refused", "refused the WebSocket upgrade"),
    ("AWS_ERROR_SOMETHING_ELSE", "error", "AWS_ERROR_SOMETHING_ELSE"),
])
def test_every_error_name_gets_words_and_a_hint(name: str, kind: str, words: str) -> None:
    cause = explain(crt(name), LOCAL)
    assert cause.kind == kind
    assert words in cause.text
    assert cause.hint


def test_hints_name_the_settings_to_check() -> None:
    assert "`edgeferry cloud up`" in explain(crt("AWS_IO_SOCKET_CONNECTION_REFUSED"), LOCAL).hint
    assert "AWS IoT Core listens on 8883" in explain(crt("AWS_IO_SOCKET_CONNECTION_REFUSED"), REMOTE).hint
    assert "identity.ca (/id/root-ca.pem)" in explain(crt("AWS_IO_TLS_UNKNOWN_ROOT_CERTIFICATE"), LOCAL).hint
    assert "system trust store" in explain(crt("AWS_IO_TLS_UNKNOWN_ROOT_CERTIFICATE"), REMOTE).hint


def test_a_refusing_connack_says_which_reason() -> None:
    cause = explain(ConnackRefused("NOT_AUTHORIZED"), LOCAL)
    assert cause.text == "the broker refused the connection: CONNACK NOT_AUTHORIZED"
    assert "client id 't1'" in cause.hint


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_first_failure_at_once_then_a_summary_per_period(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock, counters = FakeClock(), Counters()
    failures = ConnectFailureLog(LOCAL, counters, summary_every=60.0, clock=clock)
    for second in range(0, 125, 5):  # a retry every 5 s for two minutes
        clock.now = float(second)
        failures.failed(crt("AWS_IO_SOCKET_CONNECTION_REFUSED"))
    assert warnings(caplog) == ["mqtt_connect_failed", "mqtt_still_unreachable", "mqtt_still_unreachable"]
    summary = [r for r in caplog.records if r.getMessage() == "mqtt_still_unreachable"][-1]
    assert (getattr(summary, "failures"), getattr(summary, "for")) == (25, "120s")  # noqa: B009
    assert counters.snapshot()["link_problem"] == "refused"
    failures.connected()
    assert counters.snapshot()["link_problem"] == ""
    assert caplog.records[-1].getMessage() == "mqtt_connected_after_failures"


async def test_a_new_cause_is_logged_at_once(caplog: pytest.LogCaptureFixture) -> None:
    failures = ConnectFailureLog(LOCAL, Counters(), clock=FakeClock())
    failures.failed(crt("AWS_IO_SOCKET_CONNECTION_REFUSED"))
    failures.failed(crt("AWS_IO_SOCKET_CONNECTION_REFUSED"))
    failures.failed(crt("AWS_IO_TLS_NEGOTIATION_TIMEOUT"))
    assert warnings(caplog) == ["mqtt_connect_failed", "mqtt_connect_failed"]


async def test_an_unexplained_tls_failure_is_probed_once_before_it_is_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    probed: list[Broker] = []

    def probe(broker: Broker) -> ConnectCause | None:
        probed.append(broker)
        return ConnectCause("unknown CA", "the probe's words", "the probe's hint")

    failures = ConnectFailureLog(LOCAL, Counters(), clock=FakeClock(), probe=probe)
    for _ in range(3):
        failures.failed(crt("AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE"))
    assert warnings(caplog) == []  # not before the probe has answered
    for _ in range(50):
        await asyncio.sleep(0.01)
        if warnings(caplog):
            break
    assert probed == [LOCAL]
    assert [getattr(r, "cause") for r in caplog.records] == ["the probe's words"]  # noqa: B009


async def test_many_clients_of_one_broker_share_one_probe() -> None:
    """A fleet failing at once must not hammer the broker with a probe per client."""
    probed: list[str] = []

    def probe(broker: Broker) -> ConnectCause | None:
        probed.append(broker.thing)
        return None

    logs = [ConnectFailureLog(Broker("127.0.0.1", 8883, None, Path("c"), Path("k"), f"t{i}"), Counters(),
                              clock=FakeClock(), probe=probe) for i in range(50)]
    for log in logs:
        log.failed(crt("AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE"))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if all(log.cause is not None for log in logs):
            break
    assert len(probed) == 1
    assert all(log.cause is not None and log.cause.kind == "TLS" for log in logs)
