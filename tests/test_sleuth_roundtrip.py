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
