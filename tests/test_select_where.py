"""A version-2 group's ``select.where``: the analyses whose column holds one of the values,
in file order, from every format that has columns (parquet annotations and metadata, a
table's extra columns, NIMADS and NiMARE JSON metadata), and clear errors otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ale_app.errors import InputDataError
from ale_app.inputs.evidence import load_evidence
from ale_app.inputs.readers import read_input
from ale_app.inputs.readers.analysis_columns import value_text
from ale_app.spec.models import ALESpec, InputSpec
from ale_app.spec.v2 import AnalysisSpecV2, group_input

NBACK = "nimare:nback_vs_flanker_studyset_2026-07"


def group(input_: dict, where: dict | None = None, name: str = "one", **select) -> InputSpec:
    """The input of group ``name`` of a version-2 spec that selects from ``input_``."""
    chosen = {"where": where} if where is not None else select
    spec = AnalysisSpecV2.model_validate({
        "spec_version": 2, "input": input_,
        "groups": {name: {"select": chosen or None}, "other": {}},
        "contrast": {"groups": [name, "other"]},
    })
    return group_input(spec, name)


def load(input_spec: InputSpec, folder: Path, name: str = "one", **ale):
    return load_evidence(input_spec, folder, ALESpec(**ale), field=f"groups.{name}")


def refused(input_spec: InputSpec, folder: Path, name: str = "one", **ale) -> InputDataError:
    with pytest.raises(InputDataError) as info:
        load(input_spec, folder, name, **ale)
    assert info.value.exit_code == 65
    return info.value


# --------------------------------------------------------------------------- parquet


def test_nback_flanker_split_by_comparison_task():
    import pandas as pd
    from nimare.utils import get_resource_path

    folder = Path(get_resource_path()) / NBACK.split(":", 1)[1]
    table = pd.read_parquet(folder / "annotations.parquet", columns=["id", "comparison_task"])
    order = pd.read_parquet(folder / "analyses.parquet", columns=["id"])["id"].tolist()
    task = dict(zip(table["id"], table["comparison_task"]))
    source = {"path": NBACK, "outside_field_of_view": "keep"}
    found = {}
    for name, value in (("nback", "n-back"), ("flanker", "flanker")):
        spec = group(source, {"column": "comparison_task", "values": [value]}, name=name)
        ev = load(spec, Path("."), name, sample_size=20)
        assert ev.ids == [i for i in order if task[i] == value]  # file order
        found[name] = ev.ids
    assert (len(found["nback"]), len(found["flanker"])) == (500, 406)
    assert not set(found["nback"]) & set(found["flanker"])


def test_parquet_columns_are_read_only_when_asked_for():
    from nimare.utils import get_resource_path

    read = read_input(Path(get_resource_path()) / NBACK.split(":", 1)[1], "parquet")
    columns = read.columns
    assert columns._columns == {} and columns._table is None  # nothing read yet
    assert "comparison_task" in columns.names and "study_name" in columns.names
    assert "id" not in columns.names and "contrast_id" not in columns.names
    values = columns.column("comparison_task")
    assert sorted(set(values.values())) == ["flanker", "n-back"] and len(values) == 906
    assert list(columns._columns) == ["comparison_task"] and columns._table is None


def test_parquet_unknown_column_and_value_are_named():
    source = {"path": NBACK, "outside_field_of_view": "keep"}
    error = refused(group(source, {"column": "comparison_tsk", "values": ["n-back"]}), Path("."),
                    sample_size=20)
    assert error.message.startswith("groups.one.select.where.column is 'comparison_tsk', but "
                                    f"'{NBACK}' has no such column (did you mean 'comparison_task'?)")
    assert "'matched_task_names'" in error.message and "... and " in error.message
    assert "annotations.parquet and metadata.parquet" in error.hint
    error = refused(group(source, {"column": "comparison_task", "values": ["n-back", "nback"]}),
                    Path("."), sample_size=20)
    assert error.message == (f"groups.one.select.where.values 'nback' matches no analysis in '{NBACK}'; "
                             "column 'comparison_task' holds 'n-back' (500), 'flanker' (406).")


# --------------------------------------------------------------------------- TSV / CSV

HEADER = ["study_id", "analysis_id", "x", "y", "z", "space", "sample_size", "Group", "site"]
ROWS = [
    ("A", "a1", -42, -52, -18, "MNI", 12, "young", "Leeds"),
    ("B", "b1", 44, -48, -20, "MNI", 14, "old", "Bonn"),
    ("A", "a1", 30, 20, 10, "MNI", 12, "young", "Leeds"),
    ("C", "c1", -10, 20, 30, "MNI", 9, "young", "Bonn"),
    ("D", "d1", 10, -60, 40, "MNI", 20, "old", "Bonn"),
    ("E", "e1", 0, 10, 50, "TAL", 16, "young", "Oslo"),
    ("C", "c1", 20, 0, 40, "MNI", 9, "young", "Bonn"),
]


def write_table(folder: Path, rows=ROWS, header=HEADER, name: str = "groups.tsv") -> str:
    sep = "," if name.endswith(".csv") else "\t"
    lines = [sep.join(header)] + [sep.join(map(str, row)) for row in rows]
    (folder / name).write_text("\n".join(lines) + "\n")
    return name


def test_table_group_column_selects_in_file_order(tmp_path):
    name = write_table(tmp_path)
    ev = load(group({"path": name}, {"column": "Group", "values": ["young"]}), tmp_path)
    assert ev.ids == ["A-a1", "C-c1", "E-e1"]
    assert len(ev.coordinates) == 5 and ev.sample_sizes == {"A-a1": 12, "C-c1": 9, "E-e1": 16}
    ev = load(group({"path": name}, {"column": "Group", "values": ["old", "young"]}), tmp_path)
    assert ev.ids == ["A-a1", "B-b1", "C-c1", "D-d1", "E-e1"]
    csv = write_table(tmp_path, name="groups.csv")
    assert load(group({"path": csv}, {"column": "Group", "values": ["old"]}), tmp_path).ids == ["B-b1", "D-d1"]


def test_table_attributes(tmp_path):
    read = read_input(tmp_path / write_table(tmp_path), "tsv")
    # Issue 38: the study, analysis, space and sample size columns describe analyses too.
    assert read.columns.names == ["study_id", "analysis_id", "space", "sample_size", "Group", "site"]
    assert read.attributes["A-a1"] == {"study_id": "A", "analysis_id": "a1", "space": "MNI", "sample_size": "12",
                                       "Group": "young", "site": "Leeds"}
    assert read.columns.varying("site") is None
    # Issue #24 changed this on purpose: a table's extra columns are no longer refused (they
    # used to be, outside a version-2 group); they describe analyses, and unused ones are noted.
    assert read.table_columns == ["Group", "site"]


def test_table_column_that_varies_within_an_analysis(tmp_path):
    rows = [*ROWS[:6], ("C", "c1", 20, 0, 40, "MNI", 9, "young", "Oslo")]
    name = write_table(tmp_path, rows)
    error = refused(group({"path": name}, {"column": "site", "values": ["Bonn"]}), tmp_path)
    assert error.message == (
        "groups.one.select.where.column 'site' of 'groups.tsv' differs within one analysis (analysis "
        "'C-c1' has 'Bonn' on line 5 and 'Oslo' on line 8), so it cannot select analyses.")
    # The other columns still select.
    assert load(group({"path": name}, {"column": "Group", "values": ["old"]}), tmp_path).ids == ["B-b1", "D-d1"]


def test_table_unknown_column_and_value(tmp_path):
    name = write_table(tmp_path)
    error = refused(group({"path": name}, {"column": "group", "values": ["young"]}), tmp_path)
    assert error.message == ("groups.one.select.where.column is 'group', but 'groups.tsv' has no such column "
                             "(did you mean 'Group'?); its 6 columns are 'study_id', 'analysis_id', 'space', "
                             "'sample_size', 'Group', 'site'.")
    assert "beside" not in error.hint and "but the coordinates" in error.hint
    error = refused(group({"path": name}, {"column": "Group", "values": ["yung", "old", "middle"]}), tmp_path)
    assert error.message == ("groups.one.select.where.values 'yung', 'middle' match no analysis in "
                             "'groups.tsv'; column 'Group' holds 'young' (3), 'old' (2).")
    assert "compared as text, exactly" in error.hint


def test_table_empty_cells_have_no_value(tmp_path):
    rows = [r[:7] + ("" if r[0] == "D" else r[7], r[8]) for r in ROWS]
    name = write_table(tmp_path, rows)
    error = refused(group({"path": name}, {"column": "Group", "values": ["middle"]}), tmp_path)
    assert error.message.endswith("column 'Group' holds 'young' (3), 'old' (1); 1 analysis has no value.")


def test_selection_of_one_analysis_names_the_group_field(tmp_path):
    name = write_table(tmp_path)
    error = refused(group({"path": name}, {"column": "site", "values": ["Oslo"]}, name="few"), tmp_path, "few")
    assert error.message == "The selection from 'groups.tsv' has 1 experiment; ALE needs at least 2."
    assert error.hint == "Add experiments to the input, or select more with groups.few.select."


def test_group_field_in_first_and_ids_messages(tmp_path):
    name = write_table(tmp_path)
    error = refused(group({"path": name}, first=9), tmp_path)
    assert error.message == "groups.one.select.first is 9, but the input has only 5 analyses."
    assert error.hint == "Use a number from 2 to 5, or remove groups.one.select."
    error = refused(group({"path": name}, ids=["A-a1", "Z-z1"]), tmp_path)
    assert error.message == "groups.one.select.ids names analyses that are not in the input: 'Z-z1'."
    # A group may keep a table's descriptive columns without selecting by them.
    assert load(group({"path": name}), tmp_path).ids == ["A-a1", "B-b1", "C-c1", "D-d1", "E-e1"]


def test_version_1_messages_are_unchanged(tmp_path):
    name = write_table(tmp_path, [r[:7] for r in ROWS], HEADER[:7])
    with pytest.raises(InputDataError) as info:
        load_evidence(InputSpec(path=name, select={"first": 9}), tmp_path, ALESpec())
    assert info.value.message == "input.select.first is 9, but the input has only 5 analyses."
    assert info.value.hint == "Use a number from 2 to 5, or remove input.select."
    with pytest.raises(InputDataError) as info:
        load_evidence(InputSpec(path=name, select={"ids": ["A-a1", "Z-z1"]}), tmp_path, ALESpec())
    assert info.value.message == "input.select.ids names analyses that are not in the input: 'Z-z1'."
    # Version 1 used to refuse a column it does not know; since issue #24 it ignores it, with a note.
    ev = load_evidence(InputSpec(path=write_table(tmp_path)), tmp_path, ALESpec())
    assert ev.ids == ["A-a1", "B-b1", "C-c1", "D-d1", "E-e1"]
    assert ev.notes == ["2 columns of 'groups.tsv' are not read and were ignored: 'Group', 'site' (input.columns "
                        "maps a column to what ale-app reads; select.where can select by one)"]
    assert ev.source["ignored_columns"] == ["Group", "site"]


# --------------------------------------------------------------------------- JSON and Sleuth


def nimads(folder: Path) -> str:
    def analysis(aid, task, n, xyz, **meta):
        return {"id": aid, "name": aid, "metadata": {"sample_sizes": [n], "task": task, **meta},
                "points": [{"space": "MNI", "coordinates": list(xyz)}]}

    data = {"id": "s", "name": "s", "studies": [
        {"id": "s1", "name": "s1", "metadata": {"site": "Leeds", "year": 2010}, "analyses": [
            analysis("a", "n-back", 12, (-42, -52, -18), load=2),
            analysis("b", "flanker", 12, (44, -48, -20), load=2.5)]},
        {"id": "s2", "name": "s2", "metadata": {"site": "Bonn", "year": 2012}, "analyses": [
            analysis("a", "n-back", 20, (30, 20, 10), site="Oslo", blocked=True),
            analysis("b", "flanker", 20, (-10, 20, 30), blocked=False)]},
        {"id": "s3", "name": "s3", "analyses": [analysis("a", "n-back", 9, (10, -60, 40))]},
    ]}
    (folder / "set.json").write_text(json.dumps(data))
    return "set.json"


def test_nimads_analysis_and_study_metadata(tmp_path):
    name = nimads(tmp_path)
    def ids(column, *values):
        return load(group({"path": name}, {"column": column, "values": list(values)}), tmp_path).ids
    assert ids("task", "n-back") == ["s1-a", "s2-a", "s3-a"]
    assert ids("site", "Leeds", "Oslo") == ["s1-a", "s1-b", "s2-a"]  # the analysis's own key wins
    assert ids("year", "2010", "2012") == ["s1-a", "s1-b", "s2-a", "s2-b"]
    assert ids("load", "2", "2.5") == ["s1-a", "s1-b"] and ids("blocked", "true", "false") == ["s2-a", "s2-b"]
    read = read_input(tmp_path / name, "nimads")
    assert read.attributes["s1-b"] == {"site": "Leeds", "year": "2010", "task": "flanker", "load": "2.5"}
    assert read.attributes["s1-a"]["load"] == "2" and read.attributes["s3-a"] == {"task": "n-back"}
    assert read.attributes["s2-a"]["blocked"] == "true" and "sample_sizes" not in read.attributes["s2-a"]
    error = refused(group({"path": name}, {"column": "sample_sizes", "values": ["12"]}), tmp_path)
    assert "has no such column" in error.message and "'task'" in error.message
    assert "'metadata'" in error.hint


def test_nimare_json_contrast_metadata(tmp_path):
    def contrast(x, task):
        return {"coords": {"space": "MNI", "x": [x], "y": [-50], "z": [-18]},
                "metadata": {"sample_sizes": [12], "task": task}}

    data = {"s1": {"contrasts": {"1": contrast(-42, "n-back"), "2": contrast(42, "flanker")}},
            "s2": {"contrasts": {"1": contrast(-40, "n-back")}},
            "s3": {"contrasts": {"1": contrast(40, "flanker")}}}
    (tmp_path / "d.json").write_text(json.dumps(data))
    spec = group({"path": "d.json"}, {"column": "task", "values": ["flanker"]})
    assert load(spec, tmp_path).ids == ["s1-2", "s3-1"]


def test_sleuth_has_no_columns(tmp_path):
    (tmp_path / "s.txt").write_text("// Reference=MNI\n// A 2010: x\n// Subjects=12\n10\t20\t30\n\n"
                                    "// B 2011: y\n// Subjects=14\n-10\t20\t30\n")
    error = refused(group({"path": "s.txt"}, {"column": "task", "values": ["x"]}), tmp_path)
    assert error.message == ("groups.one.select.where selects by column 'task', but 's.txt' is a Sleuth "
                             "file, which has no columns that describe analyses.")
    assert error.hint == "Select by ids (groups.one.select.ids), or give each group its own file."


def test_value_text():
    import numpy as np

    assert [value_text(v) for v in ("a", 3, 3.0, 2.5, True, np.int64(4), np.float64(20.0), np.bool_(False))] \
        == ["a", "3", "3", "2.5", "true", "4", "20", "false"]
    assert [value_text(v) for v in (None, float("nan"), [1], {"a": 1}, np.array([1, 2]))] == [None] * 5


# --------------------------------------------------------------------------- mapped columns (issue 38)

XU_HEADER = ["citation", "n", "x", "y", "z", "space", "contrast"]
XU_ROWS = [
    ("Xu 2020", 30, -40, 20, 10, "MNI", "pain_pat_con"),
    ("Xu 2020", 30, 42, 18, 8, "MNI", "pain_con_pat"),
    ("Li 2019", 18, -38, 22, 12, "MNI", "pain_pat_con"),
    ("Xu 2020", 30, -20, -60, 40, "MNI", "pain_pat_con"),
    ("Li 2019", 18, 40, 16, 6, "TAL", "pain_con_pat"),
    ("Ng 2021", 25, 0, 10, 50, "MNI", "pain_pat_con"),
    ("Ng 2021", 25, 2, 12, 48, "MNI", "pain_con_pat"),
]
XU_COLUMNS = {"study": "citation", "analysis": "contrast", "sample_size": "n"}


def test_where_names_the_column_mapped_to_analysis(tmp_path):
    """The two directions of one study (one citation) split by the column that names the
    contrast, one where per group, under the name the table gives that column."""
    name = write_table(tmp_path, XU_ROWS, XU_HEADER, "xu.csv")
    source = {"path": name, "columns": XU_COLUMNS}
    pat = load(group(source, {"column": "contrast", "values": ["pain_pat_con"]}, name="pat"), tmp_path, "pat")
    con = load(group(source, {"column": "contrast", "values": ["pain_con_pat"]}, name="con"), tmp_path, "con")
    assert pat.ids == ["Xu 2020-pain_pat_con", "Li 2019-pain_pat_con", "Ng 2021-pain_pat_con"]
    assert con.ids == ["Xu 2020-pain_con_pat", "Li 2019-pain_con_pat", "Ng 2021-pain_con_pat"]
    assert pat.sample_sizes == {"Xu 2020-pain_pat_con": 30, "Li 2019-pain_pat_con": 18, "Ng 2021-pain_pat_con": 25}
    xu = pat.coordinates[pat.coordinates["analysis_id"] == "Xu 2020-pain_pat_con"]
    assert xu[["x", "y", "z"]].to_numpy().tolist() == [[-40, 20, 10], [-20, -60, 40]]
    assert con.coordinates[["x", "y", "z"]].to_numpy()[0].tolist() == [42, 18, 8]
    assert len(con.coordinates) == 3 and con.conversions[0]["Analyses"] == ["Li 2019-pain_con_pat"]
    # The study column selects by its own header too; the selected column is not called ignored.
    li = load(group(source, {"column": "citation", "values": ["Li 2019", "Ng 2021"]}), tmp_path)
    assert li.ids == ["Li 2019-pain_pat_con", "Li 2019-pain_con_pat", "Ng 2021-pain_pat_con", "Ng 2021-pain_con_pat"]
    assert li.notes == [] and "ignored_columns" not in li.source
    # A column that does not exist: the message lists every column that can be named.
    error = refused(group(source, {"column": "x", "values": ["1"]}), tmp_path)
    assert error.message == ("groups.one.select.where.column is 'x', but 'xu.csv' has no such column; its 4 "
                             "columns are 'citation', 'n', 'space', 'contrast'.")


def test_two_directions_of_one_table_validate_end_to_end(tmp_path, capsys):
    from ale_app.cli import main

    write_table(tmp_path, XU_ROWS, XU_HEADER, "xu.csv")
    spec = {"spec_version": 2, "input": {"path": "xu.csv", "columns": XU_COLUMNS},
            "groups": {"patcon": {"select": {"where": {"column": "contrast", "values": ["pain_pat_con"]}}},
                       "conpat": {"select": {"where": {"column": "contrast", "values": ["pain_con_pat"]}}}},
            "contrast": {"groups": ["patcon", "conpat"]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    assert main([str(tmp_path / "spec.json"), "--validate-only", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "x Xu 2020-pain_con_pat" in printed and "x Xu 2020-pain_pat_con" in printed
    assert printed.count("experiments: 3; studies: 3; foci: 4") == 1  # patcon
    assert printed.count("experiments: 3; studies: 3; foci: 3") == 1  # conpat
