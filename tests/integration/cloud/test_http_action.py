"""The http action against a real HTTPS endpoint (http.server behind TLS in a thread): the
destination's confirmation request, data only once the token came back, templated headers,
SigV4 signing, and a refused confirmation failing the action into the dead-letter queue."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from cloud.rules.actions.http import DESTINATIONS, HttpAction
from cloud.rules.rulesfile import parse_rules
from cloud.rules.runner import RulesRunner
from cloud.stores.destinations import DestinationStore
from cloud.stores.sql import SqlDatabase
from edgeferry.cli import main
from provisioning.pki import CertificateAuthority
from tests.integration.cloud.stored import stored
from tests.unit.cloud.batches import make_batch

TOPIC = "$aws/rules/hooks/dt/plant1/pump/pump-1/telemetry"
SQL = "SELECT device, seq FROM 'dt/+/+/+/telemetry'"


@dataclass
class Endpoint:
    url: str
    ca_file: Path
    status: int = 200
    """What the endpoint answers to a confirmation request."""
    requests: list[tuple[str, Message, bytes]] = field(default_factory=list)

    def token(self) -> str:
        [(path, _, _)] = [r for r in self.requests if "confirmationToken=" in r[0]]
        return parse_qs(urlsplit(path).query)["confirmationToken"][0]


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    ca = CertificateAuthority.open(tmp_path / "ca")
    issued = ca.issue("endpoint", server_names=("127.0.0.1",))
    (tmp_path / "server.pem").write_bytes(issued.cert_pem + issued.key_pem)
    seen = Endpoint("", tmp_path / "ca" / CertificateAuthority.CERT_FILE)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.requests.append((self.path, self.headers, body))  # names case-insensitive
            self.send_response(seen.status if "confirmationToken=" in self.path else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "server.pem")
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    seen.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


def rules(data: Path, endpoint: Endpoint, **extra: Any) -> Any:
    return parse_rules(rules_doc(data, endpoint, **extra))


def rules_doc(data: Path, endpoint: Endpoint, **extra: Any) -> dict[str, Any]:
    return {"dataDir": str(data), "rules": [{"name": "hooks", "sql": SQL, "actions": [{"http": {
        "url": f"{endpoint.url}/ingest/${{topic(4)}}", "confirmationUrl": f"{endpoint.url}/ingest",
        "headers": [{"key": "x-device", "value": "${device}"}],
        "backend": {"caFile": str(endpoint.ca_file), "timeout": 30}, **extra}}],
        "errorAction": {"dlq": {}}}]}


def confirm(data: Path, token: str) -> None:
    store = DestinationStore(SqlDatabase(path=data / DESTINATIONS))
    store.open()
    try:
        assert store.confirm(token).state == "ENABLED"
    finally:
        store.close()


async def test_data_flows_only_after_the_destination_is_confirmed(tmp_path: Path, endpoint: Endpoint) -> None:
    data = tmp_path / "data"
    async with RulesRunner(rules(data, endpoint)) as runner:
        [(path, headers, body)] = endpoint.requests
        assert path.startswith("/ingest/?confirmationToken=")
        assert headers["x-amz-rules-engine-message-type"] == "DestinationConfirmation"
        request = json.loads(body)
        assert request["messageType"] == "DestinationConfirmation"
        assert request["arn"] == headers["x-amz-rules-engine-destination-arn"]
        early = await runner.process(TOPIC, make_batch(seq=1).encode())
        assert "is IN_PROGRESS: not confirmed" in early.failures["hooks"][0].error_message
        assert len(endpoint.requests) == 1, "nothing is sent to an unconfirmed destination"

        confirm(data, endpoint.token())
        late = await runner.process(TOPIC, make_batch(seq=2).encode())
        assert late.failures == {}
    (path, headers, body) = endpoint.requests[-1]
    assert (path, headers["x-device"], json.loads(body)) == ("/ingest/pump-1", "pump-1",
                                                             {"device": "pump-1", "seq": 2})
    async with RulesRunner(rules(data, endpoint)) as runner:
        assert (await runner.process(TOPIC, make_batch(seq=3).encode())).failures == {}
    assert not any("confirmationToken=" in p for p, _, _ in endpoint.requests[2:]), "confirmed once only"


async def test_a_refused_confirmation_fails_the_action_into_the_dlq(tmp_path: Path, endpoint: Endpoint) -> None:
    endpoint.status = 403
    async with RulesRunner(rules(tmp_path, endpoint)) as runner:
        outcome = await runner.process(TOPIC, make_batch(seq=1).encode())
    [failure] = outcome.failures["hooks"]
    assert failure.failed_action == "HttpAction"
    assert "is ERROR: confirmation request failed: HTTP 403 Forbidden" in failure.error_message
    [letter] = (await stored(tmp_path))["dlq"]
    assert letter["failures"][0]["errorMessage"] == failure.error_message
    assert len(endpoint.requests) == 1, "the data never reached the endpoint"


async def test_sigv4_signs_the_request(tmp_path: Path, endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    sigv4 = {"sigv4": {"signingRegion": "eu-west-1", "serviceName": "execute-api",
                       "roleArn": "arn:aws:iam::111122223333:role/hooks"}}
    doc = rules_doc(tmp_path, endpoint, auth=sigv4)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(doc))
    async with RulesRunner(parse_rules(doc)) as runner:
        assert main(["rules", "confirm-destination", "--rules", str(tmp_path / "rules.yaml"),
                     "--token", "not-the-token"]) == 1
        assert main(["rules", "confirm-destination", "--rules", str(tmp_path / "rules.yaml"),
                     "--token", endpoint.token()]) == 0
        assert (await runner.process(TOPIC, make_batch(seq=1).encode())).failures == {}
    auth = endpoint.requests[-1][1]["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in auth


@pytest.mark.parametrize(("config", "reason"), [
    ({"url": "http://example.com/x"}, "is not HTTPS"),
    ({"url": "https://example.com/${topic(4)}"}, "needs a confirmationUrl"),
    ({"url": "https://example.com/x", "confirmationUrl": "https://other.example.com"}, "is not a prefix"),
])
def test_aws_rules_on_the_url(config: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        HttpAction.model_validate(config)
