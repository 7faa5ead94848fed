"""``http``: the rule output POSTed to an HTTPS endpoint, with AWS's destination rules.

As AWS IoT does (https-rule-action.html, API_HttpAction, rule-destination-http-managing.html):
the URL is HTTPS; the confirmation URL (the URL itself when not given) must be a prefix of it, and
a templated URL needs one; before any data is sent, a confirmation request carrying a token is
POSTed to ``{confirmationUrl}/?confirmationToken={token}``, and data flows only once the
destination is ENABLED by that token coming back (``edgeferry rules confirm-destination``
here, ``aws iot confirm-topic-rule-destination`` on AWS). A destination not ENABLED, a refused
request or a non-2xx answer fails the action. Header values are substitution templates; with
``auth.sigv4`` the request is signed with the credentials of the AWS chain (locally the role is
not assumed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from cloud.rules.actions.base import ActionMessage, BuildContext, CloudModel, Duration
from cloud.stores.destinations import Destination, DestinationStore
from cloud.stores.sql import SqlDatabase

DESTINATIONS = "http_destinations.db"
"""The destinations' database under the rules file's data directory."""


class HttpHeader(CloudModel):
    key: str = Field(min_length=1, max_length=256)
    value: str


class SigV4Authorization(CloudModel):
    signing_region: str = Field(min_length=1)
    service_name: str = Field(min_length=1)
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")


class HttpAuthorization(CloudModel):
    sigv4: SigV4Authorization


class LocalHttpBackend(CloudModel):
    """The runner posts itself: ``caFile`` adds a CA to trust (a rig's own endpoint)."""

    type: Literal["local"] = "local"
    ca_file: Path | None = None
    timeout: Duration = 3.0


class HttpAction(CloudModel):
    """Like AWS's ``http`` action: url, confirmationUrl, headers (at most 100) and auth."""

    url: str = Field(max_length=2000)
    confirmation_url: str | None = Field(default=None, max_length=2000)
    headers: list[HttpHeader] = Field(default_factory=list, max_length=100)
    auth: HttpAuthorization | None = None
    backend: LocalHttpBackend = LocalHttpBackend()

    @model_validator(mode="after")
    def _aws_rules(self) -> HttpAction:
        if not self.url.startswith("https://"):
            raise ValueError(f"url {self.url!r} is not HTTPS (the http action sends to HTTPS endpoints only)")
        if "${" in self.url and self.confirmation_url is None:
            raise ValueError("a url with substitution templates needs a confirmationUrl")
        if "${" in self.destination:
            raise ValueError("a confirmationUrl with substitution templates needs a destination per value; "
                             "give a fixed prefix of the url")
        if not self.url.startswith(self.destination):
            raise ValueError(f"confirmationUrl {self.destination!r} is not a prefix of the url")
        return self

    @property
    def destination(self) -> str:
        """The confirmation URL the destination is made for."""
        return self.confirmation_url if self.confirmation_url is not None else self.url

    def build(self, context: BuildContext) -> HttpPost:
        path = context.data_dir / DESTINATIONS
        destinations = context.shared(f"http:{path}", lambda: Destinations(DestinationStore(SqlDatabase(path=path))))
        tls = ssl.create_default_context(cafile=str(self.backend.ca_file) if self.backend.ca_file else None)
        destinations.register(self.destination, tls, self.backend.timeout)
        return HttpPost(self, destinations, tls)


class Destinations:
    """The destination store as a resource: starting it sends the confirmation request of every
    destination that has none under way or confirmed."""

    def __init__(self, store: DestinationStore) -> None:
        self.store = store
        self._urls: dict[str, tuple[ssl.SSLContext, float]] = {}

    def register(self, confirmation_url: str, tls: ssl.SSLContext, timeout: float) -> None:
        self._urls.setdefault(confirmation_url, (tls, timeout))

    async def start(self) -> None:
        await asyncio.to_thread(self.store.open)
        for url, (tls, timeout) in self._urls.items():
            destination = await asyncio.to_thread(self.store.to_confirm, url)
            if destination is not None:
                await self._request_confirmation(destination, tls, timeout)

    async def stop(self) -> None:
        await asyncio.to_thread(self.store.close)

    async def maintain(self) -> None:
        return None

    async def _request_confirmation(self, destination: Destination, tls: ssl.SSLContext, wait: float) -> None:
        body = json.dumps({"arn": destination.arn, "confirmationToken": destination.token,
                           "messageType": "DestinationConfirmation"}).encode()
        headers = {"Content-Type": "application/json", "x-amz-rules-engine-message-type": "DestinationConfirmation",
                   "x-amz-rules-engine-destination-arn": destination.arn}
        url = f"{destination.confirmation_url.rstrip('/')}/?confirmationToken={destination.token}"
        try:
            await asyncio.to_thread(post, url, body, headers, tls, wait)
        except OSError as exc:
            await asyncio.to_thread(self.store.failed, destination.confirmation_url,
                                    f"confirmation request failed: {reason(exc)}")


class HttpPost:
    failed_action = "HttpAction"

    def __init__(self, config: HttpAction, destinations: Destinations, tls: ssl.SSLContext) -> None:
        self.config = config
        self.resource = config.url
        self._destinations = destinations
        self._tls = tls

    async def __call__(self, message: ActionMessage) -> None:
        c = self.config
        destination = await asyncio.to_thread(self._destinations.store.get, c.destination)
        if destination is None or destination.state != "ENABLED":
            state = destination.state if destination else "missing"
            why = destination.reason if destination and destination.reason else "not confirmed"
            raise PermissionError(f"destination {c.destination} is {state}: {why}")
        url = message.substitute(c.url)
        if not url.startswith(c.destination):
            raise ValueError(f"url {url!r} does not start with its confirmed destination {c.destination!r}")
        headers = {h.key: message.substitute(h.value) for h in c.headers}
        headers.setdefault("Content-Type", "application/json")
        if c.auth is not None:
            headers = await asyncio.to_thread(sign, c.auth.sigv4, url, message.data, headers)
        try:
            await asyncio.to_thread(post, url, message.data, headers, self._tls, c.backend.timeout)
        except OSError as exc:
            raise ConnectionError(reason(exc)) from None


def post(url: str, body: bytes, headers: dict[str, str], tls: ssl.SSLContext, timeout: float) -> None:
    """POST ``body``; an answer other than 2xx raises :class:`urllib.error.HTTPError`."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout, context=tls) as response:
        response.read()


def sign(auth: SigV4Authorization, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """The headers with a Signature Version 4 ``Authorization`` for ``auth``'s service and region."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise PermissionError("auth.sigv4 needs AWS credentials, and the AWS chain has none")
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), auth.service_name, auth.signing_region).add_auth(request)
    return dict(request.headers.items())


def reason(exc: OSError) -> str:
    """One line for a failed request: the HTTP status, or why no answer came."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def register_confirm_destination(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``rules confirm-destination`` (what ``aws iot confirm-topic-rule-destination`` does on AWS)."""
    parser = sub.add_parser(
        "confirm-destination", help="enable an http action's destination with its confirmation token",
        description="Enable the HTTP destination awaiting TOKEN, the confirmationToken its endpoint received.")
    parser.add_argument("--rules", type=Path, required=True, help="the rules file (YAML)")
    parser.add_argument("--token", required=True, help="the confirmationToken of the confirmation request")
    parser.set_defaults(func=run_confirm_destination)


def run_confirm_destination(args: argparse.Namespace) -> int:
    from cloud.rules.rulesfile import RulesFileError, load_rules, print_problems

    try:
        rules = load_rules(args.rules)
    except RulesFileError as exc:
        return print_problems(exc)
    store = DestinationStore(SqlDatabase(path=rules.data_dir / DESTINATIONS))
    store.open()
    try:
        destination = store.confirm(args.token)
    except ValueError as exc:
        print(f"edgeferry: error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"{destination.arn} {destination.confirmation_url} {destination.state}")
    return 0
