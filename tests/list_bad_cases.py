"""Print the bad-input corpus, one line per case: name, exit code, the message it gets.

Run from the repository root: ``python tests/list_bad_cases.py`` (no files are written
outside a temporary folder).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path

from helpers.bad_cases import CASES, write_case_spec

from ale_app.cli import main


def run_case(case: dict) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as folder:
        spec = write_case_spec(case, Path(folder))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main([str(spec), str(Path(folder) / "out"), "-q"])
    text = err.getvalue()
    start = text.find("ale-app: error: ")
    if start < 0:
        return code, text.strip().replace(folder, "<tmp>")
    # The message, with the numbered lines of a multi-problem message, up to its hint.
    message = text[start + len("ale-app: error: "):].split("\nhint: ")[0].rstrip()
    return code, message.replace(folder, "<tmp>")


if __name__ == "__main__":
    logging.disable(logging.WARNING)
    for i, case in enumerate(CASES, start=1):
        code, message = run_case(case)
        print(f"{i:2d}. [{code}] {case['name']}: {message}")
