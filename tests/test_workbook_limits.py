"""Issue #37, item 1: a workbook is bounded by what it expands to, not only by its file size.

Hostile workbooks are built here: a small valid workbook written by openpyxl, then rewritten
with one part replaced by megabytes of compressed bytes that expand past a limit (a comment in
``xl/styles.xml``, spaces or empty cells in the sheet), or with a central directory that lies
about a part's size, or with a part that is not XML. Each is refused with exit 65 naming the
part and the limit (never exit 1), before openpyxl parses it; through the command line the
refusal leaves no output, and its time and peak memory are measured (generous bounds: the
refusal takes about a second and about 100 MB, what ale-app takes to start). Telling a zip
archive from an OpenDocument spreadsheet reads only the first bytes of its ``mimetype``.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from ale_app.errors import InputDataError
from ale_app.inputs.readers import read_input
from ale_app.inputs.readers import workbook_limits as L
from ale_app.inputs.readers.workbook_limits import check_workbook_limits

from conftest import ale_app_command, offline
from helpers.tables import HEADER, IDS, MAPPING, run, write_xlsx

MiB = 1 << 20
#: Generous: every refusal here takes well under a second; the bound only catches a slow path.
BOUND_S = 30.0
#: Peak memory of the refusing process, far below what expanding the part would take.
BOUND_RSS_MB = 1000
SHEET = "xl/worksheets/sheet1.xml"
STYLES = "xl/styles.xml"


def _part(book: Path, name: str) -> bytes:
    with zipfile.ZipFile(book) as archive:
        return archive.read(name)


def _rewrite(book: Path, name: str, head: bytes, filler: bytes = b"", count: int = 0, tail: bytes = b"",
             parts: dict[str, bytes] | None = None) -> Path:
    """``book`` with its part ``name`` replaced by ``head + filler * count + tail``, written in
    blocks (the expanded part is never held in memory; deflate shrinks it a thousandfold), and
    the small ``parts`` replaced or added."""
    target = book.with_name(book.stem + "-rewritten.xlsx")
    block = max(1, MiB // max(1, len(filler)))
    parts = dict(parts or {})
    with zipfile.ZipFile(book) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as new:
        for info in old.infolist():
            if info.filename != name:
                new.writestr(info, parts.pop(info.filename, None) or old.read(info))
                continue
            part = zipfile.ZipInfo(name)
            part.compress_type = zipfile.ZIP_DEFLATED
            with new.open(part, "w", force_zip64=True) as out:
                out.write(head)
                for start in range(0, count, block):
                    out.write(filler * min(block, count - start))
                out.write(tail)
        for added, content in parts.items():
            new.writestr(added, content)
    return target


def _with_shared_strings(book: Path) -> Path:
    """``book`` as Excel writes it: its header row's text in a shared strings part."""
    sheet = _part(book, SHEET)
    header = [b"<is><t>" + name.encode() + b"</t></is>" for name in HEADER]
    strings = b"".join(b"<si><t>" + name.encode() + b"</t></si>" for name in HEADER)
    for i, cell in enumerate(header):
        assert sheet.count(cell) == 1
        sheet = sheet.replace(b't="inlineStr">' + cell, b't="s"><v>' + str(i).encode() + b"</v>")
    manifest = _part(book, "[Content_Types].xml").replace(b"</Types>", (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        b'spreadsheetml.sharedStrings+xml" /></Types>'))
    rels = _part(book, "xl/_rels/workbook.xml.rels").replace(b"</Relationships>", (
        b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
        b'Target="sharedStrings.xml" Id="rIdS" /></Relationships>'))
    sst = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="12">' + strings
           + b"</sst>")
    target = _rewrite(book, SHEET, sheet, parts={"[Content_Types].xml": manifest, "xl/_rels/workbook.xml.rels": rels,
                                                 "xl/sharedStrings.xml": sst})
    return target.rename(book.with_name("excel.xlsx"))


