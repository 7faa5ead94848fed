"""Secrets that stay out of the configuration file: a file, an environment variable, or a
Greengrass secret (IPC ``GetSecretValue`` from the ``aws.greengrass.SecretManager`` component).

A config field that holds a secret accepts either a plain string (kept for quick tests) or one of::

    password: {file: /etc/edgeferry/plc1.password}        # first line, without its newline
    password: {env: PLC1_PASSWORD}
    password: {greengrass_secret: plant/plc1, key: password}  # SecretString, or one JSON key of it
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr, model_validator

from edge_agent.errors import EdgeferryError
from edge_agent.sources.points import StrictModel


class SecretSource(StrictModel):
    """Where one secret is read from, when it is needed (never logged, never kept in the config)."""

    file: Path | None = None
    env: str | None = None
    greengrass_secret: str | None = None
    """Secret ARN or name, as the component's ``aws.greengrass.SecretManager`` configuration lists it."""
    key: str | None = None
    """With ``greengrass_secret``: read this key of a JSON ``SecretString`` (a key/value secret)."""

    @model_validator(mode="after")
    def _one_source(self) -> SecretSource:
        if sum(x is not None for x in (self.file, self.env, self.greengrass_secret)) != 1:
            raise ValueError("set exactly one of file, env or greengrass_secret")
        if self.key is not None and self.greengrass_secret is None:
            raise ValueError("key goes with greengrass_secret")
        return self

    def read(self, ipc: Any = None) -> str:
        """The secret's value; :class:`EdgeferryError` naming the source when it cannot be read.
        ``ipc``: a connected Greengrass IPC client (default: connect through the nucleus)."""
        if self.file is not None:
            try:
                return self.file.read_text().splitlines()[0] if self.file.stat().st_size else ""
            except OSError as exc:
                raise EdgeferryError(f"secret file {self.file}: {exc.strerror}") from None
        if self.env is not None:
            if self.env not in os.environ:
                raise EdgeferryError(f"secret: environment variable {self.env} is not set")
            return os.environ[self.env]
        assert self.greengrass_secret is not None
        return self._from_greengrass(ipc)

    def _from_greengrass(self, ipc: Any) -> str:
        secret_id = self.greengrass_secret
        try:
            ipc = ipc or _shared_ipc()
        except KeyError:  # the nucleus sets the IPC socket path and SVCUID for its components
            raise EdgeferryError(f"Greengrass secret {secret_id}: not running as a Greengrass component "
                                 "(no IPC socket); use file or env outside Greengrass") from None
        try:
            response = ipc.get_secret_value(secret_id=secret_id)
        except Exception as exc:  # IPC errors: not running under the nucleus, not authorised, unknown id
            raise EdgeferryError(f"Greengrass secret {secret_id}: {type(exc).__name__}: {exc}") from None
        text = response.secret_value.secret_string
        if text is None:
            raise EdgeferryError(f"Greengrass secret {secret_id} holds binary data, not a string")
        if self.key is None:
            return str(text)
        try:
            return str(json.loads(text)[self.key])
        except (ValueError, KeyError, TypeError):
            raise EdgeferryError(f"Greengrass secret {secret_id} has no JSON key {self.key!r}") from None


@functools.cache
def _shared_ipc() -> Any:
    """One IPC connection to the nucleus for every secret this process reads (reconnects reuse it)."""
    from edge_agent.publish.greengrass import connect_ipc

    return connect_ipc()


Secret = SecretStr | SecretSource
"""A config field holding a secret: inline (quick tests) or read from a :class:`SecretSource`."""


def reveal(secret: Secret, ipc: Any = None) -> str:
    """The value of ``secret``, reading its source now."""
    if isinstance(secret, SecretStr):
        return secret.get_secret_value()
    return secret.read(ipc)
