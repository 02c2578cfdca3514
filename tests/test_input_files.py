"""``path`` as a list of files (issue 38): each file in its own space and format, read as one
evidence base, the Talairach conversion recorded per file, duplicates across files refused
naming both files, and a run that records every file and re-runs from them (``--verify``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ale_app.cli import main
from ale_app.errors import InputDataError
from ale_app.inputs.evidence import load_evidence
from ale_app.spec.load import parse_spec
from ale_app.spec.models import ALESpec, InputSpec
from ale_app.spec.v2 import AnalysisSpecV2, group_input

MNI = [("Smith 2010: faces", 12, [(-42, -52, -18), (44, -48, -20)]),
       ("Lee 2014: emotion", 20, [(40, -50, -18), (-38, -56, -16)])]
TAL = [("Kim 2012: words", 14, [(-40, -50, -16), (42, -46, -18)]),
       ("Ng 2016: houses", 16, [(38, -52, -14)])]


def sleuth(path: Path, reference: str, experiments) -> Path:
    lines = [f"// Reference={reference}"]
    for name, n, foci in experiments:
        lines += [f"// {name}", f"// Subjects={n}", *("\t".join(map(str, f)) for f in foci), ""]
    path.write_text("\n".join(lines))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def two_files(folder: Path) -> tuple[Path, Path]:
    return sleuth(folder / "mni.txt", "MNI", MNI), sleuth(folder / "tal.txt", "Talairach", TAL)


def test_two_files_in_their_own_spaces_are_one_evidence_base(tmp_path):
    from nimare.utils import tal2mni

    mni, tal = two_files(tmp_path)
    ev = load_evidence(InputSpec(path=["mni.txt", "tal.txt"]), tmp_path, ALESpec())
    assert ev.ids == ["Smith 2010-faces", "Lee 2014-emotion", "Kim 2012-words", "Ng 2016-houses"]
    assert ev.sample_sizes == {"Smith 2010-faces": 12, "Lee 2014-emotion": 20, "Kim 2012-words": 14,
                               "Ng 2016-houses": 16}
    xyz = ev.coordinates[["x", "y", "z"]].to_numpy()
    np.testing.assert_array_equal(xyz[:4], [f for _, _, foci in MNI for f in foci])  # MNI as written
    np.testing.assert_allclose(xyz[4:], tal2mni(np.array([f for _, _, foci in TAL for f in foci])), atol=1e-6)
    assert ev.spaces == {"MNI": 4, "TAL": 3}
    assert ev.conversions == [{"File": "tal.txt", "From": "Talairach", "To": "MNI",
                               "Transform": "nimare.utils.tal2mni",
                               "Method": "Lancaster et al. (2007) tal2icbm (icbm_other)", "Foci": 3,
                               "Analyses": ["Kim 2012-words", "Ng 2016-houses"]}]
    assert ev.source["path"] == ["mni.txt", "tal.txt"] and ev.source["format"] == ["sleuth", "sleuth"]
    assert ev.source["sha256"] == [digest(mni), digest(tal)]
    assert [(f["path"], f["sha256"]) for f in ev.input_files] == [("mni.txt", digest(mni)), ("tal.txt", digest(tal))]
    # One file stays one record, as before.
    one = load_evidence(InputSpec(path="tal.txt"), tmp_path, ALESpec())
    assert one.source["path"] == "tal.txt" and one.source["sha256"] == digest(tal)
    assert "File" not in one.conversions[0] and one.input_files == [one.source]


def test_a_table_and_a_sleuth_file_each_in_its_format(tmp_path):
    sleuth(tmp_path / "tal.txt", "Talairach", TAL)
    (tmp_path / "more.csv").write_text("paper,n,x,y,z,space,task\nOh 2018,22,10,20,30,MNI,faces\n"
                                       "Oh 2018,22,-10,20,30,MNI,faces\nPark 2019,18,0,-60,40,TAL,words\n")
    # The table's column selects among every file's analyses (the Sleuth file's have no value).
    spec = InputSpec(path=["more.csv", "tal.txt"], columns={"study": "paper", "sample_size": "n"},
                     select={"where": {"column": "task", "values": ["faces", "words"]}})
    assert load_evidence(spec, tmp_path, ALESpec()).ids == ["Oh 2018-analysis_1", "Park 2019-analysis_1"]
    ev = load_evidence(InputSpec(path=["more.csv", "tal.txt"], columns={"study": "paper", "sample_size": "n"}),
                       tmp_path, ALESpec())
    assert ev.ids == ["Oh 2018-analysis_1", "Park 2019-analysis_1", "Kim 2012-words", "Ng 2016-houses"]
    assert ev.source["format"] == ["tsv", "sleuth"]
    assert [(c["File"], c["Foci"], c["Analyses"]) for c in ev.conversions] == [
        ("more.csv", 1, ["Park 2019-analysis_1"]), ("tal.txt", 3, ["Kim 2012-words", "Ng 2016-houses"])]
    assert ev.notes == ["1 column of 'more.csv' + 'tal.txt' is not read and was ignored: 'task' (input.columns maps "
                        "a column to what ale-app reads; select.where can select by one)"]


def test_the_same_experiment_in_two_files_is_refused_naming_both(tmp_path):
    sleuth(tmp_path / "mni.txt", "MNI", MNI + [TAL[0]])
    sleuth(tmp_path / "tal.txt", "Talairach", TAL)
    with pytest.raises(InputDataError) as info:
        load_evidence(InputSpec(path=["mni.txt", "tal.txt"]), tmp_path, ALESpec())
    assert info.value.exit_code == 65
    assert ("experiment 'Kim 2012-words' is entered twice (line 12 of 'mni.txt' and line 2 of 'tal.txt'): same "
            "name, same subjects (14) and the same 2 foci") in info.value.message


def test_path_lists_in_the_spec(tmp_path):
    for bad, message in ((["a.txt", "a.txt"], "input.path: lists 'a.txt' more than once"),
                         ([], "input.path: a list of files holds 1 to 1,000 paths, not 0"),
                         (["a.txt", 3], "input.path: item 1 of the list is 3, not a file path")):
        with pytest.raises(Exception) as info:
            parse_spec(json.dumps({"spec_version": 1, "input": {"path": bad}}), "spec.json")
        assert message in info.value.message
    v2 = AnalysisSpecV2.model_validate({"spec_version": 2, "groups": {"ptsd": {"path": ["mni.txt", "tal.txt"]},
                                                                      "ctrl": {"path": "c.txt"}},
                                        "contrast": {"groups": ["ptsd", "ctrl"]}})
    assert group_input(v2, "ptsd").path == ["mni.txt", "tal.txt"]
    assert v2.record()["groups"]["ptsd"]["path"] == ["mni.txt", "tal.txt"]
    two_files(tmp_path)
    ev = load_evidence(group_input(v2, "ptsd"), tmp_path, ALESpec(), field="groups.ptsd")
    assert len(ev.ids) == 4 and ev.conversions[0]["File"] == "tal.txt"
    # A parquet folder is read alone; columns go with a table.
    with pytest.raises(InputDataError) as info:
        load_evidence(InputSpec(path=["mni.txt", "nimare:nback_vs_flanker_studyset_2026-07"]), tmp_path, ALESpec())
    assert "a parquet studyset folder, with other files" in info.value.message
    with pytest.raises(InputDataError) as info:
        load_evidence(InputSpec(path=["mni.txt", "tal.txt"], columns={"study": "paper"}), tmp_path, ALESpec())
    assert info.value.message == "input.columns is given, but none of the files of input.path is a table."


def test_run_records_every_file_and_verify_reruns_from_them(tmp_path, capsys):
    mni, tal = two_files(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"spec_version": 1, "input": {"path": ["mni.txt", "tal.txt"]},
                                    "jackknife": {"enabled": False}, "figures": {"formats": ["png"], "dpi": 50}}))
    out = tmp_path / "out"
    assert main([str(spec), str(out), "-q", "--n-jobs", "1"]) == 0
    recorded = json.loads((out / "spec.json").read_text())["input"]
    assert recorded["path"] == ["mni.txt", "tal.txt"] and recorded["sha256"] == [digest(mni), digest(tal)]
    assert recorded["format_used"] == ["sleuth", "sleuth"]
    assert [(c["File"], c["Foci"]) for c in recorded["space_conversions"]] == [("tal.txt", 3)]
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["Inputs"] == {"mni.txt": digest(mni), "tal.txt": digest(tal)}
    assert [f["Format"] for f in provenance["InputFiles"]] == ["sleuth", "sleuth"]
    assert provenance["InputSpaceConversions"] == recorded["space_conversions"]
    sources = json.loads((out / "dataset_description.json").read_text())["SourceDatasets"]
    assert [(s["URL"], s["Digest"]["SHA-256"]) for s in sources] == [("mni.txt", digest(mni)), ("tal.txt", digest(tal))]
    coords = pd.read_csv(out / "coordinates.tsv", sep="\t")
    assert list(dict.fromkeys(coords["analysis_id"])) == ["Smith 2010-faces", "Lee 2014-emotion", "Kim 2012-words",
                                                          "Ng 2016-houses"]
    assert coords[["x", "y", "z"]].iloc[0].tolist() == [-42, -52, -18] and coords["x"].iloc[4] != -40
    assert "3 foci in 2 experiments of tal.txt were converted from Talairach to MNI" in (out / "CITATION.md").read_text()
    capsys.readouterr()
    assert main(["--verify", str(out), "-q", "--n-jobs", "1"]) == 0
    assert "verified: all" in capsys.readouterr().out
    tal.write_text(tal.read_text().replace("38\t-52\t-14", "38\t-52\t-12"))
    assert main(["--verify", str(out), "-q", "--n-jobs", "1"]) != 0
    printed = capsys.readouterr()
    assert "tal.txt" in printed.out + printed.err and "changed" in printed.out + printed.err
