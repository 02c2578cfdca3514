"""Issue #24, part 1: tables as users keep them, through the command line.

Hand-written small files: an Excel workbook (written here with openpyxl) and the CSV it
would be saved as, a paper's CSV with its own header names and extra columns, header
problems, an old .xls and other binaries, a group column to select by, ``select.exclude``,
and ``--validate-only`` listing the ids it read. Each case checks the exit code and the
message (or the printed summary).
"""

from __future__ import annotations

import json

import pytest

from ale_app.inputs.readers import read_input
from ale_app.spec.models import AnalysisSpec
from ale_app.spec.v2 import AnalysisSpecV2

from helpers.tables import HEADER, IDS, MAPPING, ROWS, run, write_csv, write_xlsx


# --------------------------------------------------------------------------- Excel


def test_workbook_gives_the_experiments_of_the_same_csv(tmp_path):
    """An .xlsx sheet and the CSV it would be saved as give the same experiments, to the last bit."""
    from openpyxl import load_workbook

    csv = write_csv(tmp_path)
    rows = [HEADER, [], *ROWS[:2], [None] * 4, *ROWS[2:]]  # empty rows are skipped
    book = write_xlsx(tmp_path, sheets={"Foci": rows, "Notes": [["about these data"]]})
    # The numbers are stored as numbers (not text) in the workbook (openpyxl writes 16 significant digits).
    assert load_workbook(tmp_path / book, read_only=True)["Foci"]["C3"].value == ROWS[0][2]
    from_csv = read_input(tmp_path / csv, "auto", columns=MAPPING)
    from_xlsx = read_input(tmp_path / book, "auto", columns=MAPPING)
    assert (from_csv.format, from_xlsx.format, from_xlsx.sheet) == ("tsv", "xlsx", "Foci")
    assert from_xlsx.ids == from_csv.ids == IDS
    assert from_xlsx.source["studies"] == from_csv.source["studies"]
    points = [p["coordinates"] for s in from_xlsx.source["studies"] for a in s["analyses"] for p in a["points"]]
    assert points[0] == [-42.12345678901234, 18.5, 6.0] and points[2][0] == -38.00000000000001
    assert from_xlsx.attributes == from_csv.attributes
    assert from_xlsx.where["Lee 2014-words"] == "row 6" and from_csv.where["Lee 2014-words"] == "line 4"


def test_workbook_through_the_command_line_says_which_sheet(tmp_path, capsys):
    write_xlsx(tmp_path, sheets={"Foci": [HEADER, *ROWS], "Notes": [["about these data"]]})
    code, out, message = run(tmp_path, {"input": {"path": "papers.xlsx", "columns": MAPPING}}, capsys)
    assert (code, message) == (0, "")
    assert "input: papers.xlsx (format xlsx, sha256 " in out
    assert ("note: read sheet 'Foci', the first of the workbook's 2 sheets ('Foci', 'Notes'); input.sheet names "
            "another\n") in out
    assert "experiments: 4; studies: 4; foci: 5\n" in out and "\nsubjects: 55\n" in out


def test_workbook_sheet_by_name_and_unknown_sheet(tmp_path, capsys):
    write_xlsx(tmp_path, sheets={"Notes": [["about these data"]], "Foci": [HEADER, *ROWS]})
    spec = {"input": {"path": "papers.xlsx", "columns": MAPPING, "sheet": "Foci"}}
    code, out, _ = run(tmp_path, spec, capsys)
    assert code == 0 and "note: read sheet 'Foci' (input.sheet)\n" in out
    spec["input"]["sheet"] = "foci"
    code, _, message = run(tmp_path, spec, capsys)
    assert code == 65
    assert message.startswith("input.sheet is 'foci', but the workbook "
                              f"{str(tmp_path / 'papers.xlsx')!r} has no such sheet (did you mean 'Foci'?); its "
                              "sheets are 'Notes', 'Foci'.\nhint: Name one of its sheets as written")
    # Without input.sheet the first sheet is read, and its header message says which sheet and why.
    del spec["input"]["sheet"]
    code, _, message = run(tmp_path, spec, capsys)
    assert code == 65
    assert message.startswith(
        f"{str(tmp_path / 'papers.xlsx')!r}, row 1: 4 problems in the table's header (sheet 'Notes', the first of "
        "the workbook's 2 sheets ('Notes', 'Foci'); input.sheet names another; its columns are 'about these "
        "data'):\n  1. the table has no column(s) x, y, z, space.\n")


