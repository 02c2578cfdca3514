"""The input rules of issues #11/#13, through the real command line where a user meets them:
foci a little outside the template's box are kept with a warning (as NiMARE keeps them),
tables declare a space per row, a non-UTF-8 file is read as Windows-1252 and recorded,
every problem of an input is reported at once, and messy Sleuth formatting reads as
NiMARE's own ``convert_sleuth_to_studyset`` reads it."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from ale_app.cli import main
from ale_app.inputs.evidence import load_evidence
from ale_app.spec.models import ALESpec, InputSpec

DATA = Path(__file__).parent / "data"


def _spec(folder: Path, path: str, **extra) -> Path:
    spec = {"spec_version": 1, "title": "rules", "input": {"path": path},
            "jackknife": {"enabled": False}, "figures": {"formats": ["png"], "dpi": 50}, **extra}
    out = folder / "spec.yaml"
    out.write_text(yaml.safe_dump(spec))
    return out


def _nimare_studyset(path: Path):
    from nimare.io import convert_sleuth_to_studyset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_sleuth_to_studyset(str(path), target="mni152_2mm")


def _experiments(ids, coords, sizes) -> list:
    """(sample size, foci) per experiment, sorted: compares readers whatever their ids."""
    return sorted((float(sizes[i]), tuple(map(tuple, coords.loc[coords.iloc[:, 0] == i, ["x", "y", "z"]]
                                               .to_numpy(dtype=float).round(6).tolist())))
                  for i in ids)


def _assert_same_as_nimare(ours, theirs, same_ids=True):
    ref = theirs.coordinates.rename(columns={"id": "analysis_id"})[["analysis_id", "x", "y", "z"]]
    ref_sizes = dict(zip((str(i) for i in theirs.ids), theirs.sample_sizes()))
    if same_ids:
        assert sorted(ours.ids) == sorted(ref_sizes)
        for aid in ours.ids:
            mine = ours.coordinates.loc[ours.coordinates["analysis_id"] == aid, ["x", "y", "z"]].to_numpy()
            other = ref.loc[ref["analysis_id"] == aid, ["x", "y", "z"]].to_numpy(dtype=float)
            np.testing.assert_array_equal(mine, other, err_msg=aid)
            assert ours.sample_sizes[aid] == float(ref_sizes[aid])
    assert _experiments(ours.ids, ours.coordinates[["analysis_id", "x", "y", "z"]], ours.sample_sizes) == \
        _experiments(list(ref_sizes), ref.astype({"analysis_id": str}), ref_sizes)


# ------------------------------------------------------------------ messy real-world Sleuth


MESSY = {
    # CR-only line ends (old Mac editors), two name lines for one experiment, a name without
    # a colon (analysis_1), a blank line inside an experiment's foci, trailing spaces.
    "cr_only": "// Reference=MNI\r// Smith et al.\r// 2010: faces\r// Subjects=12\r-42 -52 -18\r\r"
               "44 -48 -20  \r\r// Lee 2014\r// Subjects=20\r40\t-50\t-18\r-38\t-56\t-16\r",
    # LF-CR line ends, which NiMARE's reader splits as one line end.
    "lf_cr": "// Reference=Talairach\n\r// Smith 2010: faces\n\r// Subjects=12\n\r-42 -52 -18\n\r"
             "// Lee 2014: words\n\r// Subjects=20\n\r40 -50 -18\n\r",
    # CRLF, names without colons.
    "crlf_no_colon": "// Reference=MNI\r\n// Kim 2012\r\n// Subjects=9\r\n10 20 30\r\n\r\n"
                     "// Park 2013\r\n// Subjects=15\r\n-10 22 28\r\n30 -60 40\r\n",
}


@pytest.mark.parametrize("name", sorted(MESSY))
def test_messy_sleuth_reads_as_nimare_reads_it(name, tmp_path):
    path = tmp_path / f"{name}.txt"
    path.write_bytes(MESSY[name].encode())
    ours = load_evidence(InputSpec(path=path.name), tmp_path, ALESpec())
    assert len(ours.ids) == 2
    _assert_same_as_nimare(ours, _nimare_studyset(path))


def test_repeated_reference_line_is_not_part_of_a_name(tmp_path):
    """Two Sleuth files pasted together repeat '// Reference=MNI'. NiMARE reads the repeated
    line into the next experiment's name ('Reference=MNI Lee 2014'); ale-app reads it as the
    (same) reference. The experiments, sample sizes and foci are NiMARE's."""
    text = ("// Reference=MNI\n// Smith 2010: faces\n// Subjects=12\n-42 -52 -18\n44 -48 -20\n\n"
            "// Reference=MNI\n// Lee 2014: faces\n// Subjects=20\n40 -50 -18\n")
    path = tmp_path / "pasted.txt"
    path.write_text(text)
    ours = load_evidence(InputSpec(path=path.name), tmp_path, ALESpec())
    theirs = _nimare_studyset(path)
    assert ours.ids == ["Smith 2010-faces", "Lee 2014-faces"]
    assert sorted(str(i) for i in theirs.ids) == ["Reference=MNI Lee 2014-faces", "Smith 2010-faces"]
    _assert_same_as_nimare(ours, theirs, same_ids=False)