def _sheet_with(book: Path, filler: bytes, count: int) -> Path:
    """The book whose sheet holds ``filler * count`` inside its (otherwise valid) ``sheetData``."""
    sheet = _part(book, SHEET)
    cut = sheet.index(b"</sheetData>")
    return _rewrite(book, SHEET, sheet[:cut], filler, count, sheet[cut:])


def _declare(book: Path, name: str, size: int) -> Path:
    """``book`` with the uncompressed size its central directory declares for ``name`` set to
    ``size`` (a lie; the data and its CRC are unchanged)."""
    data = bytearray(book.read_bytes())
    with zipfile.ZipFile(book) as archive:
        start = archive.start_dir
    encoded = name.encode()
    at = data.index(b"PK\x01\x02", start)
    while data[at + 46:at + 46 + len(encoded)] != encoded or struct.unpack_from("<H", data, at + 28)[0] != len(encoded):
        at = data.index(b"PK\x01\x02", at + 4)
    assert struct.unpack_from("<I", data, at + 24)[0] != 0xFFFFFFFF  # not a zip64 entry
    struct.pack_into("<I", data, at + 24, size)
    target = book.with_name("lying.xlsx")
    target.write_bytes(bytes(data))
    return target


def _refusal(path: Path) -> str:
    """The message of the exit-65 refusal of reading ``path``, checked to come within the bound."""
    start = time.monotonic()
    with pytest.raises(InputDataError) as caught:
        read_input(path, "auto", columns=MAPPING)
    assert time.monotonic() - start < BOUND_S
    return caught.value.message


@pytest.fixture
def book(tmp_path) -> Path:
    return tmp_path / write_xlsx(tmp_path)


# --------------------------------------------------------------------------- real workbooks


def test_a_real_workbook_is_within_every_limit_and_reads_as_before(book):
    """openpyxl's workbook, and the same with shared strings as Excel writes them: within every
    limit, the sheet and the shared strings streamed, every other part within the limits of a
    part parsed whole, and read as before."""
    excel = _with_shared_strings(book)
    for path, streamed in ((book, {SHEET}), (excel, {SHEET, "xl/sharedStrings.xml"})):
        with zipfile.ZipFile(path) as archive:
            stats = L._read_parts(archive, archive.infolist(), "x")
            assert STYLES in stats and "xl/theme/theme1.xml" in stats
            assert L._streamed_parts(archive, stats, "x")[0] == streamed
        check_workbook_limits(path)
        assert read_input(path, "auto", columns=MAPPING).ids == IDS
    assert b't="s"' in _part(excel, SHEET)


def test_a_sheet_with_more_tags_than_a_part_parsed_whole_may_have_is_read(book):
    """A sheet is streamed: 1.5 million tags (XML comments here) are within its limits although
    above those of a part parsed whole; the same bytes as the workbook part are refused."""
    padded = _sheet_with(book, b"<!---->", 1_500_000)
    check_workbook_limits(padded)
    assert read_input(padded, "auto", columns=MAPPING).ids == IDS
    # The manifest now names the sheet as the workbook part, which openpyxl parses whole.
    manifest = _part(padded, "[Content_Types].xml").replace(b'PartName="/xl/workbook.xml"',
                                                            b'PartName="/xl/worksheets/sheet1.xml"')
    assert manifest != _part(padded, "[Content_Types].xml")
    moved = _rewrite(padded, "[Content_Types].xml", manifest)
    with pytest.raises(InputDataError, match=r"'xl/worksheets/sheet1\.xml' holds 1,500,\d{3} XML tags, above the "
                       r"500,000 limit for a part read whole \(not a sheet\)"):
        check_workbook_limits(moved)


def test_the_parts_read_whole_are_bounded_together(book):
    """The styles and the document properties, each within the tags of a part read whole (XML
    comments here), are refused together: openpyxl builds a tree of each."""
    styles = _rewrite(book, STYLES, b"", b"<!---->", 300_000, _part(book, STYLES))
    both = _rewrite(styles, "docProps/core.xml", b"", b"<!---->", 300_000, _part(book, "docProps/core.xml"))
    check_workbook_limits(styles)
    assert re.search(r"is a workbook too large when decompressed: the parts that are read whole \(styles, workbook, "
                     r"relationships, \.\.\.\) hold 600,\d{3} XML tags together, above the 500,000 limit\.$",
                     _refusal(both))


