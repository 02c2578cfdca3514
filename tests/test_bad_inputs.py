"""The bad-input corpus (tests/data/bad/cases.yaml), each case through the real command
line: its exit code, a fragment of its one message, a hint, no traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from ale_app.cli import main

from helpers.bad_cases import BAD, CASES, write_case_spec


def test_corpus_is_large_and_every_data_file_is_used():
    assert len(CASES) >= 30
    assert len({c["name"] for c in CASES}) == len(CASES)
    used = {Path(c["input"]["path"]).name for c in CASES}
    data = {p.name for p in BAD.iterdir() if p.name != "cases.yaml"} - {"valid_two.txt"}
    assert data <= used, sorted(data - used)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input(case, tmp_path, capsys):
    spec = write_case_spec(case, tmp_path)
    out = tmp_path / "out"
    code = main([str(spec), str(out)])
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err + captured.out
    assert ("\n" + err).count("\nale-app: error: ") == 1, err
    assert "\nhint: " in err, err
    assert code == case["code"], err
    assert case["message"] in err, err
    assert not out.exists() or not any(out.iterdir())
