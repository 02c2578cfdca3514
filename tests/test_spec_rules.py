"""Spec and data rules (issue #26, part 6), through the real command line: settings that can
never pass are refused, numbers and switches are taken only as written, numbers in input
files are ASCII digits, names are compared after Unicode normalisation and refused with
bidirectional controls, sample sizes are single and bounded, messages stay short, and
``nimare:`` paths stay inside NiMARE's resources.

Every test checks the exit code and the message, and that nothing was written.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from ale_app.cli import main

FOCI = [(-42, -52, -18), (44, -48, -20), (-22, -6, -18)]


def _tsv(folder: Path, rows: list[list[str]], name: str = "foci.tsv") -> Path:
    header = ["study_id", "analysis_id", "x", "y", "z", "space", "sample_size"]
    path = folder / name
    path.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def _good_rows(studies=("Smith 2010", "Lee 2014", "Garcia 2017")) -> list[list[str]]:
    rows = []
    for n, study in enumerate(studies):
        rows += [[study, "faces", *(str(v + n) for v in xyz), "MNI", str(12 + n)] for xyz in FOCI]
    return rows


def _spec(folder: Path, body: str, input_path: str = "foci.tsv", name: str = "spec.yaml") -> Path:
    spec = folder / name
    spec.write_text(f"spec_version: 1\ninput:\n  path: {input_path}\n" + body, encoding="utf-8")
    return spec


def _run(spec: Path, capsys, *extra: str) -> tuple[int, str]:
    out = spec.parent / "out"
    code = main([str(spec), str(out), "--n-jobs", "1", *extra])
    err = capsys.readouterr().err
    assert not out.exists(), "nothing may be written when the run is refused"
    assert "Traceback" not in err
    return code, err


# --------------------------------------------------------------------------- inference that cannot pass


@pytest.mark.parametrize("iterations, alpha, smallest, needed", [
    (20, "0.05", "1/20 = 0.05", 21),   # p = 1/20 equals alpha: never below it
    (10, "0.05", "1/10 = 0.1", 21),
    (99, "0.01", "1/99 = 0.0101", 101),
    (100, "0.01", "1/100 = 0.01", 101),
])
def test_inference_that_cannot_pass_is_refused_with_the_iterations_needed(tmp_path, capsys, iterations, alpha,
                                                                         smallest, needed):
    _tsv(tmp_path, _good_rows())
    spec = _spec(tmp_path, "mode: inferential\ninference:\n  min_experiments: 2\n"
                 f"  fwe_alpha: {alpha}\n  n_iterations: {iterations}\n")
    code, err = _run(spec, capsys, "--validate-only")
    assert code == 65, err
    assert (f"inference.n_iterations: {iterations} Monte Carlo iterations cannot give any cluster an FWE p "
            f"below inference.fwe_alpha ({alpha}): the smallest p they can give is {smallest}") in err
    assert f"Use at least {needed} iterations" in err and f"({spec}, line 8)" in err


def test_inference_that_can_just_pass_and_descriptive_mode_are_accepted(tmp_path, capsys):
    _tsv(tmp_path, _good_rows())
    spec = _spec(tmp_path, "mode: inferential\ninference:\n  min_experiments: 2\n  n_iterations: 21\n")
    assert main([str(spec), "--validate-only", "-q"]) == 0, capsys.readouterr().err
    # Descriptive mode never reads the inference section.
    spec = _spec(tmp_path, "inference:\n  n_iterations: 10\n")
    assert main([str(spec), "--validate-only", "-q"]) == 0, capsys.readouterr().err


def test_contrast_that_cannot_pass_is_refused(tmp_path, capsys):
    _tsv(tmp_path, _good_rows())
    spec = tmp_path / "spec.yaml"
    spec.write_text("spec_version: 2\nmode: inferential\ninput:\n  path: foci.tsv\n"
                    "groups:\n  a:\n    select: {first: 2}\n  b:\n    select: {first: 2}\n"
                    "contrast:\n  groups: [a, b]\ninference:\n  n_iterations: 10\n  fwe_alpha: 0.1\n")
    code, err = _run(spec, capsys, "--validate-only")
    assert code == 65, err
    assert "inference.n_iterations: 10 Monte Carlo iterations and permutations cannot give any cluster" in err
    assert "Use at least 11 iterations" in err and f"({spec}, line 13)" in err


# --------------------------------------------------------------------------- numbers and switches as written


STRICT = {
    "seed-true": ("inference:\n  seed: true\n", "inference.seed: must be a whole number written without quotes, "
                  "not true (a boolean)"),
    "seed-text": ("inference:\n  seed: '7'\n", "inference.seed: must be a whole number written without quotes, "
                  "not the text '7'"),
    "seed-underscore": ("inference:\n  seed: 4_2\n", "inference.seed: must be a whole number written without "
                        "quotes, not the text '4_2'"),
    "seed-octal": ("inference:\n  seed: 0777\n", "not the text '0777'"),
    "iterations-false": ("inference:\n  n_iterations: false\n", "inference.n_iterations: must be a whole number"),
    "seed-decimal-point": ("inference:\n  seed: 5.0\n", "inference.seed: must be a whole number written with digits "
                           "only (no decimal point or exponent), not 5.0"),
    "seed-exponent": ("inference:\n  seed: 1e3\n", "inference.seed: must be a whole number written with digits only "
                      "(no decimal point or exponent), not 1000.0"),
    "iterations-exponent": ("inference:\n  n_iterations: 1.0e4\n", "inference.n_iterations: must be a whole number "
                            "written with digits only"),
    "dpi-decimal-point": ("figures:\n  dpi: 300.0\n", "figures.dpi: must be a whole number written with digits only"),
    "first-true": ("  select:\n    first: true\n", "input.select.first: must be a whole number written without "
                   "quotes, not true (a boolean)"),
    "dpi-text": ("figures:\n  dpi: '300'\n", "figures.dpi: must be a whole number written without quotes, "
                 "not the text '300'"),
    "sample-size-true": ("ale:\n  sample_size: true\n", "ale.sample_size: must be a whole number"),
    "alpha-text": ("inference:\n  fwe_alpha: '0.05'\n", "inference.fwe_alpha: must be a number written without "
                   "quotes, not the text '0.05'"),
    "fwhm-true": ("ale:\n  kernel_fwhm: true\n", "ale.kernel_fwhm: must be a number written without quotes, "
                  "not true (a boolean)"),
    "titles-one": ("figures:\n  titles: 1\n", "figures.titles: must be true or false, not 1"),
    "enabled-text": ("jackknife:\n  enabled: 'no'\n", "jackknife.enabled: must be true or false, not the text 'no'"),
}


@pytest.mark.parametrize("case", sorted(STRICT))
def test_numbers_and_switches_are_taken_only_as_written(case, tmp_path, capsys):
    body, message = STRICT[case]
    _tsv(tmp_path, _good_rows())
    spec = _spec(tmp_path, body)
    code, err = _run(spec, capsys)
    assert code == 65, err
    assert message in err


def test_a_whole_number_with_an_exponent_is_refused_in_a_json_spec(tmp_path, capsys):
    _tsv(tmp_path, _good_rows())
    spec = tmp_path / "spec.json"
    spec.write_text('{"spec_version": 1, "input": {"path": "foci.tsv"}, "inference": {"seed": 1e3}}')
    code, err = _run(spec, capsys, "--validate-only")
    assert code == 65, err
    assert "inference.seed: must be a whole number written with digits only (no decimal point or exponent), " \
           "not 1000.0" in err


def test_scientific_notation_in_a_spec_is_a_number(tmp_path, capsys):
    """YAML 1.1 reads 1e-4 as text; the spec reads it as JSON does, a number."""
    _tsv(tmp_path, _good_rows())
    spec = _spec(tmp_path, "display:\n  glass_brain_threshold: 1e-4\n")
    assert main([str(spec), "--validate-only", "-q"]) == 0, capsys.readouterr().err


def test_a_long_list_of_invalid_entries_is_capped(tmp_path, capsys):
    _tsv(tmp_path, _good_rows())
    spec = _spec(tmp_path, "  select:\n    ids: [" + ", ".join(str(i) for i in range(5000)) + "]\n")
    code, err = _run(spec, capsys)
    assert code == 65, err
    assert "input.select.ids.49: Input should be a valid string" in err
    assert "input.select.ids.50:" not in err and "... and 4,950 more, not listed" in err
    assert len(err) < 10_000


# --------------------------------------------------------------------------- numbers in input files

SLEUTH = ("// Reference=MNI\n// Smith 2010: faces\n// Subjects=12\n-42 -52 -18\n44 -48 -20\n\n"
          "// Lee 2014: words\n// Subjects=20\n40 -50 -18\n")

SLEUTH_CASES = {
    "underscore": (SLEUTH.replace("44 -48", "4_4 -48"), "line 5: '4_4' is not a plain number: it is not written "
                   "with the digits 0-9 only (an underscore) (in '4_4 -48 -20')."),
    "fullwidth": (SLEUTH.replace("44 -48", "\uff14\uff14 -48"), "line 5: '\uff14\uff14' is not a plain number: it "
                  "is not written with the digits 0-9 only (fullwidth digit four U+FF14)"),
    "arabic-indic-subjects": (SLEUTH.replace("Subjects=20", "Subjects=\u0662\u0660"), "line 8: "
                              "'Subjects=\u0662\u0660' is not a whole number: it is not written with the digits "
                              "0-9 only (arabic-indic digit two U+0662, arabic-indic digit zero U+0660)."),
    "underscore-subjects": (SLEUTH.replace("Subjects=20", "Subjects=2_0"), "line 8: 'Subjects=2_0' is not a "
                            "whole number: it is not written with the digits 0-9 only (an underscore)."),
    "two-subjects-lines": (SLEUTH.replace("// Subjects=12\n", "// Subjects=12\n// Subjects=21\n"),
                           "line 4: two '// Subjects=' lines for one experiment: 'Subjects=12' on line 3 and "
                           "'Subjects=21' on line 4."),
    "subjects-above-the-cap": (SLEUTH.replace("Subjects=20", "Subjects=1000000000"),
                               "1 experiment in 'data.txt' has a sample size above 1,000,000, the most ale-app "
                               "accepts (as for ale.sample_size): 'Lee 2014-words' (line 7, 1,000,000,000 "
                               "subjects)."),
    "bidi-override": (SLEUTH.replace("Lee 2014: words", "Lee 2014: \u202ewords"),
                      "line 7: the analysis name '\\u202ewords' of experiment 'Lee 2014-\\u202ewords' contains a "
                      "control character (right-to-left override U+202E)."),
    "bidi-isolate-in-study": (SLEUTH.replace("Smith 2010", "Smith\u2067 2010"),
                              "the study name 'Smith\\u2067 2010' of experiment 'Smith\\u2067 2010-faces' contains "
                              "a control character (right-to-left isolate U+2067)."),
    "nfc-and-nfd": (SLEUTH.replace("Lee 2014", unicodedata.normalize("NFD", "M\u00fcller 2010"))
                    .replace("Smith 2010", "M\u00fcller 2010"),
                    "two experiments are both named 'M\u00fcller 2010-faces' (lines 2 and 7), spelled with "
                    "different Unicode characters for the same letters"),
}


@pytest.mark.parametrize("case", sorted(SLEUTH_CASES))
def test_sleuth_numbers_names_and_sample_sizes(case, tmp_path, capsys):
    text, message = SLEUTH_CASES[case]
    if case == "nfc-and-nfd":
        text = text.replace("words", "faces")
    (tmp_path / "data.txt").write_text(text, encoding="utf-8")
    spec = _spec(tmp_path, "", input_path="data.txt")
    code, err = _run(spec, capsys)
    assert code == 65, err
    assert message in err


def test_one_subjects_line_given_twice_alike_is_fine(tmp_path, capsys):
    (tmp_path / "data.txt").write_text(SLEUTH.replace("// Subjects=12\n", "// Subjects=12\n// Subjects=12\n"))
    spec = _spec(tmp_path, "", input_path="data.txt")
    assert main([str(spec), "--validate-only", "-q"]) == 0, capsys.readouterr().err


def test_table_numbers_are_ascii_digits_and_scientific_notation_stays(tmp_path, capsys):
    rows = _good_rows()
    rows[1][2] = "4.4e1"       # accepted, as before
    rows[2][6] = "12.0"        # a whole number written with a point: accepted, as before
    rows += [["Kim 2012", "faces", "1_0", "20", "30", "MNI", "15"],
             ["Park 2013", "faces", "10", "20", "30", "MNI", "\u0661\u0665"],
             ["Ito 2015", "faces", "10", "\uff12\uff10", "30", "MNI", "15"]]
    _tsv(tmp_path, rows)
    code, err = _run(_spec(tmp_path, ""), capsys)
    assert code == 65, err
    assert "3 problems in 'foci.tsv':" in err
    assert "line 11: x = '1_0' is not a plain number: it is not written with the digits 0-9 only (an underscore)" in err
    assert ("line 12: sample_size '\u0661\u0665' is not a whole number: it is not written with the digits 0-9 only "
            "(arabic-indic digit one U+0661, arabic-indic digit five U+0665)") in err
    assert "line 13: y = '\uff12\uff10' is not a plain number" in err
    assert "line 5" not in err and "line 10:" not in err


def test_table_names_in_nfc_and_nfd_are_one_name(tmp_path, capsys):
    name = "M\u00fcller 2010"
    rows = _good_rows((name, unicodedata.normalize("NFD", name), "Garcia 2017"))
    _tsv(tmp_path, rows)
    code, err = _run(_spec(tmp_path, ""), capsys)
    assert code == 65, err
    assert (f"two experiments are both named '{name}-faces' (lines 2 and 5), spelled with different Unicode "
            "characters for the same letters") in err


def test_study_grouping_and_selection_compare_names_after_normalisation(tmp_path, capsys):
    """Two contrasts of one study, its name once composed and once decomposed: one study;
    and a decomposed id in select.ids finds the composed one."""
    name = "M\u00fcller 2010"
    rows = _good_rows((name, "Lee 2014", "Garcia 2017"))
    rows += [[unicodedata.normalize("NFD", name), "words", "10", "20", "30", "MNI", "12"]]
    _tsv(tmp_path, rows)
    ids = [unicodedata.normalize("NFD", f"{name}-faces"), "Lee 2014-faces", f"{name}-words"]
    spec = _spec(tmp_path, "  select:\n    ids: [" + ", ".join(f"'{i}'" for i in ids) + "]\n")
    assert main([str(spec), "--validate-only"]) == 0
    err = capsys.readouterr()
    text = err.out + err.err
    assert "experiments: 3; studies: 2; foci: 7" in text, text
    assert f"1 study contributes several contrasts: '{name}' (2)" in text


# --------------------------------------------------------------------------- capped messages


def test_a_hundred_thousand_unknown_ids_give_a_short_message(tmp_path, capsys):
    # (A million took 48 s of YAML parsing on a busy 2-core machine; the cap does not depend on the count.)
    _tsv(tmp_path, _good_rows())
    spec = _spec(tmp_path, "  select:\n    ids: [" + ", ".join(f"x{i}" for i in range(100_000)) + "]\n")
    code, err = _run(spec, capsys)
    assert code == 65, err
    assert ("input.select.ids names analyses that are not in the input: 'x0', 'x1', " in err
            and "'x19', ... and 99980 more." in err)
    assert "'x20'" not in err and len(err) < 2000


def test_unknown_excluded_ids_are_capped_too(tmp_path, capsys):
    _tsv(tmp_path, _good_rows())
    spec = _spec(tmp_path, "  select:\n    exclude: [" + ", ".join(f"y{i}" for i in range(100)) + "]\n")
    code, err = _run(spec, capsys)
    assert code == 65, err
    assert "input.select.exclude names analyses that are not in the input: 'y0'," in err
    assert "'y19', ... and 80 more." in err and "'y20'" not in err


# --------------------------------------------------------------------------- nimare: paths


@pytest.mark.parametrize("name", ["../../../../../../../../../../etc/passwd", "/etc/passwd", "..",
                                  "../__init__.py"])
def test_nimare_paths_stay_inside_nimares_resources(name, tmp_path, capsys):
    spec = _spec(tmp_path, "", input_path=f"'nimare:{name}'")
    code, err = _run(spec, capsys)
    assert code == 65, err
    assert f"The input path 'nimare:{name}' leads outside NiMARE's bundled resources" in err


def test_nimare_path_through_a_link_out_of_the_resources_is_refused(tmp_path, capsys, monkeypatch):
    from ale_app.inputs import paths

    resources = tmp_path / "resources"
    resources.mkdir()
    outside = tmp_path / "secret.tsv"
    outside.write_text("study_id\tx\n")
    (resources / "link.tsv").symlink_to(outside)
    monkeypatch.setattr(paths, "nimare_resource_dir", lambda: resources)
    spec = _spec(tmp_path, "", input_path="'nimare:link.tsv'")
    code, err = _run(spec, capsys)
    assert code == 65, err
    assert "The input path 'nimare:link.tsv' leads outside NiMARE's bundled resources" in err


def test_a_missing_nimare_resource_is_still_exit_66(tmp_path, capsys):
    spec = _spec(tmp_path, "", input_path="'nimare:no_such_studyset.json'")
    code, err = _run(spec, capsys)
    assert code == 66, err
    assert "The input file 'nimare:no_such_studyset.json' does not exist" in err


# --------------------------------------------------------------------------- group names and case


def test_group_names_that_differ_only_in_case_are_refused(tmp_path, capsys):
    """'A' and 'a' would write group-A_* and group-a_*, one set of files on macOS and Windows."""
    _tsv(tmp_path, _good_rows())
    spec = tmp_path / "spec.yaml"
    spec.write_text("spec_version: 2\ninput:\n  path: foci.tsv\n"
                    "groups:\n  A:\n    select: {first: 2}\n  a:\n    select: {first: 3}\n"
                    "contrast:\n  groups: [A, a]\n")
    code, err = _run(spec, capsys, "--validate-only")
    assert code == 65, err
    assert "group names 'A', 'a' differ only in case" in err
    assert "would be the same files on macOS and Windows" in err and "rename one" in err
