"""The command line: outputs of a run, and every bad input answered with one clear
message, the right exit code, no traceback and nothing written."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ale_app.outputs import folder as D
from ale_app.outputs import registry as O
from ale_app.spec import load as SL
from ale_app.spec.schema import build_json_schema
from ale_app.cli import main

from conftest import ale_app_command, offline

EXPECTED_FILES = {
    "dataset_description.json", "spec.json", "provenance.json", "report.html", "CITATION.md", ".bidsignore",
    "coordinates.tsv", "coordinates.json", O.SLEUTH, D.sidecar_name(O.SLEUTH), O.RERUN_SCRIPT,
    O.STATMAP, D.sidecar_name(O.STATMAP), O.CLUSTER_MAP, D.sidecar_name(O.CLUSTER_MAP),
    O.CLUSTER_TABLE, D.sidecar_name(O.CLUSTER_TABLE), O.JACKKNIFE_TABLE, D.sidecar_name(O.JACKKNIFE_TABLE),
    *(f"{stem}.{ext}" for stem in (O.FIG_COORDINATES, O.FIG_OVERLAY, O.FIG_PEAK, O.FIG_JACKKNIFE,
                                                 O.FIG_DEPENDENCE, O.FIG_CLUSTERS)
      for ext in ("png", "svg")),
}


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {D.LOCK}


def test_run_writes_every_derivative_with_digests(run_jobs1):
    assert _files(run_jobs1) == EXPECTED_FILES
    provenance = json.loads((run_jobs1 / "provenance.json").read_text())
    assert set(provenance["Outputs"]) == EXPECTED_FILES - {"provenance.json"}
    for name, digest in provenance["Outputs"].items():
        assert D.sha256_bytes((run_jobs1 / name).read_bytes()) == digest, name
    for name in (O.STATMAP, O.CLUSTER_MAP, O.CLUSTER_TABLE, O.JACKKNIFE_TABLE, O.COORDINATES):
        sidecar = json.loads((run_jobs1 / D.sidecar_name(name)).read_text())
        assert sidecar["Digest"]["SHA-256"] == provenance["Outputs"][name]
        assert sidecar["Description"] and sidecar["Sources"] and "Parameters" in sidecar
    for name in (O.STATMAP, O.CLUSTER_MAP, O.CLUSTER_TABLE, O.JACKKNIFE_TABLE):
        sidecar = json.loads((run_jobs1 / D.sidecar_name(name)).read_text())
        assert sidecar["Inferential"] is False and sidecar["ThresholdIsStatistical"] is False
        assert sidecar["DisplayThreshold"] > 0
    desc = json.loads((run_jobs1 / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["GeneratedBy"][0]["Name"] == "ale-app"
    spec = json.loads((run_jobs1 / "spec.json").read_text())
    assert spec["input"]["sha256"] == provenance["Inputs"]["nimare:nidm_pain_studyset.json"]
    assert spec["display"]["threshold_percentile"] == 95
    assert provenance["Software"]["nimare"] == "0.22.1"


def test_jackknife_table_shape(run_jobs1):
    import pandas as pd

    table = pd.read_csv(run_jobs1 / O.JACKKNIFE_TABLE, sep="\t")
    assert table.columns[0] == "id" and table.columns[-1] == "mean"
    assert len(table) == 8
    clusters = [c for c in table.columns if c.startswith("cluster_")]
    assert (table["mean"] - table[clusters].mean(axis=1)).abs().max() < 1e-9


def test_report_has_no_inferential_language(run_jobs1):
    from ale_app.present.interpretation_words import FORBIDDEN_PHRASES

    for name in ("report.html", "CITATION.md"):
        # Embedded figures are base64 data, not words: leave them out of the scan.
        text = re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", (run_jobs1 / name).read_text()).lower()
        found = [p for p in FORBIDDEN_PHRASES if p in text]
        assert not found, (name, found)
    citation = (run_jobs1 / "CITATION.md").read_text()
    assert "not statistical" in citation and "8 experiments" in citation


@pytest.mark.slow
def test_console_script_logs_step_timings(run_jobs2):
    _, stderr = run_jobs2
    for step in ("Fitting ALE on 8 experiments done in", "Jackknife (closed-form): 8 experiments done in",
                 "Drawing figures done in"):
        assert step in stderr
    assert "Traceback" not in stderr


def test_existing_run_needs_overwrite(run_jobs1, capsys):
    assert main([SL.EXAMPLE_PREFIX + "pain-qualitative", str(run_jobs1), "-q", "--validate-only"]) == 0
    code = main([SL.EXAMPLE_PREFIX + "pain-qualitative", str(run_jobs1), "-q"])
    assert code == 73
    assert "--overwrite" in capsys.readouterr().err


# --------------------------------------------------------------------------- bad input


def _write_spec(tmp_path: Path, change=None, text: str | None = None) -> Path:
    data = yaml.safe_load(SL.example_path("pain-qualitative").read_text())
    if change:
        change(data)
    path = tmp_path / "spec.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(data))
    return path


def _run_bad(args, capsys):
    code = main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert ("\n" + err).count("\nale-app: error: ") == 1
    assert "\nhint: " in err
    return code, err


BAD_SPECS = {
    "unknown key": (lambda d: d.update(colour="blue"), None, 65, "colour: unknown key"),
    "wrong type": (lambda d: d["figures"].update(dpi="many"), None, 65, "figures.dpi"),
    "select.first 1": (lambda d: d["input"].update(select={"first": 1}), None, 65, "input.select.first"),
    "invalid YAML": (None, "spec_version: 1\ninput: {path: [\n", 65, "not valid YAML"),
    "python tag": (None, "spec_version: 1\ninput: !!python/object/apply:os.getcwd []\n", 65, "tag"),
    "unknown id": (lambda d: d["input"].update(select={"ids": ["pain_01.nidm-1", "nope-1"]}), None, 65,
                   "'nope-1'"),
    "missing input": (lambda d: d["input"].update(path="absent.json"), None, 66, "absent.json"),
    "not a studyset": (lambda d: d["input"].update(path="spec.yaml", format="nimads"), None, 65,
                       "not valid JSON"),
    "too many first": (lambda d: d["input"].update(select={"first": 500}), None, 65, "only 21 analyses"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_spec_or_input(case, tmp_path, capsys):
    change, text, expected_code, expected_text = BAD_SPECS[case]
    spec = _write_spec(tmp_path, change, text)
    out = tmp_path / "out"
    code, err = _run_bad([str(spec), str(out)], capsys)
    assert code == expected_code, err
    assert expected_text in err
    assert not out.exists()


def test_missing_spec_file(tmp_path, capsys):
    code, err = _run_bad([str(tmp_path / "nope.yaml"), str(tmp_path / "out")], capsys)
    assert code == 66 and "nope.yaml" in err
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = _run_bad(["example:pain-qualitative", str(blocker / "out")], capsys)
    assert code == 73 and "Cannot create the output folder" in err


def test_foreign_output_folder_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    code, err = _run_bad(["example:pain-qualitative", str(out)], capsys)
    assert code == 73 and "does not hold an ale-app run" in err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]


def test_usage_errors(capsys):
    code, err = _run_bad(["--n-jobs", "0", "example:pain-qualitative", "x"], capsys)
    assert code == 64
    code, err = _run_bad(["example:pain-qualitative", "x", "subject"], capsys)
    assert code == 64
    code, err = _run_bad(["example:nope", "x"], capsys)
    assert code == 64 and "--list-examples" in err


def _console_script(*args: str) -> subprocess.CompletedProcess:
    cmd, env = offline([*ale_app_command(), *args])  # no network, as docs/outputs.md promises
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=True, timeout=120)


def test_print_schema_list_examples_version():
    proc = _console_script("--print-schema")
    assert json.loads(proc.stdout) == build_json_schema()
    proc = _console_script("--list-examples")
    assert "example:pain-qualitative" in proc.stdout.split()
    proc = _console_script("--version")
    assert proc.stdout.strip().startswith("ale-app ")


def _nimare_counts(n: int) -> tuple[int, int, int]:
    """Experiments, studies and foci of the first ``n`` analyses of NiMARE's pain studyset,
    as NiMARE counts them."""
    import warnings

    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        studyset = Studyset(str(Path(get_resource_path()) / "nidm_pain_studyset.json"))
        subset = studyset.slice(list(studyset.ids[:n]))
        dset = subset.to_dataset()
    return len(dset.ids), dset.coordinates["study_id"].nunique(), len(dset.coordinates)


def test_validate_only_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    first = SL.load_spec("example:pain-qualitative")[0].input.select.first
    experiments, studies, foci = _nimare_counts(first)
    assert main(["example:pain-qualitative", str(out), "--validate-only", "-q"]) == 0
    assert f"experiments: {experiments}; studies: {studies}; foci: {foci}" in capsys.readouterr().out
    assert not out.exists()


def test_readme_quotes_the_example_paragraph(run_jobs1):
    readme = (Path(__file__).resolve().parents[1] / "docs" / "outputs.md").read_text()
    quoted = readme.split("On the example it reads:", 1)[1].split("\n\n", 2)[1]
    quoted = " ".join(line.lstrip("> ").strip() for line in quoted.splitlines())
    citation = (run_jobs1 / "CITATION.md").read_text()
    paragraph = citation.split("## Interpretation\n\n", 1)[1].split("\n\n", 1)[0]
    assert quoted == paragraph


def test_readme_exit_code_table_is_the_enum():
    """The table in docs/cli.md, the --help epilog and the errors all come from one ExitCode enum."""
    import re

    from ale_app.cli import build_parser
    from ale_app.errors import ExitCode, exit_code_summary

    readme = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    block = readme.split("<!-- exit-codes:")[1].split("<!-- /exit-codes -->")[0]
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", block, flags=re.M))
    assert rows == {str(int(c)): c.meaning for c in ExitCode}
    assert build_parser().epilog == exit_code_summary()
    assert all(f"{int(c)} {c.meaning}" in exit_code_summary() for c in ExitCode)
