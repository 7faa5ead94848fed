"""Secrets read from a file, an environment variable or a Greengrass secret, with one-line errors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from edge_agent.errors import EdgeferryError
from edge_agent.secrets import SecretSource, reveal


class SecretManagerIpc:
    """Stands in for GreengrassCoreIPCClientV2.get_secret_value (the nucleus's IPC)."""

    def __init__(self, secrets: dict[str, str | None]) -> None:
        self.secrets = secrets
        self.asked: list[str] = []

    def get_secret_value(self, *, secret_id: str) -> Any:
        self.asked.append(secret_id)
        if secret_id not in self.secrets:
            raise LookupError(f"no secret {secret_id}")
        return SimpleNamespace(secret_value=SimpleNamespace(secret_string=self.secrets[secret_id]))


def test_file_first_line(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\nignored\n")
    assert reveal(SecretSource(file=tmp_path / "pw")) == "s3cret"


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLC_PW", "s3cret")
    assert reveal(SecretSource(env="PLC_PW")) == "s3cret"


def test_inline() -> None:
    assert reveal(SecretStr("s3cret")) == "s3cret"


def test_greengrass_secret_whole_or_one_key() -> None:
    ipc = SecretManagerIpc({"plant/plc1": '{"password": "s3cret", "user": "op"}', "plain": "tok"})
    assert reveal(SecretSource(greengrass_secret="plant/plc1", key="password"), ipc) == "s3cret"
    assert reveal(SecretSource(greengrass_secret="plain"), ipc) == "tok"
    assert ipc.asked == ["plant/plc1", "plain"]


@pytest.mark.parametrize(("source", "message"), [
    ({"file": "/nonexistent/pw"}, "secret file /nonexistent/pw: No such file or directory"),
    ({"env": "EDGEFERRY_UNSET_VARIABLE"}, "secret: environment variable EDGEFERRY_UNSET_VARIABLE is not set"),
    ({"greengrass_secret": "missing"}, "Greengrass secret missing: LookupError: no secret missing"),
    ({"greengrass_secret": "plain", "key": "password"}, "Greengrass secret plain has no JSON key 'password'"),
    ({"greengrass_secret": "binary"}, "Greengrass secret binary holds binary data, not a string"),
])
def test_unreadable_secret_is_one_clear_line(source: dict[str, str], message: str) -> None:
    ipc = SecretManagerIpc({"plain": "tok", "binary": None})
    with pytest.raises(EdgeferryError) as error:
        SecretSource.model_validate(source).read(ipc)
    assert str(error.value) == message


@pytest.mark.parametrize("source", [{}, {"file": "a", "env": "B"}, {"env": "B", "key": "k"}])
def test_exactly_one_source(source: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SecretSource.model_validate(source)


def test_greengrass_secret_outside_greengrass_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", raising=False)
    with pytest.raises(EdgeferryError, match="not running as a Greengrass component"):
        SecretSource(greengrass_secret="plant/plc1").read()
