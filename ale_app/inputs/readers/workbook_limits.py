"""Limits on what an ``.xlsx`` workbook expands to, checked before openpyxl parses any of it.

A workbook is a zip archive, and a few megabytes of it can expand to gigabytes: a 2 MB file
whose ``xl/styles.xml`` holds a 2 GiB comment, or a 4 MB file whose sheet is 4 GiB of spaces.
The 1 GiB input limit bounds only the compressed file. :func:`check_workbook_limits` therefore
reads the archive first, in this order, and refuses it (exit 65, naming the part and the limit)
at the first limit it passes:

1. the sizes its central directory declares: each part, and all parts together;
2. every part, decompressed in 1 MiB blocks and counted as it comes (the declared sizes are
   not trusted), stopping at the first block past a limit, so that time and memory stay
   bounded whatever the file holds; a damaged part (a bad CRC, a broken deflate stream, an
   unsupported compression, a password) is named;
3. each part's XML tags (its ``<`` characters, an upper bound on its elements, cells, rows
   and strings, which is what parsing costs) against the limit of the part's role, the tags of
   the parts parsed whole together, and, in a sheet or the shared strings, the longest run of
   text or spaces without a tag (openpyxl holds such a run whole).

openpyxl (``read_only``, ``keep_links`` off) streams the sheets and the shared strings;
every other part it reads (``[Content_Types].xml``, the workbook, every ``.rels``, the styles,
the document properties, the theme, a chart sheet and what it draws) it parses whole into a
tree, which costs far more per tag: those get the tree limits. A part gets the larger
streamed limits only when the workbook names it as a worksheet or as the shared strings and
nothing parses it whole. Parts openpyxl never reads (a worksheet's drawings and comments,
images, pivot caches, ``docProps/app.xml``) are only decompressed here, within the part and
total limits.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from ale_app.errors import AleAppError, InputDataError, MissingInputError

MiB = 1 << 20

#: A sheet or the shared strings, which openpyxl streams. Measured: a coordinate table of
#: 100,000 rows of 12 columns (numbers and text, written by openpyxl) expands to 56 MB of sheet
#: XML with about 5 million tags, and ale-app reads it in 17 s at a peak of 270 MB; Excel's full
#: 1,048,576 rows of it would expand to about 590 MB. The tags bound such a sheet first (about
#: 160,000 rows of 12 columns, far more foci than a meta-analysis has); the bytes bound long
#: texts (the run limit below bounds each one).
STREAMED_PART_LIMIT = 256 * MiB
#: Tags of a sheet or the shared strings: about 2,000,000 cells (a cell with a value has 4).
#: Reading them costs time and memory whatever they hold: 20 million tags (4.7 million cells
#: of 1.5, a 411 KB file) took 24 s and 550 MB; 8 million take about 10 s.
STREAMED_TAG_LIMIT = 8_000_000
#: A part openpyxl parses whole into a tree. Real ones are
#: kilobytes; a style-bloated ``styles.xml`` at Excel's maximum of 64,000 cell formats is a
#: few MB. A tree costs far more per tag than a stream: one million ``<font/>`` in the styles
#: took 21 s and 600 MB, so the tags are bounded per part and over all the parts openpyxl
#: parses whole, together (a few hundred thousand in the worst style bloat Excel writes).
TREE_PART_LIMIT = 64 * MiB
TREE_TAG_LIMIT = 500_000
#: All parts together, decompressed: two sheets at their limit.
TOTAL_LIMIT = 512 * MiB

#: A run of text or spaces without a tag in a sheet or the shared strings (openpyxl holds it
#: whole, several times over: one 255 MiB cell took 2.4 GB). A cell holds at most 32,767
#: characters, at most about 200 KB as escaped UTF-8. Counted in whole 64 KiB windows: a run
#: of 320 KiB is always refused, one below 256 KiB never.
PLAIN_RUN_LIMIT = 256 * 1024
WINDOW = 64 * 1024

BLOCK = 1 * MiB

SAVE_AS_CSV = ("ale-app reads workbooks whose parts expand to at most {total} in all ({part} and about {cells} "
               "cells for a sheet, {tree} for a part read whole); save the sheet as CSV (comma-separated, .csv) and point input.path at it, or "
               "check that input.path names the workbook you meant.")


def _size(n: int) -> str:
    if n >= MiB:
        return f"{n / MiB:,.0f} MiB"
    return f"{n / 1024:,.0f} KiB" if n >= 1024 else f"{n:,} bytes"


def _hint() -> str:
    return SAVE_AS_CSV.format(total=_size(TOTAL_LIMIT), part=_size(STREAMED_PART_LIMIT),
                              cells=f"{STREAMED_TAG_LIMIT // 4:,}", tree=_size(TREE_PART_LIMIT))


def _too_large(label: str, what: str) -> InputDataError:
    return InputDataError(f"The input file {label} is a workbook too large when decompressed: {what}.", hint=_hint())


def damaged_part(label: str, part: str | None, exc: BaseException) -> InputDataError:
    """The exit-65 error for a workbook part that cannot be read (``part`` None: somewhere in it)."""
    where = f"its part {part!r}" if part else "one of its parts"
    lines = str(exc).strip().splitlines()
    detail = lines[0][:200] if lines else ""
    cause = exc.__cause__ or exc.__context__
    if cause is not None:  # openpyxl says what it was reading, then what failed
        detail += f"; {type(cause).__name__}: {str(cause)[:200]}"
    return InputDataError(f"The input file {label} cannot be read as an Excel workbook: {where} is damaged or not "
                          f"what an .xlsx holds ({type(exc).__name__}{': ' + detail if detail else ''}).",
                          hint="Open it in Excel or LibreOffice and save it again as .xlsx, or as CSV.")


#: What reading a damaged part raises (zipfile, zlib, bz2/lzma, an unsupported method, a password).
PART_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError,
               OverflowError, LookupError)


def check_workbook_limits(path: Path) -> None:
    """Exit 65 unless the workbook at ``path`` stays within the limits above (see the module);
    exit 66 when it cannot be opened."""
    label = repr(str(path))
    try:
        archive = zipfile.ZipFile(path)
    except OSError as exc:
        raise MissingInputError(f"The input file {label} cannot be read: {exc.strerror or exc}.",
                                hint="Check the file's permissions.") from None
    except PART_ERRORS as exc:
        raise damaged_part(label, None, exc) from None
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        declared = 0
        for info in infos:
            if info.file_size > STREAMED_PART_LIMIT:
                raise _too_large(label, f"its part {info.filename!r} declares {_size(info.file_size)}, above the "
                                 f"{_size(STREAMED_PART_LIMIT)} limit for one part")
            declared += info.file_size
        if declared > TOTAL_LIMIT:
            raise _too_large(label, f"its {len(infos)} parts declare {_size(declared)} in all, above the "
                             f"{_size(TOTAL_LIMIT)} limit for a whole workbook")
        stats = _read_parts(archive, infos, label)
        streamed, strings, whole = _streamed_parts(archive, stats, label)
        parsed_whole = 0
        for name, (size, tags, plain) in stats.items():
            if name in whole:
                _check_tree_part(label, name, size, tags)
                parsed_whole += tags
            elif name in streamed and plain >= PLAIN_RUN_LIMIT:
                raise _too_large(label, f"its part {name!r} ({'the shared strings' if name == strings else 'a sheet'}) "
                                 f"holds {_size(PLAIN_RUN_LIMIT)} or more of text or spaces "
                                 "without an XML tag, more than a cell holds (Excel: 32,767 characters)")
        if parsed_whole > TREE_TAG_LIMIT:
            raise _too_large(label, f"the parts that are read whole (styles, workbook, relationships, ...) hold "
                             f"{parsed_whole:,} XML tags together, above the {TREE_TAG_LIMIT:,} limit")


def _read_parts(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], label: str) -> dict[str, tuple[int, int, int]]:
    """Part name -> (decompressed size, ``<`` count, longest run of whole 64 KiB windows without
    a ``<``), every part decompressed and counted in blocks, within the streamed limits and the
    total."""
    stats: dict[str, tuple[int, int, int]] = {}
    total = 0
    for info in infos:
        size = tags = plain = longest = 0
        try:
            with archive.open(info) as part:
                while block := part.read(BLOCK):
                    size += len(block)
                    total += len(block)
                    tags += block.count(b"<")
                    for start in range(0, len(block), WINDOW):  # windows without a tag, in a row
                        plain = plain + 1 if block.find(b"<", start, start + WINDOW) < 0 else 0
                        longest = max(longest, plain)
                    if size > STREAMED_PART_LIMIT:
                        raise _too_large(label, f"its part {info.filename!r} expands to more than "
                                         f"{_size(STREAMED_PART_LIMIT)}, the limit for one part")
                    if total > TOTAL_LIMIT:
                        raise _too_large(label, f"its parts expand to more than {_size(TOTAL_LIMIT)} in all "
                                         f"(the limit for a whole workbook), reached in {info.filename!r}")
                    if tags > STREAMED_TAG_LIMIT:
                        raise _too_large(label, f"its part {info.filename!r} holds more than "
                                         f"{STREAMED_TAG_LIMIT:,} XML tags, the limit for any part (for a sheet, "
                                         f"about {STREAMED_TAG_LIMIT // 4:,} cells)")
        except PART_ERRORS as exc:
            raise damaged_part(label, info.filename, exc) from None
        previous = stats.get(info.filename, (0, 0, 0))  # a name twice: count the larger
        stats[info.filename] = (max(size, previous[0]), max(tags, previous[1]), max(longest * WINDOW, previous[2]))
    return stats


def _check_tree_part(label: str, name: str, size: int, tags: int) -> None:
    if size > TREE_PART_LIMIT:
        raise _too_large(label, f"its part {name!r} expands to {_size(size)}, above the {_size(TREE_PART_LIMIT)} "
                         "limit for a part read whole (not a sheet)")
    if tags > TREE_TAG_LIMIT:
        raise _too_large(label, f"its part {name!r} holds {tags:,} XML tags, above the {TREE_TAG_LIMIT:,} limit for "
                         "a part read whole (not a sheet)")


def _streamed_parts(archive: zipfile.ZipFile, stats: dict[str, tuple[int, int, int]],
                    label: str) -> tuple[set[str], str | None, set[str]]:
    """The parts openpyxl streams (worksheets, shared strings) and parses whole nowhere, found as
    openpyxl finds them; the name of the shared strings part; and the parts it parses whole. The
    parts that are parsed here to find them are checked against the tree limits first."""
    from openpyxl.packaging.manifest import Manifest
    from openpyxl.packaging.relationship import get_dependents, get_rels_path
    from openpyxl.xml.constants import (ARC_CONTENT_TYPES, ARC_CORE, ARC_CUSTOM, ARC_STYLE, ARC_THEME,
                                        ARC_WORKBOOK, SHARED_STRINGS, XLSM, XLSX, XLTM, XLTX)
    from openpyxl.xml.functions import fromstring

    def tree_checked(name: str) -> bool:
        if name not in stats:
            return False
        _check_tree_part(label, name, *stats[name][:2])
        return True

    if not tree_checked(ARC_CONTENT_TYPES):
        return set(), None, set(stats)  # openpyxl says what is missing; every part as if read whole
    try:
        manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
        workbook = next((part.PartName[1:] for kind in (XLTM, XLTX, XLSM, XLSX)
                         if (part := manifest.find(kind))), ARC_WORKBOOK)
        strings = manifest.find(SHARED_STRINGS)
    except AleAppError:
        raise
    except Exception as exc:  # any malformed manifest: openpyxl fails on it too
        raise damaged_part(label, ARC_CONTENT_TYPES, exc) from None
    whole = {ARC_CONTENT_TYPES, workbook, ARC_STYLE, ARC_CORE, ARC_CUSTOM, ARC_THEME}
    whole.update(name for name in stats if name.endswith(".rels"))  # openpyxl parses a sheet's, the workbook's, ...
    for name in whole & set(stats):
        tree_checked(name)

    def targets(part: str) -> list:
        """The relationships of ``part`` (from its ``.rels``, checked above), internal ones only."""
        rels_path = get_rels_path(part)
        if rels_path not in stats:
            return []
        try:
            return [rel for rel in get_dependents(archive, rels_path) if rel.TargetMode != "External"]
        except AleAppError:
            raise
        except Exception as exc:
            raise damaged_part(label, rels_path, exc) from None

    candidates = {strings.PartName[1:]} if strings is not None else set()
    drawn = []
    for rel in targets(workbook):
        kind = str(rel.Type)
        if "chartsheet" in kind:
            drawn.append(rel.target)
        elif kind.endswith("/worksheet"):
            candidates.add(rel.target)
        # the workbook's other relationships (styles, theme, shared strings, external links
        # with keep_links off, pivot caches in read-only mode) are not read through them
    seen: set[str] = set()
    while drawn:  # a chart sheet and what it draws (drawings, charts, images), parsed whole
        part = drawn.pop()
        if part not in seen:
            seen.add(part)
            drawn.extend(rel.target for rel in targets(part))
    whole |= seen
    # A worksheet's own relationships (drawings, comments, tables, ...) are not read in read-only mode.
    shared = strings.PartName[1:] if strings is not None else None
    return {name for name in candidates - whole if name in stats}, shared, whole
