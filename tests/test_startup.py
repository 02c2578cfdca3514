"""Fail fast: errors that need no heavy library are reported before NiMARE, nilearn,
matplotlib (or numpy, pandas, scipy, nibabel) are imported.

Each case runs the real command line in a fresh interpreter that, after ``main`` returns,
prints the exit code and which of those libraries ``sys.modules`` holds. No timings here:
``benchmarks/end_to_end.py`` measures them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import offline

HEAVY = ("nimare", "nilearn", "matplotlib", "sklearn", "scipy", "pandas", "nibabel", "numpy")

WRAPPER = (
    "import json, sys\n"
    "from ale_app.cli import main\n"
    "code = main(sys.argv[1:])\n"
    f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
    "print(json.dumps({'code': code, 'heavy': heavy}))\n"
)

GOOD_SPEC = "spec_version: 1\ninput: {path: nimare:nidm_pain_studyset.json, select: {first: 8}}\n"


def _run(*args) -> tuple[int, list[str], str]:
    cmd, env = offline([sys.executable, "-c", WRAPPER, *map(str, args)])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    return found["code"], found["heavy"], proc.stderr


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


CASES = {
    "unknown key": (lambda t: (_spec(t, GOOD_SPEC + "colour: blue\n"), t / "out"), 65, "colour: unknown key"),
    "unknown colormap": (lambda t: (_spec(t, GOOD_SPEC + "display: {cmap: virdis}\n"), t / "out"), 65, "virdis"),
    "invalid YAML": (lambda t: (_spec(t, "spec_version: 1\ninput: {path: [\n"), t / "out"), 65, "not valid YAML"),
    "missing spec": (lambda t: (t / "absent.yaml", t / "out"), 66, "absent.yaml"),
    "missing input": (lambda t: (_spec(t, "spec_version: 1\ninput: {path: absent.json}\n"), t / "out"), 66,
                      "absent.json"),
    "missing nimare resource": (lambda t: (_spec(t, "spec_version: 1\ninput: {path: 'nimare:absent.json'}\n"),
                                           t / "out"), 66, "absent.json"),
}


#: Input problems found by ale-app's own readers, before NiMARE builds a studyset (cases of
#: tests/data/bad/cases.yaml).
READER_CASES = ["sleuth unknown reference", "sleuth one experiment", "select.first beyond the input",
                "binary file", "format not recognised", "declared tsv but Sleuth", "table without a space column"]


@pytest.mark.parametrize("name", READER_CASES)
def test_reader_problems_before_heavy_imports(name, tmp_path):
    from helpers.bad_cases import CASES as BAD_CASES
    from helpers.bad_cases import write_case_spec

    case = next(c for c in BAD_CASES if c["name"] == name)
    spec = write_case_spec(case, tmp_path)
    code, heavy, err = _run(spec, tmp_path / "out", "-q")
    assert code == case["code"], err
    assert case["message"] in " ".join(err.split())
    assert heavy == [], f"imported before the error was reported: {heavy}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_spec_and_input_errors_before_heavy_imports(case, tmp_path):
    make, expected_code, expected_text = CASES[case]
    spec, out = make(tmp_path)
    code, heavy, err = _run(spec, out, "-q")
    assert code == expected_code, err
    assert expected_text in err
    assert heavy == [], f"imported before the error was reported: {heavy}"
    assert not out.exists()


def test_refused_output_folder_before_heavy_imports(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("not an ale-app run")
    code, heavy, err = _run("example:pain-qualitative", out, "-q")
    assert code == 73, err
    assert "not empty" in err
    assert heavy == [], f"imported before the folder was refused: {heavy}"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_output_folder_that_is_a_file_before_heavy_imports(tmp_path):
    out = tmp_path / "out"
    out.write_text("a file")
    code, heavy, err = _run(_spec(tmp_path, GOOD_SPEC), out, "-q")
    assert code == 73, err
    assert heavy == []


@pytest.mark.parametrize("flag", ["--version", "--list-examples", "--print-schema", "--print-descriptor", "--help"])
def test_information_flags_import_nothing_heavy(flag):
    code, heavy, err = _run(flag)
    assert code == 0, err
    assert heavy == []
