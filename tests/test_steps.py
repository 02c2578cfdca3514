"""The declared steps, the one executor, and the process state a library call leaves alone.

The workflow runs :data:`ale_app.run.steps.STEPS` in order (each group's steps, each
contrast's, then the run's); the registry builds each output from the result fields it
declares, for one group and for a contrast's groups and contrast; ``--verify`` names the step
behind every file; a run from Python (``pipeline.run`` or ``main([...])``)
leaves the garbage collector and the root logging handlers as it found them; the executor
runs items in order on every kind and never forks while other threads run.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os

import pytest

from ale_app.outputs import registry as O
from ale_app.process.executor import Executor, can_fork
from ale_app.outputs.entries import GroupPart
from ale_app.outputs.names import contrast_names, group_prefix
from ale_app.outputs.registry import RUN_FILES, registry_for
from ale_app.result import AnalysisResult, ContrastResult
from ale_app.run import steps as S
from ale_app.run import workflow as W
from ale_app.spec.load import parse_spec

RESULT_FIELDS = {f.name for f in dataclasses.fields(AnalysisResult)}
CONTRAST_FIELDS = {f.name for f in dataclasses.fields(ContrastResult)}


# --------------------------------------------------------------------------- declarations


@pytest.mark.parametrize("scopes, start, fields", [
    (("group", "run"), {"spec", "evidence", "record"}, "group"),  # one group's run starts from its evidence
    (("contrast", "run"), {"spec", "groups", "record"}, "contrast"),  # a contrast's: the groups ran first
])
def test_each_step_needs_only_what_an_earlier_step_computed(scopes, start, fields):
    allowed = RESULT_FIELDS if fields == "group" else CONTRAST_FIELDS
    computed = set(start)
    for step in S.steps_of(*scopes):
        missing = set(step.needs) - computed
        assert not missing, f"{fields} step {step.name!r} needs {missing}, which no earlier step computes"
        assert set(step.computes) <= allowed, f"step {step.name!r} computes fields its result lacks"
        computed |= set(step.computes)


def test_every_output_is_built_from_fields_a_step_computes():
    computed = {"evidence"} | {f for step in S.steps_of("group") for f in step.computes}
    for entry in O.REGISTRY:
        assert set(entry.needs) <= computed, f"{entry.name} needs {set(entry.needs) - computed}"


def test_each_step_feeds_the_outputs_built_from_what_it_computes():
    assert set(S.step_named("jackknife").outputs()) == {O.JACKKNIFE_TABLE, O.FIG_JACKKNIFE, O.FIG_DEPENDENCE}
    assert set(S.step_named("inference").outputs()) == {O.STAT_Z, O.STAT_P, O.LOGP_CLUSTER_FWE,
                                                         O.LOGP_VOXEL_FWE, O.MCNULL_TABLE, O.FIG_Z}
    assert O.STATMAP in S.step_named("ale").outputs()


def test_verify_names_the_step_behind_each_file():
    assert S.made_by(O.JACKKNIFE_TABLE) == "jackknife step"
    assert S.made_by(O.FIG_JACKKNIFE + ".png") == "jackknife step"
    assert S.made_by(O.FWE_CLUSTER_TABLE) == "FWE cluster step"
    assert S.made_by("space-MNI152NLin6Asym_res-2_stat-z_statmap.json") == "Monte Carlo inference step"
    assert S.made_by(O.STATMAP) == "ALE fit step"
    assert S.made_by(O.COORDINATES) == "input step"
    assert S.made_by(O.REPORT) == "report step"
    assert S.made_by(O.PROVENANCE) == "provenance step"


# --------------------------------------------------------------------------- a contrast's steps


def _spec(method: str = "subtraction", mode: str = "inferential"):
    text = f"""
spec_version: 2
mode: {mode}
input: {{path: nimare:nidm_pain_studyset.json}}
groups:
  a: {{select: {{first: 10}}}}
  b: {{select: {{first: 12}}}}
