"""A contrast whose groups have no cluster of their own that passes FWE (the common case for
small groups): it completes, its directional reading is empty and said to be, and its
subtraction maps equal NiMARE's ``ALESubtraction`` without inference maps (NiMARE's ``fit``
refuses two empty inference maps)."""

from __future__ import annotations

import logging
import re
import warnings
from html import unescape
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from ale_app.cli import main
from ale_app.present.interpretation_words import empty_directional_words

SPACE = "space-MNI152NLin6Asym_res-2"
C = "contrast-aMinusB_"
N_ITER, SEED = 50, 1


def _scattered_rows(seed: int = 5, n: int = 10, foci: int = 6) -> list[dict]:
    """Two groups of ``n`` experiments, each with ``foci`` foci scattered over in-mask voxels:
    nothing converges, so no cluster passes FWE in either group."""
    from nimare.utils import get_template

    mask = np.asarray(get_template("mni152_2mm", mask="brain").dataobj) > 0
    affine = get_template("mni152_2mm", mask="brain").affine
    ijk = np.argwhere(mask)
    rng = np.random.default_rng(seed)
    rows = []
    for group in ("a", "b"):
        for i in range(n):
            xyz = nib.affines.apply_affine(affine, ijk[rng.choice(len(ijk), foci, replace=False)])
            for x, y, z in xyz:
                rows.append({"study_id": f"{group}study{i:02d}", "analysis_id": "c1", "x": int(x), "y": int(y),
                             "z": int(z), "space": "MNI", "sample_size": 20, "grp": group})
    return rows


@pytest.fixture(scope="module")
def no_fwe_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contrast-no-fwe")
    rows = _scattered_rows()
    pd.DataFrame(rows).to_csv(folder / "foci.tsv", sep="\t", index=False)
    (folder / "spec.yaml").write_text(yaml.safe_dump({
        "spec_version": 2, "mode": "inferential", "title": "scattered pair",
        "input": {"path": "foci.tsv", "columns": {"group": "grp"}},
        "groups": {"a": {"select": {"where": {"column": "group", "values": ["a"]}}},
                   "b": {"select": {"where": {"column": "group", "values": ["b"]}}}},
        "contrast": {"groups": ["a", "b"], "conjunction": True},
        "inference": {"min_experiments": 10, "n_iterations": N_ITER, "seed": SEED},
        "jackknife": {"cluster_threshold_mm3": 4000},
        "figures": {"formats": ["png"], "dpi": 50}}, sort_keys=False))
    out = folder / "out"
    assert main([str(folder / "spec.yaml"), str(out), "--n-jobs", "2", "-q"]) == 0
    return out, rows


def _nimare_dataset(rows, group):
    from nimare.dataset import Dataset

    data: dict = {}
    for r in rows:
        if r["grp"] != group:
            continue
        c = data.setdefault(r["study_id"], {"contrasts": {}})["contrasts"].setdefault(
            r["analysis_id"], {"coords": {"space": "MNI", "x": [], "y": [], "z": []},
                               "metadata": {"sample_sizes": [r["sample_size"]]}})
        for axis in "xyz":
            c["coords"][axis].append(r[axis])
    return Dataset(data)


def test_contrast_without_fwe_clusters_completes_with_an_empty_directional_reading(no_fwe_run):
    from nimare.meta.cbma.ale import ALESubtraction

    out, rows = no_fwe_run
    for g in ("a", "b"):
        fwe = pd.read_csv(out / f"group-{g}_desc-fweclusters_table.tsv", sep="\t")
        assert len(fwe) == 0, f"the generated group {g} was meant to have no FWE cluster"
    directional = np.asarray(nib.load(out / f"{C}{SPACE}_stat-z_desc-directional_statmap.nii.gz").dataobj)
    assert not directional.any()

    # Every subtraction map NiMARE gives without inference maps (it refuses two empty ones).
    ds1, ds2 = _nimare_dataset(rows, "a"), _nimare_dataset(rows, "b")
    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ALESubtraction(n_iters=N_ITER, random_state=SEED).fit(ds1, ds2)
            with pytest.raises(ValueError, match="at least one nonzero voxel"):
                empty = np.zeros(result.masker.mask_img.get_fdata().astype(bool).sum(), np.float32)
                ALESubtraction(n_iters=N_ITER, random_state=SEED).fit(ds1, ds2, inference_map1=empty,
                                                                      inference_map2=empty)
    finally:
        logging.disable(logging.NOTSET)
    masker = result.masker
    for ours, theirs in (("stat-aledifference", "stat_desc-group1MinusGroup2"), ("stat-z", "z_desc-group1MinusGroup2"),
                         ("stat-p", "p_desc-group1MinusGroup2")):
        mine = masker.transform(nib.load(out / f"{C}{SPACE}_{ours}_statmap.nii.gz")).ravel()
        assert np.max(np.abs(mine - result.get_map(theirs, return_type="array"))) <= 1e-6, ours

    report = (out / "report.html").read_text()
    para = unescape(re.sub(r"<[^>]+>", "", re.search(r"<h2>Interpretation</h2>(.*?)</p>", report, re.S).group(1)))
    assert "Neither a nor b has a cluster of its own that passed cluster-level FWE" in para
    assert "directional reading" in para and "is empty" in para
    assert "No contrast cluster." in report
    conj = np.asarray(nib.load(out / f"{C}{SPACE}_stat-ale_desc-conjunction_statmap.nii.gz").dataobj)
    assert not conj.any()
    # No empty glass brains: the z figure of passing clusters and the conjunction are not drawn.
    figures = sorted(p.name for p in (out / "figures").glob(f"{C}*"))
    assert figures == [f"{C}stat-aledifference_glassbrain.png"], figures


@pytest.mark.parametrize("empty_side", ["first", "second", "neither"])
def test_the_words_name_the_empty_side(empty_side):
    def group(n):
        return SimpleNamespace(fwe_clusters=SimpleNamespace(labels=list(range(1, n + 1))))

    result = SimpleNamespace(names=("pat", "con"), first=group(0 if empty_side == "first" else 2),
                             second=group(0 if empty_side == "second" else 1))
    words = " ".join(empty_directional_words(result))
    if empty_side == "neither":
        assert words == ""
    elif empty_side == "first":
        assert words.startswith("pat has no cluster") and "pat > con is empty" in words
    else:
        assert words.startswith("con has no cluster") and "con > pat is empty" in words
