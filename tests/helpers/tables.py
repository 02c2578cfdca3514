"""A coordinate table as users keep one, written by hand: its header and rows (a paper's own
column names and extra columns), the column mapping and the experiment ids they give, the
workbook and the CSV it would be saved as, and ``--validate-only`` runs of a spec."""

from __future__ import annotations

from pathlib import Path

import yaml

from ale_app.cli import main

HEADER = ["publication", "contrast", "X", "Y", "Z", "Space", "n", "Diagnosis", "title", "doi", "dyads", "notes"]
ROWS = [
    ["Smith 2010", "faces", -42.12345678901234, 18.5, 6, "MNI", 12, "patients", "Faces", "10.1/a", 3, ""],
    ["Smith 2010", "faces", 40.0, -50.25, 2, "MNI", 12, "patients", "Faces", "10.1/a", 3, "check"],
    ["Lee 2014", "words", -38.00000000000001, 20, -16, "MNI", 15, "controls", "Words", "10.1/b", 1, ""],
    ["Kim 2012", "faces", 30, 22, 8, "TAL", 10, "patients", "Faces 2", "10.1/c", 2, ""],
    ["Park 2016", "tones", -20, -60, 30, "MNI", 18, "controls", "Tones", "10.1/d", 2, ""],
]
MAPPING = {"study": "publication", "analysis": "contrast", "sample_size": "n"}
IDS = ["Smith 2010-faces", "Lee 2014-words", "Kim 2012-faces", "Park 2016-tones"]


def write_csv(folder: Path, name: str = "papers.csv", header=HEADER, rows=ROWS) -> str:
    lines = [",".join(header)] + [",".join(_csv_cell(v) for v in row) for row in rows]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return name


def _csv_cell(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def write_xlsx(folder: Path, name: str = "papers.xlsx", sheets: dict | None = None) -> str:
    """A workbook; ``sheets`` maps sheet names to rows (the first is the first sheet)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in (sheets or {"Foci": [HEADER, *ROWS]}).items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(folder / name)
    return name


def run(folder: Path, spec: dict, capsys, *options: str) -> tuple[int, str, str]:
    """``ale-app SPEC OUT --validate-only`` in-process; returns (exit code, stdout, the error message)."""
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump({"spec_version": 1, **spec}, sort_keys=False), encoding="utf-8")
    code = main([str(path), str(folder / "out"), "--validate-only", "-q", *options])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    start = captured.err.find("ale-app: error: ")
    message = captured.err[start + len("ale-app: error: "):].rstrip() if start >= 0 else ""
    assert not (folder / "out").exists()
    return code, captured.out, message