contrast: {{groups: [a, b], method: {method}, conjunction: true}}
"""
    return parse_spec(text, "spec.yaml")


def test_each_group_step_computes_fields_a_group_result_has():
    for step in S.steps_of("group"):
        assert set(step.computes) <= RESULT_FIELDS, step.name
    # The MA maps are released once, after every contrast (which reads them).
    assert "release" not in {s.name for s in S.steps_of("group", "contrast")}
    assert S.STEPS[-1].name == "release" and S.STEPS[-1].scope == "run"


@pytest.mark.parametrize("method", ["subtraction", "balanced"])
def test_every_contrast_output_is_built_from_fields_a_step_computes(method):
    spec = _spec(method)
    computed = {"groups"} | {f for step in S.steps_of("contrast") for f in step.computes}
    group_computed = {"evidence"} | {f for step in S.steps_of("group") for f in step.computes}
    names = set()
    from ale_app.spec.project import to_project

    for entry in registry_for(to_project(spec)):
        # A group's files are built from the group's result, the others from the contrast's.
        allowed = group_computed if isinstance(entry.part, GroupPart) else computed
        assert set(entry.needs) <= allowed, f"{entry.name} needs {set(entry.needs) - allowed}"
        names.add(entry.name)
    # Each group's files are the single-group entries, built from what the group steps compute.
    for entry in O.REGISTRY:
        assert set(entry.needs) <= group_computed, f"{entry.name} needs {set(entry.needs) - group_computed}"
        if entry.name in RUN_FILES or entry.name == O.COORDINATES:  # one per run, not per group
            assert entry.name in names, entry.name
            continue
        for group in ("a", "b"):
            folder, _, base = entry.name.rpartition("/")
            prefixed = f"{folder}/{group_prefix(group)}{base}" if folder else f"{group_prefix(group)}{base}"
            assert prefixed in names, prefixed
    # Every contrast file the method writes has its entry.
    n = contrast_names(spec)
    wanted = ["diff", "cluster_map", "cluster_table", "jackknife", "conjunction", "fig_diff", "fig_conjunction"]
    wanted += (["balanced_z", "balanced_null", "balanced_prob1"] if method == "balanced"
               else ["z", "p", "z_directional", "null", "fig_z"])
    for key in wanted:
        assert n[key] in names, key


def _made_by(name: str, spec) -> str:
    from ale_app.spec.project import to_project

    return S.made_by(name, to_project(spec))


def test_verify_names_the_step_behind_each_contrast_and_group_file():
    spec = _spec()
    n = contrast_names(spec)
    assert _made_by(n["z"], spec) == "ALE subtraction step"
    assert _made_by(n["z_directional"], spec) == "ALE subtraction step"
    assert _made_by(n["conjunction"], spec) == "conjunction step"
    assert _made_by(n["jackknife"], spec) == "contrast jackknife step"
    assert _made_by(n["fig_conjunction"] + ".png", spec) == "conjunction step"
    assert _made_by(group_prefix("a") + O.JACKKNIFE_TABLE, spec) == "jackknife step of group a"
    assert _made_by(group_prefix("b") + O.FWE_CLUSTER_TABLE, spec) == "FWE cluster step of group b"
    assert _made_by("figures/" + group_prefix("b") + O.FIG_JACKKNIFE.rpartition("/")[2] + ".png",
                               spec) == "jackknife step of group b"
    assert _made_by(O.REPORT, spec) == "report step"
    assert _made_by(O.PROVENANCE, spec) == "provenance step"
    assert _made_by("nothing-we-write.tsv", spec) == "unknown step"
    # Files that more than one method's step could feed name the step that ran for this spec.
    assert _made_by(n["cluster_table"], spec) == "ALE subtraction step"
    assert _made_by(n["diff"], spec) == "ALE subtraction step"
    balanced = _spec("balanced")
    nb = contrast_names(balanced)
    assert _made_by(nb["balanced_null"], balanced) == "balanced contrast step"
    assert _made_by(nb["cluster_table"], balanced) == "balanced contrast step"
    descriptive = _spec(mode="descriptive")
    assert _made_by(contrast_names(descriptive)["diff"], descriptive) == "difference step"


def test_step_names_are_unique():
    names = [s.name for s in S.STEPS]
    assert len(names) == len(set(names))


def test_a_failure_is_named_by_the_step_that_failed():
    assert S.step_title("jackknife") == "jackknife"
    assert S.step_title("inference") == "Monte Carlo inference"
    assert S.step_title("figures") == "figure"
    # A contrast's steps by their titles too (they were named by their keys before).
    assert S.step_title("subtraction") == "ALE subtraction"
    assert S.step_title("contrast-jackknife") == "contrast jackknife"
    assert S.step_title("no-such-step") == "no-such-step"


# --------------------------------------------------------------------------- the workflow


def _small_run(small_spec, tmp_path, **options):
    from ale_app.run.pipeline import run
    from ale_app.spec.load import load_spec
    from ale_app.spec.project import to_project

    spec, spec_dir, text = load_spec(str(small_spec))
    return run(to_project(spec), spec_dir, text, tmp_path / "out", W.RunOptions(**options))


def test_the_workflow_records_each_steps_status(small_spec, tmp_path):
    project = _small_run(small_spec, tmp_path)
    (result,) = project.groups.values()  # one group: its own part
    assert result.step_status == {"ale": "ran", "clusters": "ran", "labels": "ran", "jackknife": "ran",
                                  "inference": "skipped: descriptive mode",
                                  "fwe-clusters": "skipped: descriptive mode",
                                  "stability": "skipped: descriptive mode", "failsafe": "skipped: descriptive mode"}
    assert project.step_status == {"release": "ran"}  # the run's own step
    assert result.jackknife_status == "ran"
    assert result.fit.ma is None  # released after the steps that read it


def test_a_library_run_leaves_the_garbage_collector_as_it_found_it(small_spec, tmp_path):
    gc.unfreeze()
    _small_run(small_spec, tmp_path)
    assert gc.get_freeze_count() == 0


def test_the_command_line_freezes_at_each_step_and_unfreezes_at_the_end(small_spec, tmp_path, monkeypatch):
    from ale_app.cli import main

    counts = []
    real_freeze = gc.freeze

    def freeze():
        real_freeze()
        counts.append(gc.get_freeze_count())

    monkeypatch.setattr(gc, "freeze", freeze)
    gc.unfreeze()
    assert main([str(small_spec), str(tmp_path / "out"), "--n-jobs", "1", "-q"]) == 0
    assert len(counts) >= 5 and counts[-1] > 0  # frozen as each step started
    assert gc.get_freeze_count() == 0  # and unfrozen once, at the end


def test_main_leaves_the_root_logging_handlers_as_it_found_them(small_spec, tmp_path):
    from ale_app.cli import main

    root = logging.getLogger()
    sentinel = logging.NullHandler()
    before = root.handlers[:]
    root.addHandler(sentinel)
    level = root.level
    try:
        assert main(["--list-examples"]) == 0
        assert main([str(small_spec), str(tmp_path / "out"), "--n-jobs", "1", "-q"]) == 0
        assert root.handlers == [*before, sentinel] and root.level == level
    finally:
        root.removeHandler(sentinel)


# --------------------------------------------------------------------------- the executor


def _square_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


@pytest.mark.parametrize("kind", ["serial", "threads", "processes"])
def test_every_executor_kind_returns_items_in_order(kind):
    executor = Executor(kind, 1 if kind == "serial" else 2)
    got = list(executor.map(_square_pid, [(x,) for x in range(7)]))
    assert [v for v, _ in got] == [x * x for x in range(7)]
    pids = {pid for _, pid in got}
    assert (pids == {os.getpid()}) == (kind != "processes")
    executor.release()


def test_executor_from_the_command_line_options():
    assert Executor.from_options(1, "loky") == Executor("serial", 1)
    assert Executor.from_options(3, "loky") == Executor("processes", 3)
    assert Executor.from_options(2, "threading") == Executor("threads", 2)
    assert Executor.from_options(1, "dask", "tcp://h:8786") == Executor("dask", 1, "tcp://h:8786")
    # The Monte Carlo loop releases the GIL: worker processes become threads, said in the log.
    assert Executor("processes", 4).for_gil_free_code() == Executor("threads", 4)
    assert Executor("processes", 4).for_gil_free_code().describe() == "4 threads"
    with pytest.raises(ValueError):
        Executor("gpu", 2)


#: Run in a fresh interpreter: threads other tests leave behind (dask's offload pool, say)
#: would otherwise stop the fork the test expects.
NO_FORK_WHILE_THREADS = """
import io, json, os, threading
from tqdm.auto import tqdm
from ale_app.process.executor import Executor

