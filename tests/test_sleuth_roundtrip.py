"""Property: Sleuth text generated in the many shapes people write it reads back to the
experiments it was written from (names, sample sizes, space, every focus exactly)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ale_app.inputs.readers.sleuth import read_sleuth

NAME_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,()&'")
name_text = st.text(NAME_CHARS, min_size=1, max_size=20).map(str.strip).filter(
    lambda s: s and not s.lower().replace(" ", "").startswith(("reference=", "subjects=")))


def coordinate(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))


focus = st.tuples(coordinate(-88, 88), coordinate(-124, 88), coordinate(-70, 106))
experiment = st.tuples(name_text, name_text, st.integers(1, 500), st.lists(focus, min_size=1, max_size=6))
REFERENCES = {"MNI": ["MNI", "mni", "MNI152", " MNI "], "TAL": ["Talairach", "TAL", "tal", "Talairach "]}


@st.composite
def sleuth_files(draw):
    exps = draw(st.lists(experiment, min_size=1, max_size=6))
    space = draw(st.sampled_from(sorted(REFERENCES)))
    lines = [f"//{draw(st.sampled_from(['', ' ']))}Reference{draw(st.sampled_from(['=', ' = ']))}"
             f"{draw(st.sampled_from(REFERENCES[space]))}"]
    expected = []
    for i, (study, analysis, n, foci) in enumerate(exps):
        study = f"{study} {i}"  # unique ids
        if draw(st.booleans()):
            lines.append("# a comment line")
        name_lines = [f"{study}: {analysis}"]
        if draw(st.booleans()):  # the same name over two '//' lines
            name_lines = [f"{study}:", analysis]
        lines += [f"// {text}" for text in name_lines]
        lines.append(f"// Subjects{draw(st.sampled_from(['=', ' = ']))}{n}")
        for xyz in foci:
            sep = draw(st.sampled_from(["\t", " ", "  ", " \t"]))
            trail = draw(st.sampled_from(["", " ", "\t"]))
            lines.append(sep.join(repr(v) for v in xyz) + trail)
        lines += [""] * draw(st.integers(1, 2))
        expected.append((study, analysis, n, space, [tuple(map(float, xyz)) for xyz in foci]))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + eol.join(lines), expected


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sleuth_files())
def test_generated_sleuth_round_trips(case):
    text, expected = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gen.txt"
        path.write_bytes(text.encode("utf-8"))
        result = read_sleuth(path)
    assert result.format == "sleuth"
    assert result.ids == [f"{study}-{analysis}" for study, analysis, *_ in expected]
    got = [(study["id"], a["id"], a["metadata"]["sample_sizes"][0], a["points"][0]["space"],
            [tuple(p["coordinates"]) for p in a["points"]])
           for study in result.source["studies"] for a in study["analyses"]]
    assert got == expected


# --------------------------------------------------------------------------- the export reads back


def _evidence(experiments):
    """An evidence-like object: ``experiments`` = [(study, analysis, n, [(x, y, z), ...])]."""
    from types import SimpleNamespace

    import pandas as pd

    rows = [{"analysis_id": f"{s}-{a}", "study_id": s, "x": x, "y": y, "z": z, "space": "MNI"}
            for s, a, _, foci in experiments for x, y, z in foci]
    ids = [f"{s}-{a}" for s, a, _, _ in experiments]
    return SimpleNamespace(ids=ids, coordinates=pd.DataFrame(rows),
                           sample_sizes={f"{s}-{a}": n for s, a, n, _ in experiments})


def _read_back(text: str, dataset: bool = False) -> tuple[list[str], list[str]]:
    """The ids ale-app's reader and NiMARE's read from Sleuth ``text``: NiMARE's as its
    Dataset names them (``<study>-<contrast>`` of ``convert_sleuth_to_dict``; with ``dataset``
    from the Dataset itself, which takes a second)."""
    import warnings

    from nimare.io import convert_sleuth_to_dataset, convert_sleuth_to_dict

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.txt"
        path.write_text(text, encoding="utf-8")
        ours = read_sleuth(path)
        assert not ours.problems, [p.text for p in ours.problems]
        if dataset:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = list(convert_sleuth_to_dataset(str(path), target="mni152_2mm").ids)
        else:
            theirs = [f"{study}-{contrast}" for study, entry in convert_sleuth_to_dict(str(path)).items()
                      for contrast in entry["contrasts"]]
    return list(ours.ids), theirs


#: Names as people type them and as a hostile user would: separators before and after a year,
#: several of them, slashes, header words, markup; no control character (the input refuses
#: those) and no leading formula sign or outer space (the readers strip and refuse those).
HOSTILE_PIECES = st.sampled_from(["Ann", " ", "2010", "1999", ":", ";", ": ", "; ", "/", "//", "B", "c", "-",
                                  "Subjects=", "Reference=", "<img src=x>", "`", "*", "[l](u)", "\u00fc", "et al.",
                                  "(2)", "2O1O", "analysis_1", "#", ",", "'"])
hostile_name = st.lists(HOSTILE_PIECES, min_size=1, max_size=6).map("".join).map(str.strip).filter(
    lambda s: s and not s.startswith(("=", "+", "-", "@")))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(hostile_name, hostile_name), min_size=1, max_size=5,
                unique_by=lambda t: f"{t[0]}-{t[1]}"))
def test_export_names_read_back_as_the_same_ids_or_are_refused(names):
    from ale_app.outputs.rerun import sleuth_names, sleuth_text, unexported_names

    experiments = [(s, a, 10 + i, [(-40.0 + i, -20.0, 40.0), (30.5, 2.25, -8.0)]) for i, (s, a) in enumerate(names)]
    ev = _evidence(experiments)
    ours, theirs = _read_back(sleuth_text(ev))
    refused = {item["Id"]: item for item in unexported_names(ev)}
    expected = [refused[aid]["WrittenAs"] if aid in refused else aid for aid in ev.ids]
    assert ours == expected
    assert sorted(theirs) == sorted(expected)
    for aid, item in refused.items():
        assert item["Why"] and sleuth_names(ev)[aid][1] == item["Why"]


def test_a_name_the_export_cannot_carry_is_refused_with_the_reason(caplog):
    """The issue's case: a table's study 'Ann 2010: B' with analysis 'c' read back as 'Ann 2010-B: c';
    now written under a placeholder, said in a warning and in the sidecar; other names keep theirs,
    with ';' where ':' would split after the year."""
    import logging
    from types import SimpleNamespace

    from ale_app.outputs import group_outputs as O
    from ale_app.outputs.sidecars import sleuth_sidecar

    ev = _evidence([("Ann 2010: B", "c", 12, [(-40.0, -20.0, 40.0)]), ("Lee 2014", "x: y", 14, [(1.0, 2.0, 3.0)]),
                    ("a;b", "c", 9, [(4.0, 5.0, 6.0)]), ("Kim 2012", "faces", 20, [(7.0, 8.0, 9.0)])])
    result = SimpleNamespace(evidence=ev, spec=SimpleNamespace(ale=SimpleNamespace(sample_size=None)))
    with caplog.at_level(logging.WARNING, logger="ale_app"):
        text = O._sleuth(result)
    assert text.splitlines()[1:3] == ["// ale-app unexported name 1", "// Subjects=12"]
    assert "// Lee 2014: x: y" in text and "// Kim 2012: faces" in text
    ours, theirs = _read_back(text, dataset=True)
    assert ours == ["ale-app unexported name 1-analysis_1", "Lee 2014-x: y", "ale-app unexported name 3-analysis_1",
                    "Kim 2012-faces"]
    assert sorted(theirs) == sorted(ours)
    side = sleuth_sidecar(result).parameters
    assert [item["Id"] for item in side["NamesNotExported"]] == ["Ann 2010: B-c", "a;b-c"]
    assert "reads back as 'Ann 2010-B: c'" in side["NamesNotExported"][0]["Why"]
    assert "reads back as 'a-b: c'" in side["NamesNotExported"][1]["Why"]
    warned = [r.getMessage() for r in caplog.records if "Sleuth export" in r.getMessage()]
    assert len(warned) == 2 and "'Ann 2010: B-c'" in warned[0] and "'ale-app unexported name 1-analysis_1'" in warned[0]
    # Nothing to refuse: the sidecar is as before.
    plain = _evidence([("Kim 2012", "faces", 20, [(7.0, 8.0, 9.0)])])
    assert "NamesNotExported" not in sleuth_sidecar(SimpleNamespace(evidence=plain, spec=result.spec)).parameters