def test_what_a_chart_sheet_draws_is_read_whole_and_what_a_worksheet_draws_is_not_read(tmp_path):
    """openpyxl (read-only) parses a chart sheet, its drawing and its chart whole, and never
    reads a worksheet's drawing: 600,000 tags are refused in the first, not in the second."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    book = Workbook()
    sheet = book.active
    for row in (["a", "b"], [1, 2], [3, 4]):
        sheet.append(row)
    charts = []
    for column in (1, 2):
        charts.append(BarChart())
        charts[-1].add_data(Reference(sheet, min_col=column, min_row=1, max_row=3), titles_from_data=True)
    book.create_chartsheet("Chart").add_chart(charts[0])  # drawing2.xml, chart2.xml (written after the sheet's)
    sheet.add_chart(charts[1], "D2")  # drawing1.xml, chart1.xml
    path = tmp_path / "charts.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        stats = L._read_parts(archive, archive.infolist(), "x")
        streamed, _, whole = L._streamed_parts(archive, stats, "x")
    assert streamed == {SHEET}
    assert {"xl/chartsheets/sheet1.xml", "xl/drawings/drawing2.xml", "xl/charts/chart2.xml"} <= whole
    assert not {"xl/drawings/drawing1.xml", "xl/charts/chart1.xml"} & whole
    for drawing, refused in (("xl/drawings/drawing1.xml", False), ("xl/drawings/drawing2.xml", True)):
        padded = _rewrite(path, drawing, b"", b"<!---->", 600_000, _part(path, drawing))
        if refused:
            with pytest.raises(InputDataError, match=f"'{drawing}' holds 600,\\d{{3}} XML tags, above the 500,000 limit"):
                check_workbook_limits(padded)
        else:
            check_workbook_limits(padded)


# --------------------------------------------------------------------------- what a part expands to


def test_styles_that_expand_past_their_limit_are_refused_before_openpyxl_parses_them(book):
    """The issue's stylesheet, scaled down: a comment of 65 MiB in ``xl/styles.xml`` (64 KiB
    compressed) is refused, not parsed (the 2 GiB one ended with OverflowError, exit 1)."""
    styles = _part(book, STYLES)
    hostile = _rewrite(book, STYLES, b"<!--", b" ", 65 * MiB, b"-->" + styles)
    assert hostile.stat().st_size < 2 * MiB
    message = _refusal(hostile)
    assert message == (f"The input file {str(hostile)!r} is a workbook too large when decompressed: its part "
                       "'xl/styles.xml' expands to 65 MiB, above the 64 MiB limit for a part read whole (not a sheet).")


def test_a_sheet_of_spaces_past_the_part_limit_is_refused_by_its_declared_size(book):
    """The issue's sheet of spaces, at 257 MiB (a few hundred KB compressed)."""
    hostile = _sheet_with(book, b" ", 257 * MiB)
    assert hostile.stat().st_size < 5 * MiB
    assert _refusal(hostile) == (
        f"The input file {str(hostile)!r} is a workbook too large when decompressed: its part "
        f"'{SHEET}' declares 257 MiB, above the 256 MiB limit for one part.")


def test_a_run_of_text_or_spaces_longer_than_a_cell_holds_is_refused(book):
    """openpyxl holds a run of text whole, several times over (one 255 MiB cell took 2.4 GB):
    100 MiB of spaces in the sheet, and a shared string of 1 MiB, are refused; a cell of
    Excel's longest text (32,767 characters, as 4-byte UTF-8 and escaped '&' both) is read."""
    spaces = _sheet_with(book, b" ", 100 * MiB)
    assert _refusal(spaces).endswith(f"its part '{SHEET}' (a sheet) holds 256 KiB or more of text or spaces without "
                                     "an XML tag, more than a cell holds (Excel: 32,767 characters).")
    excel = _with_shared_strings(book)
    sst = _part(excel, "xl/sharedStrings.xml").replace(b"<t>publication</t>", b"<t>publication" + b"x" * MiB + b"</t>")
    assert "its part 'xl/sharedStrings.xml' (the shared strings) holds 256 KiB or more" in _refusal(
        _rewrite(excel, "xl/sharedStrings.xml", sst))
    sheet = _part(book, SHEET)
    for text in ("\U0001F9E0" * 32_767, "&" * 32_767):
        escaped = text.encode().replace(b"&", b"&amp;")
        assert sheet.count(b"<t>check</t>") == 1  # a note
        longest = _rewrite(book, SHEET, sheet.replace(b"<t>check</t>", b"<t>" + escaped + b"</t>"))
        assert read_input(longest, "auto", columns=MAPPING).ids == IDS


