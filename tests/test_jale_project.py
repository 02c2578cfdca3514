"""A JALE project folder as the SPEC (issue 36, items 1 and 2): its workbooks in both layouts,
JALE's experiment rule, its tag rules, its analysis rows and config, on small hand-written
projects (values checked), and JALE's own bundled example through the command line."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from ale_app.errors import SpecError
from ale_app.inputs.evidence import load_evidence
from ale_app.inputs.readers import read_input
from ale_app.spec.input import TagRuleSpec
from ale_app.spec.jale import tag_rule
from ale_app.spec.load import load_spec
from ale_app.spec.project import to_project
from ale_app.spec.v2 import group_input
from conftest import offline
from helpers.jale_projects import CONFIG, EXPERIMENTS, write_project

EXAMPLE = Path(__file__).parent / "data" / "jale_example"
IDS = ["Alpha-task_low", "Beta-task_high_extra", "Dual-task_low", "Dual-task_high", "Gamma-task_high"]
M_ROWS = [["M", "all_tasks", "+task"], ["M", "low_only", "+task", "+low"], ["M", "no_high", "+task", "-high"],
          ["M", "low_or_extra", "+low", "+extra", "?", "+task"]]


def group_evidence(spec, folder: Path, name: str):
    return load_evidence(group_input(spec, name), folder, spec.ale, field=f"groups.{name}", file_field="input")


# ----------------------------------------------------------------------------- workbooks


@pytest.mark.parametrize("first_row_only", [False, True], ids=["article-on-every-row", "article-on-first-row"])
def test_both_layouts_give_the_same_experiments(tmp_path, first_row_only):
    write_project(tmp_path, M_ROWS, first_row_only=first_row_only)
    read = read_input(tmp_path / "experiment_info.xlsx", "jale")
    assert read.ids == IDS
    assert not read.problems
    studies = {s["id"]: s for s in read.source["studies"]}
    for (article, subjects, tags, foci), aid in zip(EXPERIMENTS, IDS):
        analysis = next(a for a in studies[article]["analyses"] if f"{article}-{a['id']}" == aid)
        assert [tuple(p["coordinates"]) for p in analysis["points"]] == [tuple(map(float, f)) for f in foci]
        assert analysis["metadata"] == {"sample_sizes": [subjects]}
        assert read.tags[aid] == frozenset(tags)
    filled = [n for n in read.reading_notes if "filled down" in n]
    if first_row_only:  # 14 foci in 5 experiments: 9 rows took the first row's article
        assert len(filled) == 1 and "9 rows took the article" in filled[0]
    else:
        assert not filled
    assert read.shared_subjects == {"Dual": ["Dual-task_low", "Dual-task_high"]}


def test_pool_experiments_makes_one_experiment_per_article(tmp_path):
    write_project(tmp_path, M_ROWS)
    read = read_input(tmp_path / "experiment_info.xlsx", "jale", pool_experiments=True)
    assert read.ids == ["Alpha-task_low", "Beta-task_high_extra", "Dual-pooled", "Gamma-task_high"]
    dual = next(s for s in read.source["studies"] if s["id"] == "Dual")["analyses"]
    assert len(dual) == 1 and len(dual[0]["points"]) == 5 and dual[0]["metadata"] == {"sample_sizes": [18]}
    assert read.tags["Dual-pooled"] == frozenset({"task", "low"})  # the first row's tags, as JALE keeps them
    assert read.shared_subjects == {}
    assert any("pooled into one experiment" in n and "Dual" in n for n in read.reading_notes)


def test_the_old_table_reading_refused_the_second_layout_and_the_jale_format_reads_it(tmp_path):
    """What issue 36 found: the Excel table reader names every row without an article; the
    JALE format fills them down."""
    from ale_app.errors import InputDataError

    from ale_app.spec.models import ALESpec, InputSpec

    write_project(tmp_path, M_ROWS, first_row_only=True)
    with pytest.raises(InputDataError) as caught:
        load_evidence(InputSpec(path="experiment_info.xlsx", format="xlsx",
                                columns={"study": "Articles", "sample_size": "Subjects", "space": "Space"}),
                      tmp_path, ALESpec())
    # One problem for the 9 rows without an article (not one line each), and what to do.
    assert caught.value.message.endswith("rows 3, 4, 6, 8, 10, 11, 13, 14, 15: Articles is empty on 9 rows.")
    assert "read the workbook with format: jale, which fills it down" in caught.value.hint
    assert read_input(tmp_path / "experiment_info.xlsx", "jale").ids == IDS


# ----------------------------------------------------------------------------- tag rules


def test_tag_rules_become_all_any_none_as_jale_compiles_them():
    assert tag_rule(["+Task"]) == ({"all": ["task"]}, None)
    assert tag_rule(["+task", "-high"]) == ({"all": ["task"], "none": ["high"]}, None)
    # '?' joins every +tag before it into one OR set; +tags after it are ANDed with that set.
    assert tag_rule(["+low", "+extra", "?", "+task"]) == ({"all": ["task"], "any": ["low", "extra"]}, None)
    assert tag_rule(["+a", "?", "+b", "?"]) == ({"any": ["a", "b"]}, None)
    for bad, words in ((["-high"], "no +tag"), (["?"], "no +tag before it"), (["+a", "$roi.nii"], "ROI"),
                       (["task"], "does not start with")):
        rule, why = tag_rule(bad)
        assert rule is None and words in why


def test_tag_rule_keeps_what_jale_keeps():
    rule = TagRuleSpec(all=["task"], any=["low", "extra"], none=["gamma"])
    assert rule.keeps({"task", "low"}) and rule.keeps({"task", "extra", "high"})
    assert not rule.keeps({"task", "high"}) and not rule.keeps({"low"}) and not rule.keeps({"task", "low", "gamma"})


def test_groups_select_the_experiments_of_their_rows(tmp_path):
    config = write_project(tmp_path, M_ROWS)
    spec, folder, _ = load_spec(str(config))
    assert list(spec.groups) == ["allTasks", "lowOnly", "noHigh", "lowOrExtra"]
    chosen = {name: group_evidence(spec, folder, name) for name in spec.groups}
    assert chosen["allTasks"].ids == IDS
    assert chosen["lowOnly"].ids == ["Alpha-task_low", "Dual-task_low"]
    assert chosen["noHigh"].ids == ["Alpha-task_low", "Dual-task_low"]
    assert chosen["lowOrExtra"].ids == ["Alpha-task_low", "Beta-task_high_extra", "Dual-task_low"]
    assert sum(chosen["allTasks"].sample_sizes.values()) == 10 + 12 + 18 + 18 + 9
    # Both experiments of 'Dual' in one group: the warning names the article and its experiments.
    shared = [w for w in chosen["allTasks"].warnings if "share subjects" in w]
    assert len(shared) == 1 and "Dual ('Dual-task_low', 'Dual-task_high')" in shared[0]
    assert shared[0].startswith("1 study holds more than one experiment, one per tag set or group value")
    assert not any("share subjects" in w for w in chosen["lowOnly"].warnings)


def test_a_tag_no_experiment_has_is_refused_naming_the_tags_there_are(tmp_path):
    from ale_app.errors import InputDataError

    config = write_project(tmp_path, [["M", "typo", "+tsak"]])
    spec, folder, _ = load_spec(str(config))
    with pytest.raises(InputDataError) as caught:
        group_evidence(spec, folder, "typo")
    assert "'tsak'" in caught.value.message and "'task' (5)" in caught.value.message


# ----------------------------------------------------------------------------- rows and config


def test_rows_become_groups_and_contrasts(tmp_path, caplog):
    rows = [["M", "low", "+low"], ["P3", "all_cv", "+task"], ["C ", "low", "+low"], [None, "high", "+high"],
            ["B2", "low", "+low"], [None, "high", "+high"]]
    config = write_project(tmp_path, rows)
    with caplog.at_level(logging.WARNING):
        spec, _, _ = load_spec(str(config))
    assert any("row 3" in r.message and "'C '" in r.message and "read as 'C'" in r.message for r in caplog.records)
    assert spec.spec_version == 3 and spec.mode == "inferential"
    assert list(spec.groups) == ["low", "allCv", "high"]  # the C and B rows' 'low' is row 1's group
    stability = spec.groups["allCv"].robustness.stability
    assert (stability.enabled, stability.subset_size, stability.n_subsets) == (True, 3, 300)
    assert spec.groups["low"].robustness is None and spec.robustness is None
    subtraction, balanced = spec.contrasts
    assert (subtraction.groups, subtraction.method, subtraction.conjunction) == (["low", "high"], "subtraction", True)
    assert (balanced.groups, balanced.method, balanced.balanced.target_n) == (["low", "high"], "balanced", 2)
    assert (balanced.balanced.subsamples, balanced.balanced.difference_iterations,
            balanced.balanced.null_iterations) == (300, 200, 500)
    assert balanced.label == "lowMinusHighBalanced" and subtraction.label == "lowMinusHigh"
    project = to_project(spec)
    assert project.groups["allCv"].robustness.stability.subset_size == 3  # the group's own, in its analysis
    assert project.groups["low"].robustness is None
    assert [r.runs_as.split(":")[0] for r in spec.jale.rows] == [
        "group low", "group allCv", "contrast lowMinusHigh", "second group of row 3's contrast",
        "contrast lowMinusHighBalanced", "second group of row 5's contrast"]


def test_config_values_are_applied_and_recorded(tmp_path, caplog):
    config = dict(CONFIG, parameters=dict(CONFIG["parameters"], pool_experiments=True, my_own_key=3))
    path = write_project(tmp_path, [["M", "all", "+task"]], config=config)
    with caplog.at_level(logging.WARNING):
        spec, _, _ = load_spec(str(path))
    assert (spec.inference.fwe_alpha, spec.inference.voxel_p, spec.inference.n_iterations) == (0.05, 0.001, 500)
    assert spec.input.pool_experiments is True and spec.input.format == "jale"
    warned = " ".join(r.message for r in caplog.records)
    assert "parameters.my_own_key (not a key of JALE 0.2.10's config)" in warned
    assert "parameters.tfce_enabled" in warned and "clustering_parameters" in warned
    record = spec.record()
    assert record["jale"]["parameters"]["parameters.my_own_key"] == 3
    assert record["jale"]["not_applied"]["parameters.my_own_key"] == "not a key of JALE 0.2.10's config"
    assert record["jale"]["applied"]["parameters.monte_carlo_iterations"].startswith("inference.n_iterations = 500")
    assert record["input"]["pool_experiments"] is True
    assert record["jale"]["config"] == "config.yml"
    from ale_app.digests import sha256_file

    assert record["jale"]["analysis_info_sha256"] == sha256_file(tmp_path / "analysis_info.xlsx")
    assert "robustness" not in record["groups"]["all"]


def test_cutoff_prediction_runs_the_monte_carlo_with_jales_values(tmp_path):
    config = dict(CONFIG, parameters=dict(CONFIG["parameters"], cutoff_predict_enabled=True,
                                          significance_threshold=0.01, monte_carlo_iterations=100))
    spec, _, _ = load_spec(str(write_project(tmp_path, [["M", "all", "+task"]], config=config)))
    assert (spec.inference.fwe_alpha, spec.inference.n_iterations) == (0.05, 5000)


def test_rows_ale_app_cannot_run_are_refused_together_before_anything_runs(tmp_path):
    rows = [["M", "fine", "+task"], ["Cluster", "clusters", "+task"], ["M", "roi", "+task", "$amygdala.nii"],
            ["X", "odd", "+task"], ["P", "cv", "+task"], ["B", "low", "+low"], [None, "high", "+high"],
            [None, "stray", "+task"], ["M", "", "+task"], ["C", "last", "+low"]]
    config = write_project(tmp_path, rows)
    with pytest.raises(SpecError) as caught:
        load_spec(str(config))
    message = caught.value.message
    assert "nothing has run" in message
    said = {int(line.split(":")[0].split()[1]): line.split(":", 1)[1] for line in message.splitlines()[1:]}
    for row, words in ((2, "MA clustering (Cluster) is not built"), (3, "'$amygdala.nii' is an ROI analysis"),
                       (4, "its type 'X' is none of M, P<N>, C, B<N>"), (5, "P needs its N"),
                       (6, "B needs its N"), (8, "it has no type"), (9, "it gives no analysis name"),
                       (10, "a C row compares it with the next row, and there is none")):
        assert words in said[row], (row, said[row])
    assert set(said) == {2, 3, 4, 5, 6, 8, 9, 10}  # row 1 runs; row 7 is refused row 6's second group


def test_a_version_3_spec_written_by_hand_records_no_jale_and_no_group_robustness(tmp_path):
    from ale_app.spec.load import parse_spec

    spec = parse_spec("spec_version: 3\ninput: {path: t.tsv}\ngroups: {a: {}}\n", "s.yaml")
    record = spec.record()
    assert "jale" not in record and "robustness" not in record["groups"]["a"]
    assert "pool_experiments" not in record["input"]


# ----------------------------------------------------------------------------- JALE's own example


def test_jales_example_runs_from_its_folder_and_lists_its_rows(tmp_path):
    """``ale-app project/config.yml OUT --validate-only`` on JALE 0.2.10's bundled example
    (MIT licence, tests/data/jale_example/LICENSE): every row, JALE's counts (benchmarks/
    jale_compare.py printed them from JALE itself: 57 experiments and 1,298 subjects for the
    main effect, 32/779 'low', 25/519 'high')."""
    cmd, env = offline([sys.executable, "-m", "ale_app", str(EXAMPLE / "config.yml"), str(tmp_path / "out"),
                        "--validate-only"])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = [line.strip() for line in lines if line.startswith("  row ")]
    assert rows == [
        "row 1 M ResponseInhibition (+inhibition): group ResponseInhibition: main effect; 57 experiments, "
        "1,298 subjects",
        "row 2 M ResponseInhibition_low (+inhibition +low): group ResponseInhibitionLow: main effect; 32 experiments, "
        "779 subjects",
        "row 3 M ResponseInhibition_no_high (+inhibition -high): group ResponseInhibitionNoHigh: main effect; "
        "32 experiments, 779 subjects",
        "row 4 M lowCondition (+low): group lowCondition: main effect; 32 experiments, 779 subjects",
        "row 5 M highCondition (+high): group highCondition: main effect; 25 experiments, 519 subjects",
        "row 6 P25 ResponseInhibition_CV (+inhibition): group ResponseInhibitionCV: main effect and stability on "
        "subsets of 25; 57 experiments, 1,298 subjects",
        "row 7 C lowCondition (+low): contrast lowConditionMinusHighCondition: subtraction and conjunction of groups "
        "lowCondition and highCondition; 32 experiments, 779 subjects",
        "row 8 - highCondition (+high): second group of row 7's contrast; 25 experiments, 519 subjects",
        "row 9 B20 lowCondition (+low): contrast lowConditionMinusHighConditionBalanced: balanced contrast "
        "(target_n 20) and conjunction of groups lowCondition and highCondition; 32 experiments, 779 subjects",
        "row 10 - highCondition (+high): second group of row 9's contrast; 25 experiments, 519 subjects",
    ]
    assert "the type 'C ' is read as 'C'" in done.stderr
    assert "study_49 ('study_49-inhibition_low', 'study_49-inhibition_high')" in done.stdout
    assert not (tmp_path / "out").exists()


JALE_PYTHON = Path("/work/jale-venv/bin/python")


@pytest.mark.skipif(not JALE_PYTHON.exists(), reason="JALE 0.2.10's own environment is not installed "
                    "(python3 -m venv /work/jale-venv && /work/jale-venv/bin/pip install jale==0.2.10)")
def test_jale_itself_reads_the_example_as_ale_app_does():
    """The oracle: JALE 0.2.10 in its own environment and ale-app, row by row (an extra check
    where JALE is installed; the example's numbers are checked above without it)."""
    script = Path(__file__).parent.parent / "benchmarks" / "jale_compare.py"
    done = subprocess.run([sys.executable, str(script), str(EXAMPLE / "config.yml"), "--jale-python",
                           str(JALE_PYTHON)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every row agrees" in done.stdout


# ----------------------------------------------------------------------------- ale-app's own tables

TABLE = """study_id,x,y,z,space,sample_size,Diagnosis
Smith,-40,20,10,MNI,16,patients
Smith,38,22,8,MNI,16,patients
Smith,-30,-60,40,MNI,16,controls
Lee,0,40,20,MNI,12,patients
Lee,2,42,22,MNI,12,patients
Kim,10,-50,30,MNI,9,controls
"""


def read_own_table(tmp_path, pool=False, table=TABLE, columns=None):
    from ale_app.spec.models import ALESpec, InputSpec

    (tmp_path / "t.csv").write_text(table, encoding="utf-8")
    spec = InputSpec(path="t.csv", columns=columns or {"group": "Diagnosis"}, pool_experiments=pool)
    return load_evidence(spec, tmp_path, ALESpec())


def test_a_study_whose_rows_differ_by_the_group_column_is_two_experiments(tmp_path):
    evidence = read_own_table(tmp_path)
    assert evidence.ids == ["Smith-patients", "Smith-controls", "Lee-analysis_1", "Kim-analysis_1"]
    assert evidence.sample_sizes == {"Smith-patients": 16, "Smith-controls": 16, "Lee-analysis_1": 12,
                                     "Kim-analysis_1": 9}
    counts = evidence.coordinates.groupby("analysis_id", sort=False).size().to_dict()
    assert counts == {"Smith-patients": 2, "Smith-controls": 1, "Lee-analysis_1": 2, "Kim-analysis_1": 1}
    shared = [w for w in evidence.warnings if "share subjects" in w]
    assert len(shared) == 1 and "Smith ('Smith-patients', 'Smith-controls')" in shared[0]


def test_pool_experiments_keeps_one_experiment_per_study_and_says_so(tmp_path):
    evidence = read_own_table(tmp_path, pool=True)
    assert evidence.ids == ["Smith-analysis_1", "Lee-analysis_1", "Kim-analysis_1"]
    assert (evidence.coordinates["analysis_id"] == "Smith-analysis_1").sum() == 3
    assert not any("share subjects" in w for w in evidence.warnings)
    assert any("input.pool_experiments: 1 study" in n and "'Smith'" in n for n in evidence.notes)


def test_a_group_that_differs_within_a_named_analysis_is_said(tmp_path):
    table = "study_id,analysis_id,x,y,z,space,sample_size,Diagnosis\n" + "\n".join(
        f"{line.split(',', 1)[0]},a1,{line.split(',', 1)[1]}" for line in TABLE.splitlines()[1:]) + "\n"
    evidence = read_own_table(tmp_path, table=table)
    assert evidence.ids == ["Smith-a1", "Lee-a1", "Kim-a1"]
    assert any("the group column 'Diagnosis'" in w and "differs within one analysis" in w
               and "'Smith-a1'" in w for w in evidence.warnings)


@pytest.mark.slow
def test_a_generated_jale_project_runs_every_row(tmp_path):
    """``ale-app config.yml OUT`` on a generated project (JALE's second layout, 40 experiments):
    an M row, a P<N> row and a C row run; stability only for the P row's group; spec.json
    records the project."""
    import json

    from helpers.jale_projects import generated_experiment_rows, small_config

    rows = [["M", "everything", "+task"], ["P15", "high_cv", "+high"], ["C", "low", "+low"], [None, "high", "+high"]]
    config = write_project(tmp_path / "project", rows, config=small_config(),
                           experiments=generated_experiment_rows())
    out = tmp_path / "out"
    cmd, env = offline([sys.executable, "-m", "ale_app", str(config), str(out), "--n-jobs", "2", "-q"])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    names = {p.name for p in out.iterdir()}
    assert {n for n in names if "stability_statmap.nii.gz" in n} == {
        "group-highCv_space-MNI152NLin6Asym_res-2_desc-stability_statmap.nii.gz"}
    assert "contrast-lowMinusHigh_space-MNI152NLin6Asym_res-2_stat-aledifference_statmap.nii.gz" in names
    assert "contrast-lowMinusHigh_space-MNI152NLin6Asym_res-2_stat-ale_desc-conjunction_statmap.nii.gz" in names
    recorded = json.loads((out / "spec.json").read_text())
    assert list(recorded["groups"]) == ["everything", "highCv", "low", "high"]
    assert recorded["groups"]["highCv"]["robustness"]["stability"]["subset_size"] == 15
    assert "robustness" not in recorded["groups"]["everything"]
    assert recorded["inference"]["n_iterations"] == 30
    assert [r["runs_as"].split(":")[0] for r in recorded["jale"]["rows"]] == [
        "group everything", "group highCv", "contrast lowMinusHigh", "second group of row 3's contrast"]
    # Every experiment of a group left out once, in file order: the rows' selections, filled down.
    for group, first, count in (("everything", "paper_0-task_high", 40), ("low", "paper_1-task_low", 20),
                                ("high", "paper_0-task_high", 20)):
        lines = (out / f"group-{group}_desc-jackknife_table.tsv").read_text().splitlines()
        assert len(lines) == count + 1 and lines[1].split("\t")[0] == first


def test_a_group_too_small_for_inference_names_the_rows_to_change(tmp_path):
    from ale_app.errors import InputDataError
    from ale_app.run.pipeline import validate

    spec, folder, _ = load_spec(str(write_project(tmp_path, [["M", "all", "+task"]])))
    with pytest.raises(InputDataError) as caught:
        validate(to_project(spec), folder)
    assert "needs at least 17 experiments" in caught.value.message and "has 5" in caught.value.message
    assert "remove those rows from analysis_info.xlsx or widen their tags" in caught.value.hint
    assert "mode: descriptive" not in caught.value.hint  # a JALE project has no spec to edit
    # Several groups: each one named, the same hint.
    spec, folder, _ = load_spec(str(write_project(tmp_path / "two", [["M", "low", "+low"], ["M", "high", "+high"]])))
    with pytest.raises(InputDataError) as caught:
        validate(to_project(spec), folder)
    assert "group 'low' has 2" in caught.value.message and "group 'high' has 3" in caught.value.message
    assert "remove those rows from analysis_info.xlsx" in caught.value.hint


def test_config_values_of_the_wrong_type_are_refused_naming_them(tmp_path):
    config = dict(CONFIG, parameters=dict(CONFIG["parameters"], pool_experiments="False", subsample_n=2.5))
    with pytest.raises(SpecError) as caught:
        load_spec(str(write_project(tmp_path, [["M", "all", "+task"]], config=config)))
    assert "parameters.pool_experiments: 'False'; parameters.subsample_n: 2.5" in caught.value.message


def test_a_contrast_under_tfce_correction_is_refused(tmp_path):
    config = dict(CONFIG, parameters=dict(CONFIG["parameters"], contrast_correction_method="tfce"))
    path = write_project(tmp_path, [["C", "low", "+low"], [None, "high", "+high"]], config=config)
    with pytest.raises(SpecError) as caught:
        load_spec(str(path))
    assert "row 1: contrast_correction_method is 'tfce'" in caught.value.message
    assert "row 2" not in caught.value.message


def test_a_missing_analysis_workbook_is_exit_66_naming_it(tmp_path):
    from ale_app.errors import MissingInputError

    config = write_project(tmp_path, [["M", "all", "+task"]])
    (tmp_path / "analysis_info.xlsx").unlink()
    with pytest.raises(MissingInputError) as caught:
        load_spec(str(config))
    assert "analysis_info.xlsx" in caught.value.message and caught.value.exit_code == 66