def test_workbook_rows_are_named_as_the_spreadsheet_numbers_them(tmp_path, capsys):
    rows = [HEADER, *ROWS]
    rows[3] = [*ROWS[2][:2], "-38,5", *ROWS[2][3:]]  # a decimal comma typed as text, on spreadsheet row 4
    write_xlsx(tmp_path, sheets={"Foci": rows})
    code, _, message = run(tmp_path, {"input": {"path": "papers.xlsx", "columns": MAPPING}}, capsys)
    assert code == 65
    assert message.startswith("'papers.xlsx', row 4: x = '-38,5' is not a number (study 'Lee 2014').\n"
                              "hint: Use a point as the decimal separator")


def test_workbook_needs_a_header_row(tmp_path, capsys):
    write_xlsx(tmp_path, sheets={"Foci": [[None], [r[2] for r in ROWS[:1]] + [1, 2], *[[1, 2, 3]] * 3]})
    code, _, message = run(tmp_path, {"input": {"path": "papers.xlsx"}}, capsys)
    assert code == 65
    assert message.startswith(f"{str(tmp_path / 'papers.xlsx')!r}, row 2: the table has no header row (sheet "
                              "'Foci'; its first row holds numbers, not column names).\nhint: Add a header row")


def test_old_xls_and_other_binaries_are_refused_with_what_to_do(tmp_path, capsys):
    # The first bytes of every Excel 97-2003 (.xls) file: an OLE2 compound document.
    (tmp_path / "foci.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504)
    code, _, message = run(tmp_path, {"input": {"path": "foci.xls"}}, capsys)
    assert code == 65
    assert message == (
        f"The input file {str(tmp_path / 'foci.xls')!r} is an Excel 97-2003 workbook (.xls) or a password-"
        "protected workbook, which ale-app does not read.\nhint: Remove any password, then open it in Excel or "
        "LibreOffice and save it as an Excel workbook (.xlsx) or as CSV (comma-separated, .csv), then point "
        "input.path at that file.")
    import zipfile

    with zipfile.ZipFile(tmp_path / "foci.zip", "w") as archive:
        archive.writestr("foci.csv", "study_id,x,y,z,space\n")
    code, _, message = run(tmp_path, {"input": {"path": "foci.zip"}}, capsys)
    assert code == 65 and message.startswith(
        f"The input file {str(tmp_path / 'foci.zip')!r} is a zip archive, not a coordinate table or an Excel "
        "workbook.\nhint: Unpack it")
    (tmp_path / "renamed.xlsx").write_text(write_csv(tmp_path) and (tmp_path / "papers.csv").read_text())
    code, _, message = run(tmp_path, {"input": {"path": "renamed.xlsx"}}, capsys)
    assert code == 65 and message.startswith(
        f"The input file {str(tmp_path / 'renamed.xlsx')!r} is named like an Excel workbook but is not one")
    write_xlsx(tmp_path)
    code, _, message = run(tmp_path, {"input": {"path": "papers.xlsx", "format": "tsv"}}, capsys)
    assert code == 65 and message == (
        f"The input file {str(tmp_path / 'papers.xlsx')!r} is an Excel workbook, but input.format is 'tsv'.\n"
        "hint: Set input.format to 'xlsx' (or 'auto').")


# --------------------------------------------------------------------------- columns


def test_a_papers_csv_with_its_own_headers_and_extra_columns(tmp_path, capsys):
    write_csv(tmp_path)
    code, out, message = run(tmp_path, {"input": {"path": "papers.csv", "columns": MAPPING}}, capsys)
    assert (code, message) == (0, "")
    assert ("note: 5 columns of 'papers.csv' are not read and were ignored: 'Diagnosis', 'title', 'doi', 'dyads', "
            "'notes' (input.columns maps a column to what ale-app reads; select.where can select by one)\n") in out
    assert "spaces: MNI 4 foci, TAL 1 focus\n" in out


def test_every_header_problem_in_one_message(tmp_path, capsys):
    header = ["publication", "X", "Y", "Y", "Space", "n", "notes"]
    write_csv(tmp_path, header=header, rows=[["A", 1, 2, 3, "MNI", 10, ""]])
    spec = {"input": {"path": "papers.csv", "columns": {"study": "publication", "analysis": "publication",
                                                        "sample_size": "N_subjects"}}}
    code, _, message = run(tmp_path, spec, capsys)
    assert code == 65
    assert message == (
        f"{str(tmp_path / 'papers.csv')!r}, line 1: 4 problems in the table's header (read as comma-separated; its "
        "columns are 'publication', 'X', 'Y', 'Y', 'Space', 'n', 'notes'):\n"
        "  1. the table has no column(s) z.\n"
        "  2. the column 'Y' (y) is in the header 2 times (columns 3 and 4); ale-app cannot tell which to read.\n"
        "  3. input.columns.sample_size is 'N_subjects', but the table has no such column (did you mean 'n'?).\n"
        "  4. the column 'publication' is read for 2 roles: study (mapped), analysis (mapped).\n"
        "hint: Name the table's own headers with input.columns, e.g. columns: {study: publication, sample_size: n}; "
        "without it the header needs study_id, x, y, z, space and optionally analysis_id and sample_size; a .tsv "
        "file is tab-separated and a .csv file comma-separated.")


def test_missing_columns_suggest_the_tables_own(tmp_path, capsys):
    write_csv(tmp_path)
    code, _, message = run(tmp_path, {"input": {"path": "papers.csv"}}, capsys)
    assert code == 65
    assert message.startswith(
        f"{str(tmp_path / 'papers.csv')!r}, line 1: the table has no column(s) study_id (if 'publication' is meant, "
        "map: input.columns: {study: publication}) (read as comma-separated; its columns are 'publication', "
        "'contrast', 'X', 'Y', 'Z', 'Space', 'n', 'Diagnosis', 'title', 'doi', 'dyads', 'notes').\nhint: Name the "
        "table's own headers with input.columns")


def test_ignored_subjects_column_is_named_when_sample_sizes_are_missing(tmp_path, capsys):
    header = ["study_id", "x", "y", "z", "space", "Subjects"]
    write_csv(tmp_path, header=header, rows=[["A", 1, 2, 3, "MNI", 10], ["B", 4, 5, 6, "MNI", 12]])
    code, _, message = run(tmp_path, {"input": {"path": "papers.csv"}}, capsys)
    assert code == 65
    assert message.startswith("2 of 2 experiments in 'papers.csv' have no sample size: 'A-analysis_1' (line 2), "
                              "'B-analysis_1' (line 3).\nhint: ")
    assert message.endswith("\n      The table's 'Subjects' was ignored; if it holds the number of subjects, map it: "
                            "input.columns: {sample_size: Subjects}.")
    spec = {"input": {"path": "papers.csv", "columns": {"sample_size": "subjects"}}}  # any case
    assert run(tmp_path, spec, capsys)[:3:2] == (0, "")


def test_columns_go_with_tables_only(tmp_path, capsys):
    (tmp_path / "two.txt").write_text("// Reference=MNI\n// A\n// Subjects=10\n1 2 3\n\n// B\n// Subjects=9\n4 5 6\n")
    code, _, message = run(tmp_path, {"input": {"path": "two.txt", "columns": {"study": "x"}}}, capsys)
    assert code == 65 and message.startswith(
        f"input.columns is given, but {str(tmp_path / 'two.txt')!r} is read as sleuth, not a table.")


# --------------------------------------------------------------------------- select


def test_group_column_selects_in_version_1(tmp_path, capsys):
    write_xlsx(tmp_path)
    spec = {"input": {"path": "papers.xlsx", "columns": {**MAPPING, "group": "Diagnosis"},
                      "select": {"where": {"column": "group", "values": ["patients"]}}}}
    code, out, message = run(tmp_path, spec, capsys)
    assert (code, message) == (0, "")
    assert "'Diagnosis'" not in out  # the group column is read, not ignored
    assert ("ids read: 4 in file order (2 selected; x marks the 2 input.select leaves out):\n    Smith 2010-faces\n"
            "  x Lee 2014-words\n    Kim 2012-faces\n  x Park 2016-tones\n") in out
    spec["input"]["select"]["where"]["values"] = ["patient"]
    code, _, message = run(tmp_path, spec, capsys)
    assert code == 65 and message.startswith(
        "input.select.where.values 'patient' matches no analysis in 'papers.xlsx'; column 'group' ('Diagnosis') "
        "holds 'controls' (2), 'patients' (2).")


def test_two_groups_from_one_workbooks_group_column(tmp_path, capsys):
    write_xlsx(tmp_path)
    spec = {"spec_version": 2, "input": {"path": "papers.xlsx", "columns": {**MAPPING, "group": "Diagnosis"}},
            "groups": {"patients": {"select": {"where": {"column": "group", "values": ["patients"]}}},
                       "controls": {"select": {"where": {"column": "Diagnosis", "values": ["controls"]}}}},
            "contrast": {"groups": ["patients", "controls"]}}
    code, out, message = run(tmp_path, spec, capsys)
    assert (code, message) == (0, "")
    assert "group patients:\n" in out and "  ids read: 4 in file order (2 selected; x marks the 2 groups.patients." \
        "select leaves out):\n" in out
    spec["input"]["columns"]["sample_size"] = "N_subj"
    code, _, message = run(tmp_path, spec, capsys)
    assert code == 65 and (f"group 'patients': {str(tmp_path / 'papers.xlsx')!r}, row 1: input.columns.sample_size is 'N_subj', but the "
                           "table has no such column (did you mean 'n'?) (sheet 'Foci'; its columns are") in message


def test_select_exclude(tmp_path, capsys):
    write_csv(tmp_path)
    spec = {"input": {"path": "papers.csv", "columns": MAPPING, "select": {"exclude": ["Kim 2012-faces"]}}}
    code, out, message = run(tmp_path, spec, capsys)
    assert (code, message) == (0, "")
    assert "experiments: 3; studies: 3; foci: 4\n" in out and "  x Kim 2012-faces\n" in out
    spec["input"]["select"]["exclude"] = ["Kim 2012-faces", "Kim 2021-faces", "Lee 2014"]
    code, _, message = run(tmp_path, spec, capsys)
    assert code == 65
    assert message.startswith("input.select.exclude names analyses that are not in the input: 'Kim 2021-faces', "
                              "'Lee 2014'.\nhint: Ids are '<study id>-<analysis id>' as in the input, e.g. Smith "
                              "2010-faces, Lee 2014-words, Kim 2012-faces, Park 2016-tones; 'ale-app SPEC OUT "
                              "--validate-only' lists them.")
    spec["input"]["select"] = {"first": 2, "exclude": ["Park 2016-tones"]}
    code, _, message = run(tmp_path, spec, capsys)
    assert code == 65 and message.startswith(
        "input.select.exclude names analyses that input.select.first does not keep, so excluding them changes "
        "nothing: 'Park 2016-tones'.")
    spec["input"]["select"] = {"ids": IDS[:3], "exclude": IDS[2:]}
    code, _, message = run(tmp_path, spec, capsys)
    assert code == 65 and "'ids' and 'exclude' both list 'Kim 2012-faces'" in message
    spec["input"]["select"] = {"exclude": IDS[:3]}
    code, _, message = run(tmp_path, spec, capsys)
    assert code == 65 and message.startswith("The selection from 'papers.csv' has 1 experiment; ALE needs at least 2.")


def test_validate_only_lists_the_ids_it_read_and_shortens_a_long_list(tmp_path, capsys):
    rows = [[f"S{i:03d}", "c", 10, 20, 30, "MNI", 10, "", "", "", "", ""] for i in range(70)]
    write_csv(tmp_path, rows=rows)
    code, out, message = run(tmp_path, {"input": {"path": "papers.csv", "columns": MAPPING}}, capsys)
    assert (code, message) == (0, "")
    listed = out.split("ids read: ", 1)[1].splitlines()
    assert listed[0] == "70 in file order (all selected):"
    assert listed[1:31] == [f"  S{i:03d}-c" for i in range(30)]
    assert listed[31] == "  ... and 40 more; the last is S069-c"
    assert listed[32].startswith("estimate: expected to take about ")
    assert listed[33] == "nothing written (--validate-only)"


# --------------------------------------------------------------------------- records


def test_unset_new_keys_stay_out_of_spec_json():
    """An archived spec.json (written before these keys existed) re-runs to the same bytes."""
    v1 = AnalysisSpec.model_validate({"spec_version": 1, "input": {"path": "a.tsv", "select": {"first": 3}}})
    assert v1.record()["input"] == {"path": "a.tsv", "format": "auto", "select": {"first": 3, "ids": None},
                                    "outside_field_of_view": "error"}
    v2 = AnalysisSpecV2.model_validate({"spec_version": 2, "groups": {"a": {"path": "a.tsv"}, "b": {
        "path": "b.xlsx", "sheet": "Foci", "select": {"exclude": ["x-y"]}}}, "contrast": {"groups": ["a", "b"]}})
    groups = json.loads(json.dumps(v2.record()))["groups"]
    assert groups["a"] == {"path": "a.tsv", "format": None, "select": None, "outside_field_of_view": None}
    assert groups["b"]["sheet"] == "Foci" and groups["b"]["select"] == {"first": None, "ids": None, "where": None,
                                                                        "exclude": ["x-y"]}


def test_group_without_path_refuses_file_keys():
    with pytest.raises(ValueError, match="group 'a': 'columns' and 'sheet' go with 'path'"):
        AnalysisSpecV2.model_validate({"spec_version": 2, "input": {"path": "t.csv"}, "groups": {
            "a": {"columns": {"study": "p"}, "sheet": "S"}, "b": {}}, "contrast": {"groups": ["a", "b"]}})


def test_a_hidden_first_sheet_that_is_read_is_said_to_be_hidden(tmp_path, capsys):
    from openpyxl import load_workbook

    write_xlsx(tmp_path, sheets={"Old foci": [HEADER, *ROWS], "Foci": [HEADER, *ROWS[:2]]})
    book = load_workbook(tmp_path / "papers.xlsx")
    book["Old foci"].sheet_state = "hidden"
    book.active = 1
    book.save(tmp_path / "papers.xlsx")
    code, out, message = run(tmp_path, {"input": {"path": "papers.xlsx", "columns": MAPPING}}, capsys)
    assert (code, message) == (0, "")
    assert "note: read sheet 'Old foci', the first of the workbook's 2 sheets ('Old foci', 'Foci'); input.sheet " \
           "names another (hidden in Excel)\n" in out
    assert (f"the workbook {str(tmp_path / 'papers.xlsx')!r}'s first sheet, 'Old foci', which was read, is hidden "
            "in Excel: its rows are analysed although the workbook does not show them (visible sheets: 'Foci'); "
            "name the sheet to read with input.sheet") in out
    # Named on purpose, it is read without the warning (the note still says it is hidden).
    code, out, message = run(tmp_path, {"input": {"path": "papers.xlsx", "columns": MAPPING, "sheet": "Old foci"}},
                             capsys)
    assert code == 0 and "note: read sheet 'Old foci' (input.sheet) (hidden in Excel)\n" in out
    assert "which was read, is hidden" not in out


def test_a_sheet_with_format_tsv_on_a_workbook_says_it_is_a_workbook(tmp_path, capsys):
    write_xlsx(tmp_path)
    code, _, message = run(tmp_path, {"input": {"path": "papers.xlsx", "format": "tsv", "sheet": "Foci",
                                                "columns": MAPPING}}, capsys)
    assert code == 65
    assert message == (f"The input file {str(tmp_path / 'papers.xlsx')!r} is an Excel workbook, but input.format is "
                       "'tsv' (a text table), which has no sheets for input.sheet to name.\nhint: Set input.format "
                       "to 'xlsx' (or 'auto'); input.sheet then names the sheet to read.")
    write_csv(tmp_path)
    code, _, message = run(tmp_path, {"input": {"path": "papers.csv", "format": "tsv", "sheet": "Foci",
                                                "columns": MAPPING}}, capsys)
    assert code == 65 and message.startswith(f"input.sheet is given, but {str(tmp_path / 'papers.csv')!r} is read "
                                             "as a text table (format 'tsv'), which has no sheets.")
