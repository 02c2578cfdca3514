"""A project (spec_version 3): three groups selected from one table and two contrasts, in one
run. Each group's maps and tables equal a version-1 run of that group alone, each contrast's
files equal a version-2 run of the pair, the page lists every analysis with a link to its
section, and the spec's rules (overlap, clashing labels) are refused before anything runs.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ale_app.cli import main
from ale_app.outputs.names import SPACE

from helpers.projects import GROUPS, INPUT, SHARED, project_spec as _project, select as _select
from helpers.projects import write_spec as _write, write_table as _table


@pytest.fixture(scope="module")
def project_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("project")
    _table(folder)
    out = folder / "out"
    assert main([str(_write(folder, "project", _project())), str(out), "--n-jobs", "2", "-q"]) == 0
    return folder, out


def test_a_project_writes_every_groups_and_every_contrasts_files(project_run):
    _, out = project_run
    for task in GROUPS:
        assert (out / f"group-{task}_{SPACE}_stat-ale_statmap.nii.gz").is_file(), task
        assert (out / f"figures/group-{task}_desc-coordinates_glassbrain.png").is_file(), task
    for label in ("goMinusStop", "goMinusFlank"):
        assert (out / f"contrast-{label}_{SPACE}_stat-aledifference_statmap.nii.gz").is_file(), label
    # The conjunction was asked for in the first contrast only.
    assert (out / f"contrast-goMinusStop_{SPACE}_stat-ale_desc-conjunction_statmap.nii.gz").is_file()
    assert not list(out.glob("contrast-goMinusFlank_*conjunction*"))
    coords = pd.read_csv(out / "coordinates.tsv", sep="\t")
    assert sorted(coords["group"].unique()) == sorted(GROUPS)
    prov = json.loads((out / "provenance.json").read_text())
    assert [c["Label"] for c in prov["Contrasts"]] == ["goMinusStop", "goMinusFlank"]
    assert len(prov["InputFiles"]) == 1  # the shared table, listed once
    assert {k.split(":")[0] for k in prov["StepSeconds"] if ":" in k} == {*GROUPS, "goMinusStop", "goMinusFlank"}
    assert json.loads((out / "spec.json").read_text())["spec_version"] == 3


def test_the_project_page_lists_every_analysis_with_a_link_to_its_section(project_run):
    _, out = project_run
    page = (out / "report.html").read_text()
    for anchor in ("group-go", "group-stop", "group-flank", "contrast-goMinusStop", "contrast-goMinusFlank"):
        assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page, anchor
    summary = page[page.index("<h2>Analyses</h2>"):page.index("</table>", page.index("<h2>Analyses</h2>"))]
    for task in GROUPS:
        n = len(pd.read_csv(out / f"group-{task}_desc-clusters_table.tsv", sep="\t").query("peak == 'main'"))
        assert f">Group {task}</a></td><td>main effect</td>" in summary
        assert f"<td>{n} descriptive</td>" in summary
    # One NiMARE re-run script per contrast (every group here is in a contrast), and the page names them.
    assert sorted(p.name for p in (out / "code").iterdir()) == [
        "contrast-goMinusFlank_nimare_rerun.py", "contrast-goMinusStop_nimare_rerun.py"]
    assert "a NiMARE re-run script for each contrast and each group no contrast reads" in page
    assert "## Methods" in (out / "CITATION.md").read_text()



def test_the_methods_describe_a_group_two_contrasts_share_once(project_run):
    """Issue 34 item 6: group go, read by both contrasts, is described once in the methods."""
    _, out = project_run
    methods = (out / "CITATION.md").read_text().split("## Methods\n\n", 1)[1].split("\n\n## ", 1)[0]
    for task in GROUPS:
        coords = pd.read_csv(out / "coordinates.tsv", sep="\t")
        n = coords.loc[coords["group"] == task, "analysis_id"].nunique()
        assert methods.count(f"{task} ({n} experiments") == 1, task
    assert methods.count("Activation likelihood estimation (ALE;") == 1
    assert methods.count("Contrast goMinusStop (go minus stop).") == 1
    assert methods.count("Contrast goMinusFlank (go minus flank).") == 1


def test_a_contrast_file_is_named_by_its_step_and_contrast(project_run):
    from ale_app.run.steps import made_by
    from ale_app.spec.load import load_spec
    from ale_app.spec.project import to_project

    folder, _ = project_run
    spec, _, _ = load_spec(str(folder / "project.yaml"))
    project = to_project(spec)
    assert made_by(f"contrast-goMinusFlank_{SPACE}_stat-aledifference_statmap.nii.gz", project) == \
        "difference step of contrast goMinusFlank"
    assert made_by(f"group-stop_{SPACE}_stat-ale_statmap.nii.gz", project) == "ALE fit step of group stop"
    assert made_by("report.html", project) == "report step"


@pytest.mark.slow
def test_each_group_equals_its_own_run_and_each_contrast_its_pairs_run(project_run):
    folder, out = project_run
    for task in ("go", "stop"):
        alone = folder / f"alone-{task}"
        spec = _write(folder, f"alone-{task}", {"spec_version": 1, "input": {**INPUT, **_select(task)}, **SHARED})
        assert main([str(spec), str(alone), "--n-jobs", "2", "-q"]) == 0
        for name in (f"{SPACE}_stat-ale_statmap.nii.gz", f"{SPACE}_desc-clusters_dseg.nii.gz",
                     "desc-clusters_table.tsv", "desc-jackknife_table.tsv"):
            assert (out / f"group-{task}_{name}").read_bytes() == (alone / name).read_bytes(), (task, name)
    pair = folder / "pair"
    spec = _write(folder, "pair", {"spec_version": 2, "title": "Three tasks", "input": INPUT,
                                   "groups": {"go": _select("go"), "flank": _select("flank")},
                                   "contrast": {"groups": ["go", "flank"], "conjunction": False}, **SHARED})
    assert main([str(spec), str(pair), "--n-jobs", "2", "-q"]) == 0
    theirs = sorted(p.name for p in pair.glob("contrast-*") if not p.name.endswith(".json"))
    assert theirs
    for name in theirs:
        assert (out / name).read_bytes() == (pair / name).read_bytes(), name


def test_overlapping_groups_and_clashing_labels_are_refused(tmp_path, capsys):
    _table(tmp_path)
    overlap = _project(groups={"all": {}, "go": _select("go"), "stop": _select("stop")},
                       contrasts=[{"groups": ["all", "go"]}, {"groups": ["go", "stop"]}])
    assert main([str(_write(tmp_path, "overlap", overlap)), str(tmp_path / "o1"), "-q"]) == 65
    err = capsys.readouterr().err
    assert "contrast 'allMinusGo': 6 experiment(s) are in both groups 'all' and 'go'" in err
    assert "goMinusStop" not in err  # the disjoint pair is fine
    assert not (tmp_path / "o1").exists() or not any((tmp_path / "o1").iterdir())
    twice = _project(contrasts=[{"groups": ["go", "stop"]}, {"groups": ["go", "stop"], "conjunction": False}])
    assert main([str(_write(tmp_path, "twice", twice)), str(tmp_path / "o2"), "-q"]) != 0
    assert "give each a different 'name'" in capsys.readouterr().err
    named = _project(contrasts=[{"groups": ["go", "stop"]},
                                {"groups": ["go", "stop"], "conjunction": False, "name": "goVsStopPlain"}])
    assert main([str(_write(tmp_path, "named", named)), "--validate-only"]) == 0


def test_groups_selecting_from_one_shared_input_parse_it_once(tmp_path, monkeypatch):
    from ale_app.inputs import readers
    from ale_app.run.validate import validate
    from ale_app.spec.load import load_spec
    from ale_app.spec.project import to_project

    _table(tmp_path)
    spec, spec_dir, _ = load_spec(str(_write(tmp_path, "project", _project())))
    project = to_project(spec)
    separately = {name: validate(to_project(_one_group(spec, name)), spec_dir) for name in GROUPS}
    calls = []
    read_input = readers.read_input
    monkeypatch.setattr(readers, "read_input", lambda *a, **k: calls.append(a[0]) or read_input(*a, **k))
    together = validate(project, spec_dir)
    assert len(calls) == 1  # three groups, one file, one parse
    for name in GROUPS:
        (alone,) = separately[name].values()
        ours = together[name]
        assert ours.ids == alone.ids and ours.warnings == alone.warnings and ours.source == alone.source
        assert ours.coordinates.equals(alone.coordinates)


def _one_group(spec, name):
    from ale_app.spec.v2 import group_spec

    return group_spec(spec, name)


def test_a_version_3_spec_of_one_group_or_one_pair_records_itself(tmp_path):
    from ale_app.outputs.run_outputs import spec_record
    from ale_app.outputs.names import SPEC_JSON
    from ale_app.outputs.registry import registry_for
    from ale_app.spec.load import load_spec
    from ale_app.spec.project import to_project

    _table(tmp_path)
    pair = _project(groups={"go": _select("go"), "stop": _select("stop")}, contrasts=[{"groups": ["go", "stop"]}])
    single = _project(groups={"go": _select("go")}, contrasts=[])
    for name, data, shape in (("pair", pair, "pair"), ("single", single, "single")):
        spec, _, _ = load_spec(str(_write(tmp_path, name, data)))
        project = to_project(spec)
        assert project.shape == shape
        (entry,) = [e for e in registry_for(project) if e.name == SPEC_JSON]
        assert entry.build is spec_record and entry.part is None  # the project's own record, spec_version 3
    # Versions 1 and 2 keep their part's record (their spec as written).
    spec, _, _ = load_spec(str(_write(tmp_path, "v2", {"spec_version": 2, "input": INPUT,
                                                          "groups": {"go": _select("go"), "stop": _select("stop")},
                                                          "contrast": {"groups": ["go", "stop"]}})))
    (entry,) = [e for e in registry_for(to_project(spec)) if e.name == SPEC_JSON]
    assert entry.part is not None


def test_a_group_no_contrast_reads_gets_its_own_re_run_script(tmp_path):
    from ale_app.outputs.entries import GroupPart
    from ale_app.outputs.registry import registry_for
    from ale_app.spec.load import load_spec
    from ale_app.spec.project import to_project

    _table(tmp_path)
    spec, _, _ = load_spec(str(_write(tmp_path, "one", _project(contrasts=[{"groups": ["go", "stop"]}]))))
    scripts = {e.name: e.part for e in registry_for(to_project(spec)) if e.name.startswith("code/")}
    assert set(scripts) == {"code/contrast-goMinusStop_nimare_rerun.py", "code/group-flank_nimare_rerun.py"}
    assert scripts["code/group-flank_nimare_rerun.py"] == GroupPart("flank")


@pytest.mark.slow
def test_the_projects_re_run_script_finds_nimare_equal(project_run):
    """The contrast's script, run on the project's folder, re-runs both groups and the
    difference with NiMARE alone and finds them equal."""
    import subprocess
    import sys

    from conftest import offline

    _, out = project_run
    cmd, env = offline([sys.executable, str(out / "code" / "contrast-goMinusFlank_nimare_rerun.py"),
                        "--skip-stability"])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "contrast-goMinusFlank_space-MNI152NLin6Asym_res-2_stat-aledifference_statmap.nii.gz: max |NiMARE" in proc.stdout
    assert proc.stdout.rstrip().endswith(": equal")
