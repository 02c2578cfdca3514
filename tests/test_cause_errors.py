"""Errors that name the cause (issue #24, part 2), each case from a small hand-written file,
through the real command line: the message, its hint, the exit code.

A broken name line is one problem naming both lines, not one per focus; empty name lines are
one problem that says so; an experiment entered twice is told to delete one, not to merge;
two reference spaces point to a table with a space per row; placeholder study names and
study ids with a stray 'Reference=MNI ' prefix are flagged and group nothing; the study
rule is the user's to set and is stated; opposite contrasts are not advised to be pooled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ale_app.cli import main
from ale_app.inputs.evidence import load_evidence
from ale_app.spec.models import ALESpec, AnalysisSpec, InputSpec


def foci(n: int, shift: int = 0) -> str:
    """``n`` foci in grey matter of the left premotor cortex, one per line."""
    return "".join(f"{-44 + 2 * (i % 8) + shift}\t{-10 + 3 * (i // 8)}\t{44 + i % 3}\n" for i in range(n))


def run(folder: Path, name: str, text: str, *extra: str, **input_extra) -> tuple[int, str, str]:
    """Write ``text`` as ``name`` and a spec reading it; run ``--validate-only``; return
    (exit code, stdout, stderr)."""
    (folder / name).write_text(text)
    spec = {"spec_version": 1, "title": "cause", "input": {"path": name, **input_extra},
            "jackknife": {"enabled": False}}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    out = folder / "out"
    code = main([str(folder / "spec.yaml"), str(out), "--validate-only", "-q", *extra])
    return code, *_read(out)


_capsys = None


@pytest.fixture(autouse=True)
def _capture(capsys):
    global _capsys
    _capsys = capsys
    yield
    _capsys = None


def _read(out: Path) -> tuple[str, str]:
    captured = _capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()
    return captured.out, captured.err


# ------------------------------------------------------------------ Sleuth name lines


def test_broken_name_line_is_one_problem_naming_both_lines(tmp_path):
    text = ("// Reference=MNI\n// Smith 2010: faces versus\nhouses\n// Subjects=12\n" + foci(39)
            + "\n// Lee 2014: words\n// Subjects=20\n" + foci(3, 1))
    code, _, err = run(tmp_path, "broken.txt", text)
    assert code == 65
    assert err.startswith(
        "ale-app: error: 'broken.txt', line 3: the experiment name on line 2 ('Smith 2010: faces versus') "
        "continues on line 3 ('houses'): a stray line end broke the name line.\n"), err
    assert "hint: Join lines 2 and 3 into one '// ...' name line (or begin line 3 with '// ')" in err
    assert "before any experiment name line" not in err and "problems in" not in err

    # Joined as the hint says, the file reads whole: both experiments, every focus.
    code, out, err = run(tmp_path, "broken.txt", text.replace("versus\nhouses", "versus houses"))
    assert code == 0, err
    assert "experiments: 2; studies: 2; foci: 42" in out


def test_empty_name_lines_are_one_problem_that_says_so(tmp_path):
    blocks = [f"{'//' if k % 2 else '// '}\n// Subjects={10 + k}\n" + foci(4, k) + "\n" for k in range(13)]
    code, _, err = run(tmp_path, "unnamed.txt", "// Reference=MNI\n" + "".join(blocks))
    assert code == 65
    assert err.startswith(
        "ale-app: error: 'unnamed.txt', lines 2, 9, 16, 23, 30, 37, 44, 51, 58, 65 and 3 more: 13 experiment "
        "name lines are empty ('//' with no name), so 52 foci belong to no named experiment.\n"), err
    assert "hint: Write each experiment's name after the '//'" in err
    assert "before any experiment name line" not in err and "problems in" not in err


def test_foci_before_any_name_line_are_one_problem_per_run(tmp_path):
    text = ("// Reference=MNI\n" + foci(5) + "// Smith 2010: faces\n// Subjects=12\n" + foci(2)
            + "\n// Lee 2014: words\n// Subjects=20\n" + foci(3, 1))
    code, _, err = run(tmp_path, "stray.txt", text)
    assert code == 65
    assert err.startswith("ale-app: error: 'stray.txt', line 2: a focus ('-44\\t-10\\t44') before any experiment "
                          "name line (and 4 more foci, up to line 6).\n"), err


def test_a_focus_with_a_letter_is_still_a_focus_problem(tmp_path):
    """Only a line with a word where a number should start continues a name; 'nan' and '1O'
    stay per-focus problems (the corpus keeps their messages)."""
    text = ("// Reference=MNI\n// Smith 2010: faces\n// Subjects=12\nnan -52 -18\n44 -48 -20\n\n"
            "// Lee 2014: words\n// Subjects=20\n1O -50 -18\n")
    code, _, err = run(tmp_path, "foci.txt", text)
    assert code == 65
    assert "  1. line 4: 'nan' is not a finite number" in err and "  2. line 9: '1O' is not a number" in err
    assert "continues on line" not in err


# ------------------------------------------------------------------ experiments entered twice


def test_exact_duplicate_is_told_to_delete_one(tmp_path):
    text = ("// Reference=MNI\n// Smith 2010: faces\n// Subjects=12\n" + foci(3)
            + "\n// Lee 2014: words\n// Subjects=20\n" + foci(3, 1)
            + "\n// Smith 2010: faces\n// Subjects=12\n" + foci(3))
    code, _, err = run(tmp_path, "twice.txt", text)
    assert code == 65
    assert err.startswith("ale-app: error: experiment 'Smith 2010-faces' is entered twice (lines 2 and 14): same "
                          "name, same subjects (12) and the same 3 foci; NiMARE would silently keep one of them.\n"), err
    assert "hint: Same subjects and foci: likely entered twice; delete one of the two" in err
    assert "merge their foci" not in err


def test_same_name_with_other_foci_is_told_to_rename(tmp_path):
    text = ("// Reference=MNI\n// Smith 2010: faces\n// Subjects=12\n" + foci(3)
            + "\n// Smith 2010: faces\n// Subjects=12\n" + foci(3, 1))
    code, _, err = run(tmp_path, "renamed.txt", text)
    assert code == 65
    assert ("two experiments are both named 'Smith 2010-faces' (lines 2 and 8) but differ in subjects or foci"
            in err), err
    assert "delete one" not in err and "Give every experiment its own name" in err


def test_same_subjects_and_foci_under_two_names_is_a_double_entry(tmp_path):
    text = ("// Reference=MNI\n// Smith 2010: faces\n// Subjects=12\n" + foci(3)
            + "\n// Smith 2011: faces\n// Subjects=12\n" + foci(3)
            + "\n// Lee 2014: words\n// Subjects=20\n" + foci(3, 1))
    code, out, _ = run(tmp_path, "double.txt", text)
    assert code == 0
    assert ("1 group of experiments has the same subjects and foci under different names: 'Smith 2010-faces' = "
            "'Smith 2011-faces'; likely entered twice: delete one of each") in out


# ------------------------------------------------------------------ two reference spaces


def test_two_reference_spaces_point_to_a_table_with_a_space_per_row(tmp_path):
    text = ("// Reference=MNI\n// Smith 2010: faces\n// Subjects=12\n" + foci(3)
            + "\n// Reference=Talairach\n// Lee 2014: words\n// Subjects=20\n" + foci(3, 1))
    code, _, err = run(tmp_path, "spaces.txt", text)
    assert code == 65
    assert err.startswith("ale-app: error: 'spaces.txt', line 8: mixed spaces: this line says 'Talairach' (TAL), "
                          "line 1 says MNI; a Sleuth file has one reference space.\n"), err
    assert ("hint: To keep the evidence base whole, write it as a table (TSV/CSV with columns study_id, "
            "analysis_id, x, y, z, space, sample_size), which gives each row its own space") in err

    # The table the hint describes reads whole, the Talairach rows converted.
    rows = ["study_id\tanalysis_id\tx\ty\tz\tspace\tsample_size"]
    rows += [f"Smith 2010\tfaces\t{line}\tMNI\t12" for line in foci(3).splitlines()]
    rows += [f"Lee 2014\twords\t{line}\tTAL\t20" for line in foci(3, 1).splitlines()]
    code, out, err = run(tmp_path, "spaces.tsv", "\n".join(rows) + "\n")
    assert code == 0, err
    assert "experiments: 2; studies: 2; foci: 6" in out and "conversion: 3 foci in 1 experiment Talairach -> MNI" in out


# ------------------------------------------------------------------ ids that group wrongly


def _contrast(n: int, shift: int, size: int, space: str = "MNI") -> dict:
    rows = [[-44 + 2 * (i % 8) + shift, -10 + 3 * (i // 8), 44 + i % 3] for i in range(n)]
    return {"coords": {"space": space, "x": [r[0] for r in rows], "y": [r[1] for r in rows],
                       "z": [r[2] for r in rows]}, "metadata": {"sample_sizes": [size]}}


def test_reference_prefixed_nimare_json_ids_are_flagged_and_one_study(tmp_path):
    data = {"Smith 2010": {"contrasts": {"faces": _contrast(3, 0, 12)}},
            "Reference=MNI Smith 2010": {"contrasts": {"houses": _contrast(3, 5, 12)}},
            "Lee 2014": {"contrasts": {"words": _contrast(3, 1, 20)}}}
    code, out, err = run(tmp_path, "prefixed.json", json.dumps(data))
    assert code == 0, err
    assert ("1 experiment has a study id that starts with a stray 'Reference=' (a repeated '// Reference=' line "
            "that NiMARE's Sleuth reader put into the next name): 'Reference=MNI Smith 2010-houses'; each is counted "
            "with the study it names ('Smith 2010')") in out
    assert "experiments: 3; studies: 2; foci: 9" in out
    assert "1 study contributes several contrasts: 'Smith 2010' (2)" in out


def test_reference_prefix_that_contradicts_the_foci_space_is_a_problem(tmp_path):
    data = {"Smith 2010": {"contrasts": {"faces": _contrast(3, 0, 12)}},
            "Reference=Talairach Lee 2014": {"contrasts": {"words": _contrast(3, 1, 20)}}}
    code, _, err = run(tmp_path, "wrong.json", json.dumps(data))
    assert code == 65
    assert err.startswith("ale-app: error: 1 experiment has a study id that says 'Reference=Talairach' but foci "
                          "recorded in MNI: 'Reference=Talairach Lee 2014-words'"), err


PLACEHOLDER = ("// Reference=MNI\n// null, .: pain in fibromyalgia\n// Subjects=12\n" + foci(3)
               + "\n// null, .: working memory in schizophrenia\n// Subjects=30\n" + foci(3, 7)
               + "\n// Kim et al. 2012 faces\n// Subjects=15\n" + foci(3, 2)
               + "\n// Kim et al. 2012 houses\n// Subjects=15\n" + foci(3, 4))


def test_placeholder_author_groups_nothing_and_is_flagged(tmp_path):
    code, out, err = run(tmp_path, "placeholder.txt", PLACEHOLDER)
    assert code == 0, err
    assert ("2 experiments have a placeholder study name ('null, .'), not an author and year: "
            "'null, .-pain in fibromyalgia' (line 2), 'null, .-working memory in schizophrenia' (line 8); so that "
            "unrelated experiments are not taken for one study, each counts as its own study.") in out
    assert "several contrasts" not in out
    assert "experiments: 4; studies: 4; foci: 12" in out
    assert "studies by: study-id (the study id the input gives" in out


@pytest.mark.parametrize("rule, studies, several", [
    ("author-year", 3, "1 study contributes several contrasts: 'Kim et al. 2012' (2)"),
    ("each-experiment", 4, None),
])
def test_study_rule_is_the_users_and_is_stated(tmp_path, rule, studies, several):
    code, out, err = run(tmp_path, "placeholder.txt", PLACEHOLDER, study_rule=rule)
    assert code == 0, err
    assert f"experiments: 4; studies: {studies}; foci: 12" in out
    assert f"studies by: {rule} (" in out
    assert (several in out) if several else ("several contrasts" not in out)


def test_study_rule_is_recorded_only_when_set():
    default = AnalysisSpec.model_validate({"spec_version": 1, "title": "t", "input": {"path": "a.txt"}})
    assert "study_rule" not in default.record()["input"]
    chosen = AnalysisSpec.model_validate({"spec_version": 1, "title": "t",
                                          "input": {"path": "a.txt", "study_rule": "author-year"}})
    assert chosen.record()["input"]["study_rule"] == "author-year"


def test_clean_input_keeps_its_studies_and_the_methods_state_a_rule(tmp_path):
    from ale_app.present.report_view import evidence_methods_text

    clean = ("// Reference=MNI\n// Smith 2010: faces\n// Subjects=12\n" + foci(3)
             + "\n// Lee 2014: words\n// Subjects=20\n" + foci(3, 1))
    (tmp_path / "clean.txt").write_text(clean)
    ev = load_evidence(InputSpec(path="clean.txt"), tmp_path, ALESpec())
    assert ev.study_of == {} and ev.coordinates_by_study() is ev.coordinates
    assert "study_rule" not in evidence_methods_text(ev, "error")
    (tmp_path / "placeholder.txt").write_text(PLACEHOLDER)
    ev = load_evidence(InputSpec(path="placeholder.txt", study_rule="author-year"), tmp_path, ALESpec())
    assert ev.study_ids == ["null, .-pain in fibromyalgia", "null, .-working memory in schizophrenia",
                            "Kim et al. 2012"]
    words = evidence_methods_text(ev, "error")
    # The rule in words, not its spec key (issue 39: no spec keys in the methods' prose).
    assert "grouped into 3 studies (the author-year start of the study id" in words and "study_rule" not in words


# ------------------------------------------------------------------ opposite contrasts


def test_opposite_contrasts_are_not_advised_to_be_pooled(tmp_path):
    text = ("// Reference=MNI\n// Smith 2010: patients > controls\n// Subjects=24\n" + foci(3)
            + "\n// Smith 2010: controls > patients\n// Subjects=24\n" + foci(3, 9)
            + "\n// Lee 2014: words\n// Subjects=20\n" + foci(3, 1))
    code, out, err = run(tmp_path, "opposite.txt", text)
    assert code == 0, err
    assert ("1 study reports opposite contrasts of one comparison (A > B and B > A): 'Smith 2010': "
            "'Smith 2010-patients > controls' and 'Smith 2010-controls > patients'. Do not pool them: they are "
            "opposite contrasts, and an ALE of activations should keep only the direction the question asks "
            "about") in out
    assert "should be pooled" not in out


def test_other_contrasts_of_one_study_are_still_advised_to_be_pooled(tmp_path):
    text = ("// Reference=MNI\n// Smith 2010: patients > controls\n// Subjects=24\n" + foci(3)
            + "\n// Smith 2010: controls < patients during recall\n// Subjects=24\n" + foci(3, 9)
            + "\n// Lee 2014: faces\n// Subjects=20\n" + foci(3, 1)
            + "\n// Lee 2014: houses\n// Subjects=20\n" + foci(3, 5))
    code, out, err = run(tmp_path, "pool.txt", text)
    assert code == 0, err
    assert "2 studies contribute several contrasts: 'Smith 2010' (2), 'Lee 2014' (2)" in out
    assert "opposite contrasts" not in out