def square_pid(x):
    return x * x, os.getpid()

def others():
    return [t.name for t in threading.enumerate() if t is not threading.current_thread()]

out = {}
executor = Executor("processes", 2)
# A progress bar left open (as a library's loop can leave one) keeps tqdm's monitor thread.
bar = tqdm(total=1, file=io.StringIO())
out["monitor"] = "tqdm_monitor" in others()
out["squares"] = [v for v, _ in executor.map(square_pid, [(1,), (2,), (3,)])]
out["before_release"] = others()
executor.release()
out["after_release"] = others()
forked = executor.map_forked(lambda x: os.getpid(), [1, 2])
out["forked"] = sorted(forked) == [1, 2] and os.getpid() not in forked.values()
stop = threading.Event()
other = threading.Thread(target=stop.wait, name="another")
other.start()
out["with_another_thread"] = executor.map_forked(lambda x: x, [1, 2])
stop.set()
other.join()
out["after_join"] = executor.map_forked(lambda x: x, [1, 2])
bar.close()
print(json.dumps(out))
"""


@pytest.mark.skipif(not can_fork(), reason="forked workers are used on Linux only")
def test_no_fork_while_other_threads_run():
    import json
    import subprocess
    import sys

    from conftest import offline

    cmd, env = offline([sys.executable, "-c", NO_FORK_WHILE_THREADS])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["monitor"] and out["squares"] == [1, 4, 9]
    assert out["before_release"], "the worker processes' manager thread should be alive before release()"
    # After release, only this thread runs: the figure workers are forked.
    assert out["after_release"] == [] and out["forked"]
    # With another thread alive, nothing is forked: the caller does the items itself.
    assert out["with_another_thread"] == {}
    assert out["after_join"] == {"1": 1, "2": 2}


def test_result_fields_are_typed():
    """Every field of a run's result names its type (issue 35: the contrast's were ``Any``)."""
    untyped = [f"{cls.__name__}.{f.name}" for cls in (AnalysisResult, ContrastResult)
               for f in dataclasses.fields(cls) if "Any" in str(f.type)]
    assert untyped == []
