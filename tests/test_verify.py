"""--verify cannot be fooled: the archive is checked against the digests provenance.json
recorded before the re-run, and every difference is a failure with its own exit code."""

from __future__ import annotations

import json

import pytest

from ale_app.cli import main
from ale_app.errors import ExitCode
from ale_app.outputs import registry as O

from conftest import write_small_spec


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    spec = write_small_spec(tmp_path_factory.mktemp("verify") / "archive")
    out = spec.parent / "out"
    assert main([str(spec), str(out), "--n-jobs", "1", "-q"]) == 0
    return out


def _copy(archive, tmp_path):
    import shutil

    # The input sits next to the spec, one folder up: move both so the inputs are found.
    target = tmp_path / "archive"
    shutil.copytree(archive.parent, target)
    return target / "out"


def _edit_spec(out, change):
    record = json.loads((out / O.SPEC_JSON).read_text())
    change(record)
    (out / O.SPEC_JSON).write_text(json.dumps(record, indent=2) + "\n")


@pytest.mark.slow
def test_an_edited_spec_json_is_caught_even_when_the_rerun_agrees(archive, tmp_path, capsys):
    out = _copy(archive, tmp_path)
    _edit_spec(out, lambda r: r["report"].update(dominance_min=0.3))
    capsys.readouterr()
    assert main(["--verify", str(out), "--n-jobs", "1", "-q"]) == ExitCode.VERIFY_DIFFERS == 3
    captured = capsys.readouterr()
    assert f"record: {O.SPEC_JSON}: differs from its recorded digest" in captured.out
    assert "verified" not in captured.out
    assert O.SPEC_JSON in captured.err and "Traceback" not in captured.err


@pytest.mark.slow
def test_an_edited_title_flags_spec_json_itself(archive, tmp_path, capsys):
    out = _copy(archive, tmp_path)
    _edit_spec(out, lambda r: r.update(title="Another title"))
    capsys.readouterr()
    assert main(["--verify", str(out), "--n-jobs", "1", "-q"]) == 3
    captured = capsys.readouterr().out
    assert f"record: {O.SPEC_JSON}: differs from its recorded digest" in captured
    assert f"differs: {O.DATASET_DESCRIPTION}" in captured


@pytest.mark.slow
def test_a_changed_digest_in_provenance_is_a_failure(archive, tmp_path, capsys):
    out = _copy(archive, tmp_path)
    record = json.loads((out / O.PROVENANCE).read_text())
    record["Outputs"][O.STATMAP] = "0" * 64
    (out / O.PROVENANCE).write_text(json.dumps(record, indent=2))
    capsys.readouterr()
    assert main(["--verify", str(out), "--n-jobs", "1", "-q"]) == 3
    captured = capsys.readouterr()
    assert f"record: {O.STATMAP}: differs from its recorded digest" in captured.out
    assert f"identical: {O.STATMAP}" in captured.out  # the file itself re-runs the same: the record lies


def test_missing_changed_and_extra_files_are_named(archive, tmp_path, capsys):
    out = _copy(archive, tmp_path)
    recorded = json.loads((out / O.PROVENANCE).read_text())["Outputs"]
    # The small spec has a jackknife and PNG figures only (conftest.SMALL_SPEC): the
    # jackknife table is recorded, the SVG of its figure is one of ale-app's names that
    # this run never writes.
    extra = f"{O.FIG_JACKKNIFE}.svg"
    assert O.CITATION in recorded and O.JACKKNIFE_TABLE in recorded and extra not in recorded
    (out / O.CITATION).unlink()
    (out / O.JACKKNIFE_TABLE).write_text("id\tmean\n")
    (out / extra).write_text("<svg/>\n")
    capsys.readouterr()
    assert main(["--verify", str(out), "--n-jobs", "1", "-q"]) == 3
    captured = capsys.readouterr().out
    findings = sorted(line for line in captured.splitlines() if line.startswith("record: "))
    assert findings == sorted([f"record: {O.CITATION}: missing",
                               f"record: {O.JACKKNIFE_TABLE}: differs from its recorded digest",
                               f"record: {extra}: extra (not recorded)"]), captured


def _fake_archive(folder):
    """The records --verify reads before it re-runs (no input files to check)."""
    out = folder / "archive"
    out.mkdir()
    (out / O.SPEC_JSON).write_text(json.dumps({"spec_version": 1, "input": {"path": "foci.tsv"}}))
    (out / O.PROVENANCE).write_text(json.dumps({"Outputs": {}, "InputFiles": [], "Inputs": {}, "Software": {}}))
    return out


@pytest.mark.parametrize("signame, swallowed", [("SIGTERM", False), ("SIGINT", False), ("SIGTERM", True)])
def test_an_interrupted_verify_removes_its_scratch_and_says_to_verify_again(tmp_path, monkeypatch, capsys,
                                                                             signame, swallowed):
    """SIGTERM or SIGINT during the re-run (also when a library swallowed the interrupt's exception):
    exit 75, the scratch folder is gone, and the hint says to run --verify again, not to re-run a
    command to complete a folder."""
    import os
    import signal
    import tempfile
    import time

    from ale_app.errors import InterruptedRun
    from ale_app.run import pipeline

    out = _fake_archive(tmp_path)
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    seen = []

    def interrupted_run(project, spec_dir, spec_text, output_dir, options):
        output_dir.mkdir(parents=True)
        (output_dir / "half-written.nii.gz").write_bytes(b"x" * 1000)
        seen.extend(scratch_root.iterdir())
        try:
            os.kill(os.getpid(), getattr(signal, signame))
            time.sleep(5)  # the handler raises here
        except InterruptedRun:
            if not swallowed:
                raise

    monkeypatch.setattr(pipeline, "run", interrupted_run)
    code = main(["--verify", str(out), "--n-jobs", "1", "-q"])
    err = capsys.readouterr().err
    assert code == ExitCode.INTERRUPTED == 75, err
    assert [p.name.startswith("ale-app-verify-") for p in seen] == [True]
    assert list(scratch_root.iterdir()) == []
    assert f"ale-app was stopped by signal {signame}" in err
    assert f"run 'ale-app --verify {out}' again to verify the folder" in err
    assert "re-run the same command to complete the folder" not in err
