"""The analysis mode is declared in the spec before the run."""

from __future__ import annotations

import json

from ale_app.cli import main
from ale_app.outputs import registry as O

INFERENTIAL_SMALL = """\
spec_version: 1
title: Too few experiments for inference
mode: inferential
input:
  path: nimare:nidm_pain_studyset.json
  select:
    first: 8
"""


def test_inferential_mode_refused_below_min_experiments(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(INFERENTIAL_SMALL)
    out = tmp_path / "out"
    assert main([str(spec), str(out), "-q"]) == 65
    err = capsys.readouterr().err
    assert "mode: inferential needs at least 17 experiments" in err and "has 8" in err
    assert "mode: descriptive" in err and "Traceback" not in err
    assert not out.exists()
    assert main([str(spec), "--validate-only", "-q"]) == 65
    assert "needs at least 17" in capsys.readouterr().err


def test_spec_without_mode_records_as_descriptive(run_jobs1):
    record = json.loads((run_jobs1 / O.SPEC_JSON).read_text())
    assert "mode" not in record and "inference" not in record


def test_explicit_descriptive_mode_records_the_same_spec():
    import yaml

    from ale_app.spec.models import AnalysisSpec

    base = yaml.safe_load(INFERENTIAL_SMALL)
    base.pop("mode")
    implicit = AnalysisSpec.model_validate(base)
    explicit = AnalysisSpec.model_validate({**base, "mode": "descriptive", "inference": {"seed": 7}})
    assert implicit.record() == explicit.record()
    inferential = AnalysisSpec.model_validate({**base, "mode": "inferential"})
    assert inferential.record()["mode"] == "inferential" and inferential.record()["inference"]["seed"] == 0


def test_min_experiments_refusal_names_the_setting_and_the_recommendation(tmp_path, capsys):
    """Issue 38: the refusal names inference.min_experiments (what the protocol may justify
    lowering) with Eickhoff et al. 2016's 17-20 experiments, besides the descriptive mode."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(INFERENTIAL_SMALL)
    assert main([str(spec), "--validate-only", "-q"]) == 65
    err = capsys.readouterr().err
    hint = err[err.index("hint: "):]
    assert "Eickhoff et al. (2016) recommend at least 17-20 experiments" in hint
    assert "'mode: descriptive'" in hint
    assert "lower inference.min_experiments (now 17) in the spec" in hint


def test_contrast_min_experiments_refusal_names_the_setting(tmp_path, capsys):
    lines = ["// Reference=MNI"]
    for i in range(4):
        lines += [f"// S{i} 2010: a", "// Subjects=12", f"{10 + i}\t20\t30", ""]
    (tmp_path / "a.txt").write_text("\n".join(lines))
    (tmp_path / "b.txt").write_text("\n".join(lines).replace("2010", "2011").replace("\t20\t", "\t-40\t"))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"spec_version": 2, "mode": "inferential",
                                "groups": {"a": {"path": "a.txt"}, "b": {"path": "b.txt"}},
                                "contrast": {"groups": ["a", "b"]}}))
    assert main([str(spec), "--validate-only", "-q"]) == 65
    err = capsys.readouterr().err
    assert "group 'a' has 4" in err and "group 'b' has 4" in err
    hint = err[err.index("hint: "):]
    assert "Eickhoff et al. (2016) recommend at least 17-20 experiments per group" in hint
    assert "'mode: descriptive'" in hint and "lower inference.min_experiments (now 17) in the spec" in hint
