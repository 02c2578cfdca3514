"""The run-time estimate (issue 37, item 3): it grows with every setting that makes a run long,
the settings the issue names give hours and days, a bundled example stays below the
threshold at which a run announces its estimate, the log names the steps that dominate, and
``--validate-only`` prints the estimate and writes nothing.

How close the estimate is to measured seconds is not tested here (timings do not belong in
unit tests): ``benchmarks/runtime_estimate.py`` prints measured against estimated seconds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from ale_app.cli import main
from ale_app.spec.models import AnalysisSpec
from ale_app.spec.v2 import AnalysisSpecV2
from ale_app.stats.runtime_estimate import ANNOUNCE_SECONDS, estimate_runtime, format_duration

HOUR, DAY = 3600.0, 86400.0
PAIN = "nimare:nidm_pain_studyset.json"


def _v1(**sections) -> AnalysisSpec:
    return AnalysisSpec.model_validate({"spec_version": 1, "input": {"path": PAIN}, **sections})


def _inferential(n_iterations=10_000, **robustness) -> AnalysisSpec:
    extra = {"robustness": robustness} if robustness else {}
    return _v1(mode="inferential", inference={"n_iterations": n_iterations}, **extra)


def _v2(method="subtraction", n_iterations=10_000, **balanced) -> AnalysisSpecV2:
    return AnalysisSpecV2.model_validate({
        "spec_version": 2, "mode": "inferential", "input": {"path": PAIN},
        "groups": {"a": {"select": {"first": 10}}, "b": {"select": {"first": 11}}},
        "inference": {"n_iterations": n_iterations, "min_experiments": 10},
        "contrast": {"groups": ["a", "b"], "method": method, "balanced": balanced}})


def _seconds(spec, sizes, n_jobs=2) -> float:
    return estimate_runtime(spec, sizes, n_jobs).seconds


def test_balanced_at_a_million_cubed_takes_days_and_names_the_balanced_step():
    huge = _v2("balanced", subsamples=1_000_000, difference_iterations=1_000_000, null_iterations=1_000_000)
    estimate = estimate_runtime(huge, [(30, 400), (20, 300)], 2)
    assert estimate.seconds > 30 * DAY
    assert estimate.dominant(1)[0][0] == "balanced contrast"
    assert "days" in format_duration(estimate.seconds) or "years" in format_duration(estimate.seconds)
    defaults = estimate_runtime(_v2("balanced"), [(30, 400), (20, 300)], 2)
    assert defaults.seconds < estimate.seconds / 1000


def test_each_balanced_size_lengthens_the_balanced_step():
    sizes = [(30, 400), (20, 300)]
    base = {"subsamples": 100, "difference_iterations": 100, "null_iterations": 100}
    step = estimate_runtime(_v2("balanced", **base), sizes, 2).steps["balanced contrast"]
    for key in base:
        more = estimate_runtime(_v2("balanced", **{**base, key: 10_000}), sizes, 2).steps["balanced contrast"]
        assert more > step, key


def test_a_thousand_experiments_at_a_million_iterations_take_hours():
    seconds = _seconds(_inferential(1_000_000), [(1000, 12_000)])
    assert 2 * HOUR < seconds < 7 * DAY
    assert seconds > 50 * _seconds(_inferential(10_000), [(1000, 12_000)])
    # the same run of 21 experiments is shorter, and on 1 worker longer than on 2
    assert _seconds(_inferential(1_000_000), [(21, 267)]) < seconds
    assert _seconds(_inferential(1_000_000), [(1000, 12_000)], n_jobs=1) > seconds


@pytest.mark.parametrize("example", ["pain-qualitative", "pain-inferential", "nback-flanker-906",
                                     "nback-vs-flanker"])
def test_bundled_examples_stay_below_the_announcement(example):
    from ale_app.spec.load import load_spec

    spec, _, _ = load_spec(f"example:{example}")
    sizes = {"pain-qualitative": [(8, 107)], "pain-inferential": [(21, 267)], "nback-flanker-906": [(906, 11_000)],
             "nback-vs-flanker": [(450, 5500), (456, 5500)]}[example]
    assert 0 < _seconds(spec, sizes) < ANNOUNCE_SECONDS


def test_robustness_and_refits_lengthen_their_steps():
    sizes = [(25, 300)]
    plain = estimate_runtime(_inferential(), sizes, 2)
    failsafe = estimate_runtime(_inferential(failsafe={"enabled": True}), sizes, 2)
    more_tests = estimate_runtime(_inferential(failsafe={"enabled": True, "tests_per_cluster": 1000}), sizes, 2)
    assert "fail-safe N" not in plain.steps
    assert 0 < failsafe.steps["fail-safe N"] < more_tests.steps["fail-safe N"]
    assert more_tests.seconds > HOUR  # 5 x 1,000 tests, each an ALE fit and 200 draws
    stability = estimate_runtime(_inferential(stability={"enabled": True}), sizes, 2).steps["subsampling stability"]
    more = estimate_runtime(_inferential(stability={"enabled": True, "n_subsets": 100_000, "subset_size": 12}),
                            sizes, 2).steps["subsampling stability"]
    assert 0 < stability < more
    closed = estimate_runtime(_v1(), [(300, 3000)], 2).steps["jackknife"]
    refit = estimate_runtime(_v1(jackknife={"method": "refit"}), [(300, 3000)], 2).steps["jackknife"]
    assert refit > 100 * closed


def test_subtraction_grows_with_permutations_and_experiments():
    small = estimate_runtime(_v2(n_iterations=1000), [(20, 250), (20, 250)], 2).steps["ALE subtraction"]
    assert estimate_runtime(_v2(n_iterations=100_000), [(20, 250), (20, 250)], 2).steps["ALE subtraction"] > small
    assert estimate_runtime(_v2(n_iterations=1000), [(200, 2500), (200, 2500)], 2).steps["ALE subtraction"] > small


def test_durations_read_in_the_unit_a_reader_thinks_in():
    assert format_duration(40) == "about 40 s"
    assert format_duration(12 * 60) == "about 12 min"
    assert format_duration(3.5 * HOUR) == "about 3.5 h"
    assert format_duration(6 * DAY) == "about 6.0 days"
    assert format_duration(400 * DAY) == "about 400 days"


def _evidence(n: int, foci: int):
    return SimpleNamespace(ids=[f"e{i}" for i in range(n)], coordinates=pd.DataFrame({"x": range(foci)}))


def test_a_long_run_logs_its_estimate_before_computing(monkeypatch, caplog):
    from ale_app.process import memory
    from ale_app.run.workflow import RunOptions, check_memory

    monkeypatch.setattr(memory, "check_fits", lambda _footprint: None)  # whatever this machine's memory
    with caplog.at_level(logging.INFO, logger="ale_app"):
        check_memory(_inferential(1_000_000), [_evidence(1000, 12_000)], RunOptions(n_jobs=2))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 1
    assert lines[0].startswith("This run is expected to take about ")
    assert " h (" in lines[0] and "memory) on 2 workers; measured on a 2-core machine, yours may differ" in lines[0]
    assert "mostly Monte Carlo inference about" in lines[0]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ale_app"):
        check_memory(_v1(), [_evidence(8, 107)], RunOptions(n_jobs=2))
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


def test_validate_only_prints_the_estimate_of_a_huge_balanced_contrast(tmp_path, capsys):
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    ids = [str(i) for i in Studyset(str(Path(get_resource_path()) / "nidm_pain_studyset.json")).ids]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "spec_version": 2, "mode": "inferential", "input": {"path": PAIN},
        "groups": {"early": {"select": {"ids": ids[:10]}}, "late": {"select": {"ids": ids[10:]}}},
        "contrast": {"groups": ["early", "late"], "method": "balanced",
                     "balanced": {"subsamples": 1_000_000, "difference_iterations": 1_000_000,
                                  "null_iterations": 1_000_000}},
        "inference": {"min_experiments": 10}}, sort_keys=False))
    out = tmp_path / "out"
    assert main([str(spec), str(out), "--validate-only", "--n-jobs", "1"]) == 0
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("estimate: "))
    assert line.startswith("estimate: expected to take about ")
    assert " days (" in line or " years (" in line
    assert "memory) on 1 worker; measured on a 2-core machine, yours may differ; mostly balanced contrast about" in line
    assert printed.rstrip().endswith("nothing written (--validate-only)")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]
