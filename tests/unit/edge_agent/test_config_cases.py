"""Golden config cases: tests/cases/config_<name>/{config.yaml, error.txt}.

Every line of error.txt must appear in what ``edgeferry agent check`` prints, which must be
one line per problem, no traceback, and exit code 2.
"""

from pathlib import Path

import pytest

from edgeferry.cli import main

CASES = sorted((Path(__file__).parents[2] / "cases").glob("config_*"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_config_case(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["agent", "check", "--config", str(case / "config.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    for expected in (case / "error.txt").read_text().splitlines():
        assert any(expected in line for line in err.splitlines()), f"missing: {expected}\n{err}"


def test_missing_config_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["agent", "check", "--config", str(tmp_path / "nope.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert any("cannot read: No such file or directory" in line for line in err)


def test_empty_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert main(["agent", "check", "--config", str(path)]) == 2
    assert "expected a mapping of settings" in capsys.readouterr().err