def test_a_sheet_of_too_many_cells_is_refused_while_it_is_decompressed(book):
    """8 million empty cells (32 MiB, under the part limit) pass the tag limit of a sheet."""
    hostile = _sheet_with(book, b"<c/>", L.STREAMED_TAG_LIMIT)
    message = _refusal(hostile)
    assert message.endswith(f"its part '{SHEET}' holds more than 8,000,000 XML tags, the limit for any part (for "
                            "a sheet, about 2,000,000 cells).")


def test_a_part_whose_declared_size_lies_is_never_read_past_it(book):
    """A central directory that declares 1,000 bytes for a sheet of 200 MiB of spaces: zipfile
    stops at the declared size, and the CRC then names the part as damaged."""
    honest = _sheet_with(book, b" ", 200 * MiB)
    lying = _declare(honest, SHEET, 1000)
    with zipfile.ZipFile(lying) as archive:
        assert archive.getinfo(SHEET).file_size == 1000
    assert _refusal(lying).startswith(
        f"The input file {str(lying)!r} cannot be read as an Excel workbook: its part '{SHEET}' is damaged or not "
        "what an .xlsx holds (BadZipFile: Bad CRC-32 for file 'xl/worksheets/sheet1.xml').")
    # A declared size above the limit is refused before anything is decompressed.
    assert _refusal(_declare(book, STYLES, 2 << 30)).endswith(
        "its part 'xl/styles.xml' declares 2,048 MiB, above the 256 MiB limit for one part.")


def test_parts_past_the_total_limit_are_refused(book, monkeypatch):
    """The parts together (limit lowered here; zipfile never gives more than a part declares, so
    the count of the decompressed bytes only guards against a reader that would)."""
    monkeypatch.setattr(L, "TOTAL_LIMIT", 4 * MiB)
    hostile = _sheet_with(book, b" ", 5 * MiB)
    assert _refusal(hostile).endswith("its 9 parts declare 5 MiB in all, above the 4 MiB limit for a whole workbook.")


def test_telling_an_archive_from_an_opendocument_spreadsheet_reads_only_its_first_bytes(tmp_path):
    """A zip archive (no workbook) whose ``mimetype`` expands to 300 MiB: ``format: auto`` says
    it is a zip archive after reading the first bytes of it, not all of it."""
    import tracemalloc

    path = tmp_path / "papers.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("mimetype", "w") as out:
            for _ in range(300):
                out.write(b" " * MiB)
    tracemalloc.start()
    try:
        with pytest.raises(InputDataError, match="is a zip archive, not a coordinate table or an Excel workbook"):
            read_input(path, "auto")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * MiB


# --------------------------------------------------------------------------- malformed parts


