"""Hardening (issue #13), through the real command line: no write through a link, bounded
specs, ids drawn literally in figures, no output folder nested with an input, and library
warnings logged once in words (hidden by -q).

Every test checks the exit code, the message and what is on disk, inside OUTPUT_DIR and
outside it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import warnings
from pathlib import Path

import pytest

from conftest import assert_drawn_png

from ale_app.outputs import folder as D
from ale_app.outputs import registry as O
from ale_app.cli import main
from ale_app.errors import OutputError

DOLLAR_STUDY = r"Smith $\foo$ 2010"

EXPERIMENTS = [
    (DOLLAR_STUDY, "faces", 12, [(-42.0, -52.0, -18.0), (44.0, -48.0, -20.0), (-22.0, -6.0, -18.0)]),
    ("Lee 2014", "emotion $x$", 20, [(40.0, -50.0, -18.0), (-38.5, -56.0, -16.0), (20.0, -4.0, -16.0)]),
    ("Garcia 2017", "faces", 30, [(-40.0, -46.0, -20.0), (42.0, -54.0, -16.0), (46.0, 14.0, 24.0)]),
]

SPEC = """\
spec_version: 1
title: Hardening
input:
  path: experiments.tsv
jackknife:
  cluster_threshold_mm3: 0
figures:
  formats: [png, svg]
  dpi: 50
"""


def write_input(folder: Path) -> Path:
    """A TSV input whose ids hold '$' (mathtext) and its spec; returns the spec's path."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["\t".join(["study_id", "analysis_id", "x", "y", "z", "space", "sample_size"])]
    for study, analysis, n, foci in EXPERIMENTS:
        rows += ["\t".join([study, analysis, *(f"{v:g}" for v in xyz), "MNI", str(n)]) for xyz in foci]
    (folder / "experiments.tsv").write_text("\n".join(rows) + "\n")
    spec = folder / "spec.yaml"
    spec.write_text(SPEC)
    return spec


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry below ``folder`` (links not followed): file digests, link targets."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                state[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run of a spec whose study and analysis ids contain '$'."""
    base = tmp_path_factory.mktemp("hardening")
    spec = write_input(base / "data")
    out = base / "out"
    assert main([str(spec), str(out), "--n-jobs", "1", "-q"]) == 0
    return spec, out


# --------------------------------------------------------------------------- 4. figures


def test_ids_with_dollar_signs_are_drawn_literally(finished):
    _, out = finished
    assert (out / O.PROVENANCE).is_file()
    svg = (out / f"{O.FIG_JACKKNIFE}.svg").read_text()
    # svg.fonttype is 'none' (set by ale-app's renderer): each label is SVG text, XML-escaped,
    # drawn literally, not as mathtext (which would drop the '$'s and set 'x' in italics).
    import html

    labels = [f"{study}-{analysis}" for study, analysis, _, _ in EXPERIMENTS]
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    for label in labels:
        assert any(label in t for t in texts), label
    assert sum(t.count("$") for t in texts if any(lab in t for lab in labels)) == 4
    table = (out / O.JACKKNIFE_TABLE).read_text()
    assert "$\\foo$" in table
    for stem in (O.FIG_COORDINATES, O.FIG_OVERLAY, O.FIG_JACKKNIFE):
        assert_drawn_png(out / f"{stem}.png")


# --------------------------------------------------------------------------- 1. links


@pytest.fixture()
def copy_of_run(finished, tmp_path):
    spec, out = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return spec, copy, elsewhere


def _rerun(spec, out, capsys, *extra):
    code = main([str(spec), str(out), "--n-jobs", "1", "--overwrite", *extra])
    return code, capsys.readouterr().err


def test_figures_folder_replaced_by_a_link_is_refused(copy_of_run, capsys):
    spec, out, elsewhere = copy_of_run
    shutil.copytree(out / "figures", elsewhere / "figures")
    shutil.rmtree(out / "figures")
    (out / "figures").symlink_to(elsewhere / "figures", target_is_directory=True)
    before_out, before_elsewhere = snapshot(out), snapshot(elsewhere)

    code, err = _rerun(spec, out, capsys)

    assert code == 73, err
    assert f"ale-app: error: {out / 'figures'} is a symbolic link; ale-app never writes, renames or " \
           "removes through a link." in err
    assert "Traceback" not in err
    assert snapshot(elsewhere) == before_elsewhere
    assert snapshot(out) == before_out


