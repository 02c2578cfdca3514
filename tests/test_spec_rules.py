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
