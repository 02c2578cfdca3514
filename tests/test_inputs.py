"""Reading and checking inputs: parquet studyset folders against NiMARE's own reader,
the warnings, foci outside the mask or field of view, and the --validate-only summary."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from ale_app.cli import main
from ale_app.errors import InputDataError
from ale_app.inputs.evidence import load_evidence
from ale_app.spec.models import ALESpec, InputSpec

NBACK = "nimare:nback_vs_flanker_studyset_2026-07"


def _sleuth(path: Path, reference: str, experiments) -> Path:
    lines = [f"// Reference={reference}"]
    for name, n, foci in experiments:
        lines += [f"// {name}", f"// Subjects={n}", *("\t".join(map(str, f)) for f in foci), ""]
    path.write_text("\n".join(lines))
    return path


def test_parquet_folder_equals_nimare_studyset():
    from nimare.studyset import Studyset
    from nimare.utils import get_resource_path

    ours = load_evidence(InputSpec(path=NBACK, outside_field_of_view="keep"), Path("."), ALESpec(sample_size=20))
    folder = Path(get_resource_path()) / NBACK.split(":", 1)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Studyset(str(folder), target="mni152_2mm")
        ref = theirs.coordinates
        raw_spaces = Studyset(str(folder), target=None).coordinates["space"].astype(str)
    assert ours.ids == [str(i) for i in theirs.ids]
    assert len(ours.ids) == len(set(ref["id"])) and ours.source["format"] == "parquet"
    order = {aid: i for i, aid in enumerate(ours.ids)}
    ref = ref.assign(_o=ref["id"].astype(str).map(order)).sort_values("_o", kind="stable")
    np.testing.assert_array_equal(ours.coordinates[["x", "y", "z"]].to_numpy(),
                                  ref[["x", "y", "z"]].to_numpy(dtype=float))
    assert ours.spaces == raw_spaces.value_counts(sort=False).to_dict()
    assert ours.conversions[0]["Foci"] == int((raw_spaces == "TAL").sum())
    assert any("'UNKNOWN', which NiMARE cannot convert" in w for w in ours.warnings)


def test_parquet_folder_without_sample_sizes_names_them():
    with pytest.raises(InputDataError) as info:
        load_evidence(InputSpec(path=NBACK, outside_field_of_view="keep"), Path("."), ALESpec())
    assert "experiments in 'nimare:nback_vs_flanker_studyset_2026-07' have no sample size" in info.value.message
    assert "ale.sample_size" in info.value.hint
    # A kernel FWHM for all experiments needs no sample sizes.
    ev = load_evidence(InputSpec(path=NBACK, select={"first": 5}, outside_field_of_view="keep"),
                       Path("."), ALESpec(kernel_fwhm=10))
    assert len(ev.ids) == 5 and all(n is None for n in ev.sample_sizes.values())


def test_warnings_and_foci_outside_mask(tmp_path):
    same = [(-42, -52, -18), (44, -48, -20)]
    path = _sleuth(tmp_path / "w.txt", "MNI", [
        ("Smith 2010: faces", 12, same), ("Smith 2010: houses", 12, [(40, -50, -18)]),
        ("Lee 2014: faces", 20, same), ("Kim 2015: faces", 9, [(0, -100, -60), (30, 20, 10)]),
    ])
    ev = load_evidence(InputSpec(path=path.name), tmp_path, ALESpec())
    text = "\n".join(ev.warnings)
    assert "4 experiments: fewer than 17" in text
    assert "'Smith 2010-faces' = 'Lee 2014-faces'" in text
    assert "'Smith 2010' (2)" in text
    assert ev.outside_mask[["x", "y", "z"]].to_numpy().tolist() == [[0, -100, -60]]
    assert "1 focus lies inside the template's box but outside its brain mask" in text


def test_outside_field_of_view_kept_on_request(tmp_path):
    path = _sleuth(tmp_path / "f.txt", "MNI", [("A 2010: x", 12, [(10, 20, 30), (95, 20, 30)]),
                                                ("B 2011: y", 14, [(-10, 20, 30)])])
    with pytest.raises(InputDataError, match=r"'A 2010-x' \(95, 20, 30\)"):
        load_evidence(InputSpec(path=path.name), tmp_path, ALESpec())
    ev = load_evidence(InputSpec(path=path.name, outside_field_of_view="keep"), tmp_path, ALESpec())
    assert ev.outside_fov[["x", "y", "z"]].to_numpy().tolist() == [[95, 20, 30]]
    assert len(ev.coordinates) == 3


def test_validate_only_summary_for_talairach_sleuth(tmp_path, capsys):
    _sleuth(tmp_path / "t.txt", "Talairach", [("A 2010: x", 12, [(10, 20, 30), (-40, 10, 0)]),
                                              ("B 2011: y", 14, [(-10, 20, 30)])])
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"spec_version": 1, "title": "t", "input": {"path": "t.txt"}}))
    out = tmp_path / "out"
    assert main([str(spec), str(out), "--validate-only", "-q"]) == 0
    printed = capsys.readouterr().out
    for fragment in ("format sleuth", "experiments: 2; studies: 2; foci: 3", "subjects: 26",
                     "spaces: TAL 3 foci",
                     "conversion: 3 foci in 2 experiments Talairach -> MNI with nimare.utils.tal2mni",
                     "foci outside the brain mask (kept): 0", "2 experiments: fewer than 17",
                     "nothing written"):
        assert fragment in printed, fragment
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml", "t.txt"]


def test_run_records_conversion_and_warnings(tmp_path):
    _sleuth(tmp_path / "t.txt", "TAL", [("A 2010: x", 12, [(10, 20, 30), (-40, 10, 0)]),
                                        ("B 2011: y", 14, [(-10, 20, 30), (0, -100, -60)])])
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"spec_version": 1, "title": "t", "input": {"path": "t.txt"},
                                    "jackknife": {"enabled": False}, "figures": {"formats": ["png"]}}))
    out = tmp_path / "out"
    assert main([str(spec), str(out), "-q", "--n-jobs", "1"]) == 0
    sidecar = json.loads((out / "coordinates.json").read_text())["Parameters"]
    assert sidecar["InputFormat"] == "sleuth" and sidecar["InputSpaces"] == {"TAL": 4}
    assert sidecar["SpaceConversions"][0]["Transform"] == "nimare.utils.tal2mni"
    assert sidecar["SpaceConversions"][0]["Analyses"] == ["A 2010-x", "B 2011-y"]
    assert len(sidecar["FociOutsideBrainMask"]) == 1 and sidecar["InputWarnings"]
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["InputSpaceConversions"] == sidecar["SpaceConversions"]
    spec_json = json.loads((out / "spec.json").read_text())
    assert spec_json["input"]["format_used"] == "sleuth" and spec_json["input"]["space_conversions"]


def test_experiment_without_foci_hint_gives_the_exclude_entry(tmp_path):
    """Issue 38: the refusal of an experiment without foci gives the select.exclude entry to
    add, in ale-app's '<study id>-<analysis id>' form, under the spec field it belongs to."""
    _sleuth(tmp_path / "e.txt", "MNI", [("A 2010: x", 12, [(10, 20, 30)]), ("B 2011: y", 14, []),
                                        ("C 2012: z", 9, [(-10, 20, 30)]), ("D 2013: w", 10, [(0, 0, 40)])])
    with pytest.raises(InputDataError) as info:
        load_evidence(InputSpec(path="e.txt"), tmp_path, ALESpec())
    assert "1 experiment in 'e.txt' has no foci: 'B 2011-y'" in info.value.message
    assert info.value.hint == ('Add its coordinates, or leave it out with input.select.exclude: '
                               'exclude: ["B 2011-y"].')
    # An exclude list already given is kept, and the id is added to it; the fix works.
    spec = InputSpec(path="e.txt", select={"exclude": ["D 2013-w"]})
    with pytest.raises(InputDataError) as info:
        load_evidence(spec, tmp_path, ALESpec())
    assert info.value.hint.endswith('input.select.exclude: exclude: ["D 2013-w", "B 2011-y"].')
    ev = load_evidence(InputSpec(path="e.txt", select={"exclude": ["D 2013-w", "B 2011-y"]}), tmp_path, ALESpec())
    assert ev.ids == ["A 2010-x", "C 2012-z"]
    # A version-2 group's selection is groups.<name>.select; with 'ids' the fix is to drop it there.
    from ale_app.spec.v2 import AnalysisSpecV2, group_input

    v2 = AnalysisSpecV2.model_validate({
        "spec_version": 2, "groups": {"pat": {"path": "e.txt", "select": {"ids": ["A 2010-x", "B 2011-y",
                                                                                  "C 2012-z"]}},
                                      "con": {"path": "e.txt"}},
        "contrast": {"groups": ["pat", "con"]}})
    with pytest.raises(InputDataError) as info:
        load_evidence(group_input(v2, "pat"), tmp_path, ALESpec(), field="groups.pat")
    assert info.value.hint.endswith('remove it from groups.pat.select.ids: ids: ["A 2010-x", "C 2012-z"].')
    with pytest.raises(InputDataError) as info:
        load_evidence(group_input(v2, "con"), tmp_path, ALESpec(), field="groups.con")
    assert info.value.hint.endswith('leave it out with groups.con.select.exclude: exclude: ["B 2011-y"].')
