"""The project form every spec version means (ale_app.spec.project): a version-1 spec is one
group whose spec is the spec itself, a version-2 spec two groups (each its
``group_spec``) and one contrast; the record is the spec's own."""

from __future__ import annotations

import yaml

from ale_app.spec.load import parse_spec
from ale_app.spec.project import SINGLE_GROUP, Project, to_project
from ale_app.spec.v2 import group_spec

V1 = """\
spec_version: 1
title: Pain, one group
input: {path: x.tsv}
ale: {sample_size: 12}
jackknife: {method: refit}
"""


def _v2(**contrast) -> str:
    return yaml.safe_dump({
        "spec_version": 2, "title": "t", "mode": "inferential", "input": {"path": "all.tsv", "format": "tsv"},
        "groups": {"b": {"path": "b.txt"}, "a": {"select": {"where": {"column": "dx", "values": ["patient"]}}}},
        "contrast": {"groups": ["a", "b"], **contrast}, "ale": {"kernel_fwhm": 10},
        "inference": {"min_experiments": 10, "seed": 4}})


def test_version_1_is_one_group_holding_the_spec_unchanged():
    spec = parse_spec(V1, "s.yaml")
    project = to_project(spec)
    assert project.shape == "single" and project.contrasts == ()
    assert list(project.groups) == [SINGLE_GROUP]
    (group,) = project.groups.values()
    # The same object: its title is not rewritten as a group's ("t (all)") would be.
    assert group is spec and group.title == "Pain, one group"
    assert project.record() == spec.record()
    assert project.mode == "descriptive" and not project.inferential and project.readers(SINGLE_GROUP) == ()


def test_version_2_is_two_groups_and_one_contrast_in_the_contrasts_order():
    spec = parse_spec(_v2(conjunction=False), "s.yaml")
    project = to_project(spec)
    assert project.shape == "pair"
    # The contrast's order (first minus second), not the order the groups are written in.
    assert list(project.groups) == ["a", "b"]
    for name, group in project.groups.items():
        assert group.model_dump() == group_spec(spec, name).model_dump()
    assert project.groups["a"].input.path == "all.tsv" and project.groups["b"].input.path == "b.txt"
    assert project.groups["a"].title == "t (a)" and project.groups["a"].inference.seed == 4
    (plan,) = project.contrasts
    assert plan.label == spec.contrast_label == "aMinusB" and plan.groups == ("a", "b")
    assert plan.spec is spec.contrast and plan.spec.conjunction is False
    assert project.readers("a") == project.readers("b") == (plan,)
    assert project.record() == spec.record() and project.inferential


def test_shape_follows_the_content_alone():
    spec = parse_spec(_v2(), "s.yaml")
    pair = to_project(spec)
    (plan,) = pair.contrasts
    one = Project(source=spec, groups={"a": pair.groups["a"]})
    three = Project(source=spec, groups={**pair.groups, "c": pair.groups["a"]}, contrasts=(plan,))
    two_contrasts = Project(source=spec, groups=pair.groups, contrasts=(plan, plan))
    assert (one.shape, three.shape, two_contrasts.shape) == ("single", "project", "project")
    assert three.readers("c") == ()