def test_output_file_replaced_by_a_link_is_refused(copy_of_run, capsys):
    spec, out, elsewhere = copy_of_run
    victim = elsewhere / "victim.html"
    victim.write_text("not ale-app's\n")
    (out / O.REPORT).unlink()
    (out / O.REPORT).symlink_to(victim)
    before_out, before_elsewhere = snapshot(out), snapshot(elsewhere)

    code, err = _rerun(spec, out, capsys)

    assert code == 73, err
    assert f"{out / O.REPORT} is a symbolic link" in err
    assert victim.read_text() == "not ale-app's\n"
    assert snapshot(elsewhere) == before_elsewhere and snapshot(out) == before_out


def test_lock_file_replaced_by_a_link_is_refused(copy_of_run, capsys):
    spec, out, elsewhere = copy_of_run
    victim = elsewhere / "victim.txt"
    victim.write_text("keep me\n")
    (out / D.LOCK).unlink()
    (out / D.LOCK).symlink_to(victim)
    dangling = elsewhere / "does-not-exist"
    before_out, before_elsewhere = snapshot(out), snapshot(elsewhere)

    code, err = _rerun(spec, out, capsys)
    assert code == 73, err
    assert f"{out / D.LOCK} is a symbolic link" in err
    assert snapshot(elsewhere) == before_elsewhere and snapshot(out) == before_out

    # A dangling link would make O_CREAT create the file at its target: refused the same way.
    (out / D.LOCK).unlink()
    (out / D.LOCK).symlink_to(dangling)
    code, err = _rerun(spec, out, capsys)
    assert code == 73, err
    assert f"{out / D.LOCK} is a symbolic link" in err
    assert not dangling.exists()


def test_a_signal_delivered_as_the_temporary_file_is_created_leaves_no_temporary_file(tmp_path, monkeypatch):
    """A SIGTERM that arrives while ``os.open`` creates the write's temporary file is raised
    where ``os.open`` returns, after the file exists (Python acts on signals between bytecodes).
    The write must still remove it: found in CI, where ``test_interrupt`` saw a
    ``.desc-jackknife_table.json.<hex>.tmp`` left after a SIGTERM."""
    from ale_app.errors import InterruptedRun

    out = tmp_path / "out"
    out.mkdir()
    real_open = os.open

    def open_then_signal(path, flags, mode=0o777, *, dir_fd=None):
        fd = real_open(path, flags, mode, dir_fd=dir_fd)
        if str(path).endswith(".tmp"):
            os.close(fd)
            raise InterruptedRun("stopped by signal SIGTERM")
        return fd

    monkeypatch.setattr(D.os, "open", open_then_signal)
    with pytest.raises(InterruptedRun):
        D.OutputFolder(out).write_bytes("desc-jackknife_table.json", b"{}")
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == []


def test_links_planted_after_the_folder_was_checked_are_refused_at_the_write(tmp_path):
    """The write itself follows no link (a link planted while a run is under way)."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (elsewhere / "x.png").write_bytes(b"theirs")
    (out / "figures").symlink_to(elsewhere, target_is_directory=True)
    folder = D.OutputFolder(out)
    with pytest.raises(OutputError, match="figures is a symbolic link"):
        folder.write_bytes("figures/x.png", b"ours")
    with pytest.raises(OutputError, match="figures is a symbolic link"):
        folder.remove("figures/x.png")
    (out / "report.html").symlink_to(elsewhere / "x.png")
    with pytest.raises(OutputError, match="report.html is a symbolic link"):
        folder.write_bytes("report.html", b"ours")
    with pytest.raises(OutputError, match="report.html is a symbolic link"):
        folder.remove("report.html")
    assert (elsewhere / "x.png").read_bytes() == b"theirs"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["x.png"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- 2. spec


BASE = "spec_version: 1\ninput:\n  path: experiments.tsv\n"

BAD_SPECS = {
    "fwhm-inf": ("spec.yaml", BASE + "ale:\n  kernel_fwhm: .inf\n",
                 "ale.kernel_fwhm: Input should be a finite number; allowed: more than 0 and at most 100 "
                 "({spec}, line 5)"),
    "fwhm-1e300": ("spec.yaml", BASE + "ale:\n  kernel_fwhm: 1e300\n",
                   "ale.kernel_fwhm: Input should be less than or equal to 100 ({spec}, line 5)"),
    "cluster-inf": ("spec.yaml", BASE + "jackknife:\n  cluster_threshold_mm3: .inf\n",
                    "jackknife.cluster_threshold_mm3: Input should be a finite number; allowed: at least 0 "
                    "and at most 10,000,000 ({spec}, line 5)"),
    "sample-size-1e30": ("spec.yaml", BASE + f"ale:\n  sample_size: {10**30}\n",
                         "ale.sample_size: Input should be less than or equal to 1000000 ({spec}, line 5)"),
    "glass-inf": ("spec.yaml", BASE + "display:\n  glass_brain_threshold: .inf\n",
                  "display.glass_brain_threshold: Input should be a finite number; allowed: at least 0 and "
                  "at most 1 ({spec}, line 5)"),
    "dominance-inf": ("spec.yaml", BASE + "report:\n  dominance_ratio: .inf\n",
                      "report.dominance_ratio: Input should be a finite number; allowed: at least 1 and at "
                      "most 1,000 ({spec}, line 5)"),
    "percentile-nan": ("spec.yaml", BASE + "display:\n  threshold_percentile: .nan\n",
                       "display.threshold_percentile: Input should be a finite number; allowed: more than 0 "
                       "and less than 100 ({spec}, line 5)"),
    "dpi": ("spec.yaml", BASE + "figures:\n  dpi: 100000\n",
            "figures.dpi: Input should be less than or equal to 1200 ({spec}, line 5)"),
    "two-ale-blocks": ("spec.yaml", BASE + "ale:\n  kernel_fwhm: 10\nale:\n  kernel_fwhm: 12\n",
                       "The key 'ale' is given twice in one mapping ({spec}, lines 4 and 6)."),
    "two-titles": ("spec.yaml", "title: a\n" + BASE + "title: b\n",
                   "The key 'title' is given twice in one mapping ({spec}, lines 1 and 5)."),
    "json-trailing-comma": ("spec.json", '{"spec_version": 1,\n "input": {"path": "experiments.tsv"},\n}\n',
                            "The spec is not valid JSON ({spec}, line 3, column 1): Expecting property "
                            "name enclosed in double quotes."),
    "json-nan": ("spec.json", '{"spec_version": 1, "input": {"path": "x.tsv"}, '
                 '"display": {"threshold_percentile": NaN}}', "NaN is not a JSON number"),
    "json-twice": ("spec.json", '{"spec_version": 1,\n "input": {"path": "x.tsv"},\n "spec_version": 1}',
                   "The key 'spec_version' is given twice in one mapping ({spec}, lines 1 and 3)."),
    "yaml-deep": ("spec.yaml", BASE + "title: " + "[" * 20000 + "\n",
                  "The spec is nested more than 32 levels deep ({spec}, line 4)."),
    "json-deep": ("spec.json", "[" * 20000, "The spec is nested more than 32 levels deep ({spec})."),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_spec_numbers_and_syntax_exit_65_with_the_bound(case, tmp_path, capsys):
    name, text, message = BAD_SPECS[case]
    spec = tmp_path / name
    spec.write_text(text)
    out = tmp_path / "out"
    code = main([str(spec), str(out)])
    err = capsys.readouterr().err
    assert code == 65, err
    assert message.format(spec=spec) in err
    assert "Traceback" not in err and "RecursionError" not in err
    assert not out.exists()


# --------------------------------------------------------------------------- 5. nesting


def test_output_folder_inside_an_input_folder_is_refused(tmp_path, capsys):
    studyset = tmp_path / "studyset"
    studyset.mkdir()
    (studyset / "studies.parquet").write_bytes(b"PAR1")
    spec = tmp_path / "spec.yaml"
    spec.write_text("spec_version: 1\ninput:\n  path: studyset\n  format: parquet\n")
    before = snapshot(tmp_path)
    out = studyset / "derivatives"
    code = main([str(spec), str(out)])
    err = capsys.readouterr().err
    assert code == 73, err
    assert f"ale-app: error: The output folder '{out}' is inside the input folder '{studyset}'." in err
    assert snapshot(tmp_path) == before and not out.exists()


def test_output_folder_holding_the_input_is_refused(tmp_path, capsys):
    spec = write_input(tmp_path / "project" / "data")
    before = snapshot(tmp_path)
    out = tmp_path / "project"
    code = main([str(spec), str(out)])
    err = capsys.readouterr().err
    assert code == 73, err
    assert f"ale-app: error: The input '{spec.parent / 'experiments.tsv'}' is inside the output folder " \
           f"'{out}'." in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("layout", ["beside a file input", "beside a folder input with a longer name"])
def test_output_folder_next_to_the_input_is_fine(tmp_path, monkeypatch, capsys, layout):
    """Beside the input is not inside it: the command line gets past the nesting check and
    starts the run (stopped there: ``pipeline.run`` records its call), writing nothing."""
    from ale_app.run import pipeline

    if layout == "beside a file input":  # data/experiments.tsv and data/spec.yaml; out in data/
        spec = write_input(tmp_path / "data")
        out = tmp_path / "data" / "out"
    else:  # a folder input 'studyset'; out 'studyset-derivatives' (its name starts with the input's)
        (tmp_path / "studyset").mkdir()
        (tmp_path / "studyset" / "studies.parquet").write_bytes(b"PAR1")
        spec = tmp_path / "spec.yaml"
        spec.write_text("spec_version: 1\ninput:\n  path: studyset\n  format: parquet\n")
        out = tmp_path / "studyset-derivatives"
    before = snapshot(tmp_path)
    started = []
    monkeypatch.setattr(pipeline, "run", lambda project, spec_dir, text, output_dir, options:
                        started.append((spec_dir, output_dir)))

    code = main([str(spec), str(out), "--n-jobs", "1"])

    err = capsys.readouterr().err
    assert code == 0, err
    assert "error" not in err
    assert started == [(spec.parent, out)]
    assert snapshot(tmp_path) == before and not out.exists()


# --------------------------------------------------------------------------- 7. warnings


def _spec_for_validation(tmp_path) -> Path:
    return write_input(tmp_path / "data")


def _noisy_summary(monkeypatch):
    """Make the summary step emit a library-style warning twice, as nilearn or NiMARE would."""
    from ale_app.inputs import evidence_summary as inputs

    real = inputs.summary_lines

    def summary_lines(evidence):
        for _ in range(2):
            warnings.warn("Non-finite values detected. These values will be replaced with zeros.",
                          UserWarning, stacklevel=1)
        return real(evidence)

    monkeypatch.setattr(inputs, "summary_lines", summary_lines)


def test_library_warnings_are_logged_once_in_words(tmp_path, monkeypatch, capsys):
    spec = _spec_for_validation(tmp_path)
    _noisy_summary(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main([str(spec), "--validate-only"]) == 0
    err = capsys.readouterr().err
    assert err.count("Non-finite values detected. These values will be replaced with zeros.") == 1, err
    assert "ale-app WARNING: Non-finite values detected." in err and "(UserWarning from " in err
    assert "warnings.warn(" not in err and ".py:" not in err


def test_quiet_hides_library_warnings_but_not_ale_apps_own(tmp_path, monkeypatch, capsys):
    spec = _spec_for_validation(tmp_path)
    _noisy_summary(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main([str(spec), "--validate-only", "-q"]) == 0
    err = capsys.readouterr().err
    assert "Non-finite values" not in err, err
    assert "ale-app WARNING: 3 experiments: fewer than 17" in err


def test_warning_hook_is_removed_after_main(tmp_path):
    before = warnings.showwarning
    main(["--print-schema"])
    assert warnings.showwarning is before