def test_latin1_sleuth_is_read_recorded_and_equal_to_nimare_on_utf8(tmp_path, capsys):
    text = ("// Reference=MNI\n// Müller 2010: visages\n// Subjects=12\n-42 -52 -18\n44 -48 -20\n\n"
            "// Ibáñez 2014: émotion\n// Subjects=20\n40 -50 -18\n-95 -20 10\n")
    (tmp_path / "latin1.txt").write_bytes(text.encode("latin-1"))
    (tmp_path / "utf8.txt").write_text(text, encoding="utf-8")
    ours = load_evidence(InputSpec(path="latin1.txt"), tmp_path, ALESpec())
    assert ours.ids == ["Müller 2010-visages", "Ibáñez 2014-émotion"]
    assert ours.source["encoding"] == "cp1252"
    assert any("not UTF-8; it was read as Windows-1252" in w for w in ours.warnings)
    _assert_same_as_nimare(ours, _nimare_studyset(tmp_path / "utf8.txt"))
    assert load_evidence(InputSpec(path="utf8.txt"), tmp_path, ALESpec()).source["encoding"] == "utf-8"

    # Through the command line: the encoding and the focus 4 mm outside the box (kept, as
    # NiMARE keeps it) end up in coordinates.json.
    spec = _spec(tmp_path, "latin1.txt")
    out = tmp_path / "out"
    assert main([str(spec), str(out), "--n-jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "latin1.txt is not UTF-8; read as cp1252" in err
    sidecar = json.loads((out / "coordinates.json").read_text())["Parameters"]
    assert any("not UTF-8; it was read as Windows-1252" in w for w in sidecar["InputWarnings"])
    near = [w for w in sidecar["InputWarnings"] if "by at most 10 mm" in w]
    assert near == ["1 focus lies outside the template's box (x -91..91, y -127..91, z -73..109 mm) by at "
                    "most 10 mm and is kept, as NiMARE keeps such foci: 'Ibáñez 2014-émotion' (-95, -20, 10) on "
                    "line 10."]
    assert sidecar["FociOutsideFieldOfView"] == [
        {"analysis_id": "Ibáñez 2014-émotion", "study_id": "Ibáñez 2014", "x": -95.0, "y": -20.0, "z": 10.0}]
    assert len(ours.coordinates) == 4 == len(_nimare_studyset(tmp_path / "utf8.txt").coordinates)
    # ... and in provenance's record of the input, as docs/inputs.md says.
    (record,) = json.loads((out / "provenance.json").read_text())["InputFiles"]
    assert record["Encoding"] == "cp1252" and record["Path"] == "latin1.txt"


# ------------------------------------------------------------------ field of view


def test_field_of_view_bounds_are_the_voxel_edges(tmp_path, capsys):
    """The message's bounds are the real ones: 91 mm is inside, 91.5 is outside (kept with a
    warning), 101.5 is more than 10 mm out (refused)."""
    base = "// Reference=MNI\n// A 2010: x\n// Subjects=12\n-42 -52 -18\n{}\n\n// B 2011: y\n// Subjects=14\n-10 20 30\n"
    (tmp_path / "edge.txt").write_text(base.format("-91 -127 109"))
    ev = load_evidence(InputSpec(path="edge.txt"), tmp_path, ALESpec())
    assert len(ev.outside_fov) == 0 and not any("outside the template's box" in w for w in ev.warnings)
    (tmp_path / "near.txt").write_text(base.format("-91.5 20 30"))
    ev = load_evidence(InputSpec(path="near.txt"), tmp_path, ALESpec())
    assert ev.outside_fov[["x", "y", "z"]].to_numpy().tolist() == [[-91.5, 20, 30]]
    (tmp_path / "far.txt").write_text(base.format("-101.5 20 30"))
    spec = _spec(tmp_path, "far.txt")
    assert main([str(spec), str(tmp_path / "out"), "-q"]) == 65
    err = capsys.readouterr().err
    assert ("ale-app: error: 1 focus in 'far.txt' lies outside the template's box (x -91..91, y -127..91, "
            "z -73..109 mm): 'A 2010-x' (-101.5, 20, 30) on line 5, 10.5 mm out.") in err
    assert "input.outside_field_of_view: keep" in err


# ------------------------------------------------------------------ tables with a space per row


def test_table_rows_declare_their_own_space(tmp_path, capsys):
    from nimare.studyset import Studyset

    src = DATA / "table_mixed_space.tsv"
    (tmp_path / src.name).write_bytes(src.read_bytes())
    ev = load_evidence(InputSpec(path=src.name), tmp_path, ALESpec())
    assert ev.spaces == {"MNI": 1, "TAL": 1}
    assert ev.conversions[0]["Foci"] == 1 and ev.conversions[0]["Analyses"] == ["B-analysis_1"]
    nimads = {"id": "t", "name": "t", "studies": [
        {"id": "A", "name": "A", "analyses": [{"id": "analysis_1", "name": "analysis_1", "metadata": {},
                                               "points": [{"space": "MNI", "coordinates": [1, 2, 3]}]}]},
        {"id": "B", "name": "B", "analyses": [{"id": "analysis_1", "name": "analysis_1", "metadata": {},
                                               "points": [{"space": "TAL", "coordinates": [4, 5, 6]}]}]}]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = Studyset(nimads, target="mni152_2mm").coordinates
    np.testing.assert_array_equal(ev.coordinates[["x", "y", "z"]].to_numpy(), ref[["x", "y", "z"]].to_numpy(dtype=float))
    assert not np.allclose(ref[["x", "y", "z"]].to_numpy(dtype=float)[1], [4, 5, 6])

    spec = _spec(tmp_path, src.name)
    assert main([str(spec), str(tmp_path / "out"), "--validate-only", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "spaces: MNI 1 focus, TAL 1 focus" in printed
    assert "conversion: 1 focus in 1 experiment Talairach -> MNI" in printed


# ------------------------------------------------------------------ every problem at once


def test_every_problem_is_reported_at_once(tmp_path, capsys):
    text = ("// Reference=MNI\n// Smith 2010: faces\n// Subjects=12\n-42 -52 -18\n44 -48 -20\n\n"
            "// Lee 2014: words\n// Subjects=20\n40 -50 -18\n-38 400 -16\n\n"
            "// Smith 2010: faces\n// Subjects=9\n10 20 dog\n")
    (tmp_path / "many.txt").write_text(text)
    spec = _spec(tmp_path, "many.txt")
    for extra in ([], ["--validate-only"]):
        out = tmp_path / "out"
        assert main([str(spec), str(out), "-q", *extra]) == 65
        captured = capsys.readouterr()
        err = captured.err
        assert err.startswith("ale-app: error: 3 problems in 'many.txt':\n"), err
        assert "  1. line 14: 'dog' is not a number (in '10 20 dog').\n" in err
        assert "  2. two experiments are both named 'Smith 2010-faces' (lines 2 and 12)" in err
        assert ("  3. 1 focus in 'many.txt' lies outside the template's box (x -91..91, y -127..91, "
                "z -73..109 mm): 'Lee 2014-words' (-38, 400, -16) on line 10, 309 mm out.") in err
        assert err.count("ale-app: error:") == 1 and "\nhint: " in err
        assert "nothing written" not in captured.out + err and not out.exists()


def test_at_most_fifty_problems_are_listed(tmp_path, capsys):
    rows = ["study_id\tx\ty\tz\tspace\tsample_size"]
    rows += [f"S{i}\t1\tbad{i}\t3\tMNI\t10" for i in range(60)]
    (tmp_path / "t.tsv").write_text("\n".join(rows) + "\n")
    assert main([str(_spec(tmp_path, "t.tsv")), str(tmp_path / "out"), "--validate-only", "-q"]) == 65
    err = capsys.readouterr().err
    assert "ale-app: error: 60 problems in 't.tsv':" in err
    assert "  50. line 51: y = 'bad49' is not a number (study 'S49')." in err
    assert "  51." not in err and "... and 10 more, not listed" in err


# ------------------------------------------------------------------ unrelated files


@pytest.mark.parametrize("fmt", ["auto", "sleuth", "tsv", "nimads"])
def test_unrelated_file_is_refused_without_quoting_it(fmt, tmp_path, capsys):
    (tmp_path / "passwd").write_text("alice:$6$s3cr3tSALT$hashhash:19000:0:99999:7:::\n"
                                     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    spec = _spec(tmp_path, "passwd")
    data = yaml.safe_load(spec.read_text())
    data["input"]["format"] = fmt
    spec.write_text(yaml.safe_dump(data))
    assert main([str(spec), str(tmp_path / "out"), "--validate-only", "-q"]) == 65
    err = capsys.readouterr().err
    assert "ale-app: error: " in err and "alice" not in err and "s3cr3t" not in err and "daemon" not in err, err


def test_device_or_pipe_is_refused(tmp_path, capsys):
    import os

    os.mkfifo(tmp_path / "pipe.txt")
    assert main([str(_spec(tmp_path, "pipe.txt")), str(tmp_path / "out"), "--validate-only", "-q"]) == 65
    assert "is not a regular file (a pipe (FIFO))" in capsys.readouterr().err
