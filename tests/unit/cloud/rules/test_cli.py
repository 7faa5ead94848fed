from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeferry.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["rules", "eval", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_prints_the_output_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--sql", "SELECT t * 2 AS t2, topic(2) AS d, clientid() AS c FROM 'dt/+'",
                         "--topic", "$aws/rules/r/dt/dev1", "--payload", '{"t": 1.5}', "--clientid", "me")
    assert code == 0
    assert json.loads(out) == {"t2": 3, "d": "dev1", "c": "me"}
    assert err == ""


def test_eval_when_the_rule_does_not_fire(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--sql", "SELECT * FROM 'a' WHERE t > 5", "--topic", "a",
                         "--payload", '{"t": 1}')
    assert (code, out) == (1, "")
    assert "WHERE clause" in err
    code, out, err = run(capsys, "--sql", "SELECT * FROM 'a'", "--topic", "b", "--payload", "{}")
    assert (code, out) == (1, "")
    assert "topic filter" in err


def test_eval_syntax_error_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--sql", "SELECT a FROM", "--topic", "a", "--payload", "{}")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "line 1:14" in err


def test_eval_service_function_without_resolver(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--sql", "SELECT aws_lambda('arn', *) AS x FROM 'a'", "--topic", "a",
                       "--payload", "{}")
    assert code == 2
    assert "not available locally" in err


def test_eval_binary_payload_file_and_version(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    payload = tmp_path / "p.bin"
    payload.write_bytes(b"\x00\xff")
    code, out, _ = run(capsys, "--sql", "SELECT * FROM 'a'", "--topic", "a", "--payload-file", str(payload))
    assert (code, json.loads(out)) == (0, "AP8=")
    code, out, _ = run(capsys, "--sql", "SELECT VALUE x FROM 'a'", "--topic", "a", "--payload", '{"x": 10.0}',
                       "--sql-version", "2015-10-08", "--timestamp", "1")
    assert (code, out.strip()) == (0, "10.0")
    code, _, err = run(capsys, "--sql", "SELECT * FROM 'a'", "--topic", "a",
                       "--payload-file", str(tmp_path / "no"))
    assert code == 2
    assert "cannot read payload file" in err
