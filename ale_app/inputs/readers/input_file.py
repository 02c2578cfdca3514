"""The bounded, checked reading of an input file: its bytes through the bounded opener
(:mod:`ale_app.files`), its text in the encoding that decodes it, and what a spreadsheet or an
archive that is not what its format says is, with what to do (exit 65 or 66)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ale_app.errors import InputDataError, MissingInputError
from ale_app.files import INPUT_LIMIT, RefusedFile


#: NiMARE's ``convert_sleuth_to_dict`` splits lines on exactly these (not on form feeds etc.).
LINE_BREAKS = re.compile("\n\r|\r\n|\n|\r")

#: Tried in order; the first that decodes the whole file is used and recorded.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


def read_text(path: Path, what: str, split: bool = True) -> tuple[str, list[str], str]:
    """Read a text file; refuse empty and binary files; return (text, lines, encoding).

    A UTF-8 byte order mark is dropped. A file that is not UTF-8 is read as Windows-1252
    (what GingerALE on Windows writes; its printable characters include all of Latin-1's),
    or, if it has a byte Windows-1252 leaves undefined, as Latin-1; the encoding used is
    returned so that it can be logged and recorded. Lines are split (unless ``split`` is False: then the list is empty) as NiMARE splits them
    (LF, CRLF, CR-only and LF-CR line ends).
    """
    data = read_bytes(path)
    hint = "Export the coordinates as text (Sleuth .txt, .tsv or .csv), or check input.path."
    refuse_binary(path, data, f"{what} text", hint)
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if _looks_binary(text):
        raise InputDataError(f"The input file {str(path)!r} is a binary file, not {what} text.", hint=hint)
    return text, LINE_BREAKS.split(text) if split else [], "utf-8" if encoding == "utf-8-sig" else encoding


def first_text_line(text: str) -> str:
    """The first line of ``text`` that is not blank, as it is (empty if none); the lines
    after it are not split (a file of any size is told by its first line at once)."""
    start = 0
    for match in LINE_BREAKS.finditer(text):
        if text[start:match.start()].strip():
            return text[start:match.start()]
        start = match.end()
    return text[start:] if text[start:].strip() else ""


def _looks_binary(text: str) -> bool:
    """More than 1 % control characters (other than tab and line ends) in the first 8 kB."""
    head = text[:8192]
    controls = sum(1 for c in head if unicodedata.category(c) == "Cc" and c not in "\t\n\r")
    return controls > 0.01 * max(len(head), 1)


#: The first bytes of a zip archive (an .xlsx workbook is one) and of an OLE2 compound file
#: (an Excel 97-2003 .xls workbook, or a password-protected .xlsx).
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SAVE_AS_HINT = ("Open it in Excel or LibreOffice and save it as an Excel workbook (.xlsx) or as CSV "
                "(comma-separated, .csv), then point input.path at that file.")


def file_head(path: Path, size: int = 8) -> bytes:
    """The first bytes of a regular file (empty for anything else, or when it cannot be read:
    the reader says why later). A pipe or device is never opened here: opening a FIFO would
    wait for a writer."""
    try:
        if not path.is_file():
            return b""
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def workbook_kind(path: Path) -> str | None:
    """``xlsx`` (a zip with ``xl/workbook.xml``), ``ods`` (an OpenDocument spreadsheet),
    ``zip`` (another zip archive), ``ole2`` (an .xls or encrypted workbook), or None."""
    head = file_head(path)
    if head.startswith(OLE2_MAGIC):
        return "ole2"
    if not head.startswith(ZIP_MAGIC):
        return None
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "mimetype" in names:
                with archive.open("mimetype") as mimetype:  # its first bytes: it may expand to gigabytes
                    if b"opendocument.spreadsheet" in mimetype.read(256):
                        return "ods"
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, NotImplementedError, RuntimeError, ValueError,
            zlib.error):
        pass
    return "zip"


def refuse_workbook(path: Path, fmt: str, field: str = "input") -> None:
    """Exit 65 with what to do when ``path`` is a spreadsheet or archive that a ``fmt``
    reader cannot read (``fmt`` is the format asked for: ``tsv``, ``xlsx``, ...)."""
    kind = workbook_kind(path)
    if kind == "ole2":
        raise InputDataError(
            f"The input file {str(path)!r} is an Excel 97-2003 workbook (.xls) or a password-protected "
            "workbook, which ale-app does not read.",
            hint="Remove any password, then o" + SAVE_AS_HINT[1:])
    if kind == "ods":
        raise InputDataError(f"The input file {str(path)!r} is an OpenDocument spreadsheet (.ods), which "
                             "ale-app does not read.", hint=SAVE_AS_HINT)
    if kind == "zip":
        raise InputDataError(f"The input file {str(path)!r} is a zip archive, not a coordinate table or an "
                             "Excel workbook.", hint="Unpack it and point input.path at the file inside.")
    if kind == "xlsx" and fmt != "xlsx":
        raise InputDataError(
            f"The input file {str(path)!r} is an Excel workbook, but {field}.format is {fmt!r}.",
            hint=f"Set {field}.format to 'xlsx' (or 'auto').")
    if kind is None and fmt == "xlsx":
        raise InputDataError(
            f"The input file {str(path)!r} is not an Excel workbook (.xlsx files are zip archives), but "
            f"{field}.format is 'xlsx'.",
            hint=f"Set {field}.format to 'auto' (or 'tsv' for a text table), or check input.path.")


def refuse_binary(path: Path, data: bytes, what: str, hint: str) -> None:
    """Exit 65 when ``data`` looks binary (a NUL byte near the start)."""
    if b"\x00" in data[:8192]:
        raise InputDataError(f"The input file {str(path)!r} is a binary file, not {what}.", hint=hint)


def read_bytes(path: Path) -> bytes:
    """Read an input file's bytes through the bounded opener (:mod:`ale_app.files`): a pipe,
    a device or a socket (or a link to one) and a file above the input limit are exit 65;
    unreadable is exit 66, empty is exit 65."""
    from ale_app.files import read_regular

    try:
        data = read_regular(path, INPUT_LIMIT)
    except RefusedFile as exc:
        raise refused_input(path, exc) from None
    except OSError as exc:
        raise MissingInputError(
            f"The input file {str(path)!r} cannot be read: {exc.strerror}.",
            hint="Check the file's permissions, and that input.path names a file.",
        ) from None
    if not data.strip():
        raise InputDataError(
            f"The input file {str(path)!r} is empty.",
            hint="Check input.path; the file has no studies in it.",
        )
    return data


def refused_input(path: Path, exc: RefusedFile) -> InputDataError:
    """The exit-65 error for an input the bounded opener refused."""
    if exc.too_large:
        return InputDataError(f"The input file {str(path)!r} is {exc.reason}.",
                              hint="ale-app reads studysets up to that size; check input.path, or split the "
                              "evidence base.")
    return InputDataError(f"The input file {str(path)!r} is {exc.reason}.",
                          hint="Point input.path at the studyset file (a regular file).")


def check_input_file(path: Path) -> None:
    """Exit 65 unless ``path`` is a regular file within the input limit (for readers that
    hand the path to a library, e.g. openpyxl)."""
    from ale_app.files import check_regular

    try:
        check_regular(path, INPUT_LIMIT)
    except RefusedFile as exc:
        raise refused_input(path, exc) from None
    except OSError:
        pass  # the library says why it cannot read it
