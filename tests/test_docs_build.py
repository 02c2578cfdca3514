"""The docs site (docs/, Sphinx with myst-parser, both in the locked test set) builds offline with
warnings as errors, as CI builds it; a link to a missing page, anchor or file fails the build, and
so does a reference page (docs/reference/) that differs from what docs/gen_reference.py makes of
the parser, the JSON Schema and the output registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO, offline, require

GENERATED = ("cli.md", "spec.md", "outputs.md")


def _build(source: Path, out: Path) -> subprocess.CompletedProcess:
    """``sphinx-build -W --keep-going -E -b html`` (the command docs/development.md gives), offline."""
    require("sphinx", "the docs build")
    require("myst_parser", "the docs build")
    cmd, env = offline([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
                        str(source), str(out)])
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    proc = _build(REPO / "docs", tmp_path / "html")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = {p.relative_to(tmp_path / "html").as_posix() for p in (tmp_path / "html").rglob("*.html")}
    written = {p.relative_to(REPO / "docs").with_suffix(".html").as_posix() for p in (REPO / "docs").rglob("*.md")
               if "_build" not in p.parts}
    assert written <= pages, written - pages
    # The generated pages say what the code says: every option of the parser, every model of the schema,
    # every output of the registry.
    from ale_app.cli import build_parser
    from ale_app.outputs.registry import REGISTRY

    cli = (tmp_path / "html" / "reference" / "cli.html").read_text(encoding="utf-8")
    assert all(o in cli for a in build_parser()._actions for o in a.option_strings)
    outputs = (tmp_path / "html" / "reference" / "outputs.html").read_text(encoding="utf-8")
    assert all(entry.name in outputs for entry in REGISTRY)
    spec = (tmp_path / "html" / "reference" / "spec.html").read_text(encoding="utf-8")
    assert 'id="inputspec"' in spec and "cluster_threshold_mm3" in spec


def test_the_reference_pages_are_current():
    proc = subprocess.run([sys.executable, str(REPO / "docs" / "gen_reference.py"), "--check"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr + "\n(run `python docs/gen_reference.py` and commit docs/reference/)"


def test_a_broken_link_or_a_stale_reference_page_fails_the_build(tmp_path):
    """The check can fail: in a copy of the repository, a link to a missing anchor, one to a missing
    page, one to a missing file, and a reference page that lost a row each stop the build."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for item in REPO.iterdir():
        if item.name not in ("docs", ".git", ".venv"):
            os.symlink(item, copy / item.name)
    docs = copy / "docs"
    for path in (REPO / "docs").rglob("*"):
        if path.is_file() and "_build" not in path.parts and "__pycache__" not in path.parts:
            target = docs / path.relative_to(REPO / "docs")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    spec = docs / "spec.md"
    spec.write_text(spec.read_text(encoding="utf-8") + "\nSee [nowhere](inputs.md#no-such-heading), [gone](gone.md) "
                    "and [a file](../examples/no-such-spec.yaml).\n", encoding="utf-8")
    cli = docs / "reference" / "cli.md"
    cli.write_text("".join(line for line in cli.read_text(encoding="utf-8").splitlines(keepends=True)
                           if "`--overwrite`" not in line), encoding="utf-8")
    proc = _build(docs, tmp_path / "html")
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log
    assert "no-such-heading" in log and "gone.md" in log and "no-such-spec.yaml" in log, log
    assert "docs/reference/cli.md is stale" in log, log
