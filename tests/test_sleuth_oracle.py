"""ale-app's Sleuth reader against NiMARE's own ``convert_sleuth_to_studyset``, run here,
on NiMARE's bundled Sleuth test files and ``semantic_*_children.txt`` resources: the same
analyses, ids, sample sizes, coordinates (Talairach converted with ``tal2mni``) and ALE map."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from ale_app.errors import InputDataError
from ale_app.inputs.evidence import load_evidence
from ale_app.spec.models import ALESpec, InputSpec


def _nimare_file(*parts: str) -> Path:
    import nimare

    return Path(nimare.__file__).parent.joinpath(*parts)


GOOD = {
    "test_sleuth_file.txt": ("tests", "data", "test_sleuth_file.txt"),
    "test_sleuth_file2.txt": ("tests", "data", "test_sleuth_file2.txt"),
    "semantic_knowledge_children.txt": ("resources", "semantic_knowledge_children.txt"),
    "semantic_relatedness_children.txt": ("resources", "semantic_relatedness_children.txt"),
}
BAD = ["test_sleuth_file3.txt", "test_sleuth_file4.txt", "test_sleuth_file5.txt"]


def _nimare_studyset(path: Path):
    from nimare.io import convert_sleuth_to_studyset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_sleuth_to_studyset(str(path), target="mni152_2mm")


def _ours(path: Path):
    return load_evidence(InputSpec(path=str(path), format="sleuth"), path.parent, ALESpec())


@pytest.mark.parametrize("name", sorted(GOOD))
def test_same_dataset_as_nimare(name):
    path = _nimare_file(*GOOD[name])
    ours = _ours(path)
    theirs = _nimare_studyset(path)
    assert sorted(ours.ids) == sorted(str(i) for i in theirs.ids)
    expected_sizes = dict(zip((str(i) for i in theirs.ids), theirs.sample_sizes()))
    assert ours.sample_sizes == {k: float(v) for k, v in expected_sizes.items()}
    ref = theirs.coordinates.rename(columns={"id": "analysis_id"})
    for aid in ours.ids:
        mine = ours.coordinates.loc[ours.coordinates["analysis_id"] == aid, ["x", "y", "z"]].to_numpy()
        other = ref.loc[ref["analysis_id"] == aid, ["x", "y", "z"]].to_numpy(dtype=float)
        assert mine.shape == other.shape and mine.shape[0] > 0, aid
        np.testing.assert_array_equal(mine, other, err_msg=aid)
    talairach = "Talairach" in path.read_text().splitlines()[0]
    assert bool(ours.conversions) == talairach
    if talairach:
        assert ours.conversions[0]["Transform"] == "nimare.utils.tal2mni"
        assert ours.conversions[0]["Foci"] == len(ours.coordinates)


@pytest.mark.parametrize("name", ["test_sleuth_file2.txt", "semantic_knowledge_children.txt"])
def test_same_ale_map_as_nimare(name):
    from nimare.meta.cbma.ale import ALE

    from ale_app.stats.ale import fit_ale

    path = _nimare_file(*GOOD[name])
    ours = fit_ale(_ours(path).studyset, ALESpec())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ALE().fit(_nimare_studyset(path))
    expected = np.asarray(result.get_map("stat").dataobj, dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(ours.stat_img.dataobj), expected)
    assert expected.max() > 0


@pytest.mark.parametrize("name", BAD)
def test_files_nimare_refuses_are_refused_with_a_line(name):
    path = _nimare_file("tests", "data", name)
    with pytest.raises(ValueError):
        _nimare_studyset(path)
    with pytest.raises(InputDataError, match=r"line \d+: "):
        _ours(path)
