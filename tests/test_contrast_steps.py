"""The contrast's declared steps and its registry fit together, as tests/test_steps.py checks
for one group: each step needs only what an earlier one computed, every output is built from
fields a step computes, and ``--verify`` names the step behind each contrast and group file."""

from __future__ import annotations

import dataclasses

import pytest

from ale_app.outputs import registry as O
from ale_app.outputs.contrast_registry import RUN_FILES, contrast_names, contrast_registry, group_prefix
from ale_app.result import AnalysisResult, ContrastResult
from ale_app.run import contrast_steps as CS
from ale_app.spec.load import parse_spec

CONTRAST_FIELDS = {f.name for f in dataclasses.fields(ContrastResult)}
GROUP_FIELDS = {f.name for f in dataclasses.fields(AnalysisResult)}


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


def test_each_contrast_step_needs_only_what_an_earlier_step_computed():
    computed = {"spec", "groups", "record"}  # what a contrast run starts from: the groups ran first
    for step in CS.CONTRAST_STEPS:
        missing = set(step.needs) - computed
        assert not missing, f"contrast step {step.name!r} needs {missing}, which no earlier step computes"
        assert set(step.computes) <= CONTRAST_FIELDS, f"step {step.name!r} computes fields ContrastResult lacks"
        computed |= set(step.computes)


def test_each_group_step_computes_fields_a_group_result_has():
    for step in CS.GROUP_STEPS:
        assert set(step.computes) <= GROUP_FIELDS, step.name
    assert "release" not in {s.name for s in CS.GROUP_STEPS}  # the contrast needs the MA maps


@pytest.mark.parametrize("method", ["subtraction", "balanced"])
def test_every_contrast_output_is_built_from_fields_a_step_computes(method):
    spec = _spec(method)
    computed = {"groups"} | {f for step in CS.CONTRAST_STEPS for f in step.computes}
    group_computed = {"evidence"} | {f for step in CS.GROUP_STEPS for f in step.computes}
    names = set()
    for entry in contrast_registry(spec):
        assert set(entry.needs) <= computed, f"{entry.name} needs {set(entry.needs) - computed}"
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


def test_verify_names_the_step_behind_each_contrast_and_group_file():
    spec = _spec()
    n = contrast_names(spec)
    assert CS.contrast_made_by(n["z"], spec) == "ALE subtraction step"
    assert CS.contrast_made_by(n["z_directional"], spec) == "ALE subtraction step"
    assert CS.contrast_made_by(n["conjunction"], spec) == "conjunction step"
    assert CS.contrast_made_by(n["jackknife"], spec) == "contrast jackknife step"
    assert CS.contrast_made_by(n["fig_conjunction"] + ".png", spec) == "conjunction step"
    assert CS.contrast_made_by(group_prefix("a") + O.JACKKNIFE_TABLE, spec) == "jackknife step of group a"
    assert CS.contrast_made_by(group_prefix("b") + O.FWE_CLUSTER_TABLE, spec) == "FWE cluster step of group b"
    assert CS.contrast_made_by("figures/" + group_prefix("b") + O.FIG_JACKKNIFE.rpartition("/")[2] + ".png",
                               spec) == "jackknife step of group b"
    assert CS.contrast_made_by(O.REPORT, spec) == "report step"
    assert CS.contrast_made_by(O.PROVENANCE, spec) == "provenance step"
    assert CS.contrast_made_by("nothing-we-write.tsv", spec) == "unknown step"
    # Files that more than one method's step could feed name the step that ran for this spec.
    assert CS.contrast_made_by(n["cluster_table"], spec) == "ALE subtraction step"
    assert CS.contrast_made_by(n["diff"], spec) == "ALE subtraction step"
    balanced = _spec("balanced")
    nb = contrast_names(balanced)
    assert CS.contrast_made_by(nb["balanced_null"], balanced) == "balanced contrast step"
    assert CS.contrast_made_by(nb["cluster_table"], balanced) == "balanced contrast step"
    descriptive = _spec(mode="descriptive")
    assert CS.contrast_made_by(contrast_names(descriptive)["diff"], descriptive) == "difference step"