@pytest.mark.parametrize(("name", "content", "error"), [
    (SHEET, b"<worksheet><sheetData><row><c><v>1</v></c>", "ParseError"),  # the sheet is cut short
    (SHEET, b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
     b'<row r="1"><c r="A1" t="s"><v>999</v></c></row></sheetData></worksheet>', "IndexError"),  # no such string
    (STYLES, b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs count="1">'
     b'<xf numFmtId="99999999999999999999" fontId="0"/></cellXfs></styleSheet>', "OverflowError"),
    ("[Content_Types].xml", b"<Types/>", "OSError: File contains no valid workbook part"),  # was exit 66
])
def test_a_malformed_part_is_an_input_error_not_an_unexpected_one(book, name, content, error, capsys):
    hostile = _rewrite(book, name, content)
    hostile.rename(book)
    code, _, message = run(book.parent, {"input": {"path": book.name, "columns": MAPPING}}, capsys)
    assert code == 65
    assert message.startswith(f"The input file {str(book)!r} cannot be read as an Excel workbook: ")
    assert f"is damaged or not what an .xlsx holds ({error}" in message
    assert message.endswith("hint: Open it in Excel or LibreOffice and save it again as .xlsx, or as CSV.")


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("kind", ["styles", "cells"])
def test_the_command_line_refuses_a_hostile_workbook_quickly_in_little_memory(book, kind):
    """``ale-app spec.yaml out`` on a hostile workbook of a few hundred KB: exit 65 naming the
    limit, no output folder, and its time and peak memory measured (see :data:`_MEASURED`)."""
    if kind == "styles":
        styles = _part(book, STYLES)
        hostile = _rewrite(book, STYLES, b"<!--", b" ", 200 * MiB, b"-->" + styles)
        expected = "its part 'xl/styles.xml' expands to 200 MiB, above the 64 MiB limit for a part read whole (not a sheet)."
    else:
        hostile = _sheet_with(book, b"<c/>", 60_000_000)  # 229 MiB: 60 million empty cells
        expected = "the limit for any part (for a sheet, about 2,000,000 cells)."
    hostile.rename(book)
    assert book.stat().st_size < 5 * MiB
    spec = book.parent / "spec.yaml"
    spec.write_text(yaml.safe_dump({"spec_version": 1, "input": {"path": book.name, "columns": MAPPING}}))
    out = book.parent / "out"
    cmd, env = offline([sys.executable, "-c", _MEASURED, "120", *ale_app_command(), str(spec), str(out), "-q"])
    errors = book.parent / "stderr.txt"
    start = time.monotonic()
    with errors.open("wb") as stderr:
        done = subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=stderr, env=env, timeout=180, check=False)
    seconds = time.monotonic() - start
    assert done.returncode == 0, f"the measuring process failed: {errors.read_text()}"
    code, maxrss_kib = (int(v) for v in done.stdout.split())
    message = errors.read_text()
    assert code == 65, message
    assert "Traceback" not in message
    assert expected in message and "save the sheet as CSV" in message
    assert not out.exists()
    peak_mb = maxrss_kib / 1024
    print(f"{kind}: refused in {seconds:.2f} s at a peak of {peak_mb:.0f} MB", file=sys.stderr)
    assert seconds < BOUND_S
    assert peak_mb < BOUND_RSS_MB


#: Runs the command given after the deadline in seconds and prints its exit code and the peak
#: resident memory (KiB) of its process tree. A small process of its own starts the command: a
#: child forked straight from pytest would count pytest's own resident memory at the fork (Linux
#: carries a process's peak across exec), which in the whole suite is well over a gigabyte.
_MEASURED = """
import resource, subprocess, sys
try:
    code = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, timeout=float(sys.argv[1])).returncode
except subprocess.TimeoutExpired:
    sys.exit("ale-app did not end within the deadline")
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def test_the_readme_states_the_limits():
    readme = " ".join((Path(__file__).resolve().parents[1] / "docs" / "inputs.md").read_text(encoding="utf-8").split())
    assert ("512 MiB decompressed in all; a sheet (or the shared strings) at most 256 MiB, 8,000,000 XML tags (about "
            "2,000,000 cells) and no run of 256 KiB without a tag (longer than a cell holds); a part openpyxl reads "
            "whole (styles, workbook, relationships, a chart sheet's drawings) at most 64 MiB and 500,000 tags, and "
            "500,000 together") in readme
    assert (L.TOTAL_LIMIT, L.STREAMED_PART_LIMIT, L.STREAMED_TAG_LIMIT, L.PLAIN_RUN_LIMIT, L.TREE_PART_LIMIT,
            L.TREE_TAG_LIMIT) == (512 * MiB, 256 * MiB, 8_000_000, 256 * 1024, 64 * MiB, 500_000)
