"""Whole-pipeline oracle on generated evidence bases: every number ale-app writes against
NiMARE and nilearn run here, on the same input.

Each case comes from :mod:`tests.generate` (seeded): a coordinate table and a spec, run
through ``ale_app.cli.main``. The reference is built here from the generated rows, not
from ale-app's readers: a NIMADS studyset for NiMARE (which converts Talairach foci),
``ALE().fit``, the percentile threshold, ``nanargmax`` for the peak, nilearn's
``get_clusters_table`` for the clusters and NiMARE's ``Jackknife`` for the leave-one-out
table.

By default ``ALE_APP_ORACLE_CASES`` (40) small cases run (2 to 6 experiments) and a few
heavy ones (20 to 60 experiments, marked ``slow``); set ``ALE_APP_ORACLE_CASES=400`` for a
longer run. ``pytest -s`` prints the largest difference seen per output at the end.
"""

from __future__ import annotations

import gc
import json
import os
import re
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

import generate

from ale_app.outputs import folder as D
from ale_app.outputs import registry as O

N_CASES = int(os.environ.get("ALE_APP_ORACLE_CASES", "40"))
N_SLOW = int(os.environ.get("ALE_APP_ORACLE_SLOW_CASES", "3"))
JACKKNIFE_TOL = 1e-6
ALE_TOL = 1e-7

#: Largest difference seen per output, over all cases run (printed at the end with -s).
LARGEST: dict[str, float] = {}
CASES_RUN: list[str] = []


def _seen(what: str, diff: float) -> None:
    LARGEST[what] = max(LARGEST.get(what, 0.0), float(diff))


@pytest.fixture(scope="module", autouse=True)
def _report_largest():
    yield
    if CASES_RUN:
        print(f"\n[generated oracle] {len(CASES_RUN)} cases run; largest |ale-app - reference| per output:")
        for what, diff in sorted(LARGEST.items()):
            print(f"  {what:<28} {diff:.3g}")


@pytest.fixture(autouse=True)
def _frozen_gc():
    """Keep the objects alive before a case out of the collector: nilearn calls ``gc.collect``
    on every image it reads, which otherwise dominates a small case's time."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(scope="module")
def mask():
    return generate.template_mask()


#: The cases in the day-to-day subset (case001 is a small one, a few seconds); the rest are
#: marked slow and run in CI (plain ``pytest``).
FAST_CASES = (1,)


def _params():
    params = [pytest.param(i, False, id=f"case{i:03d}", marks=() if i in FAST_CASES else pytest.mark.slow)
              for i in range(N_CASES)]
    params += [pytest.param(10_000 + i, True, id=f"slow{i:02d}", marks=pytest.mark.slow) for i in range(N_SLOW)]
    return params


# --------------------------------------------------------------------------- reference


def _nimads(case: generate.Case) -> dict:
    """The case's rows as a NIMADS studyset dictionary (studies and analyses in row order)."""
    studies: dict[str, dict] = {}
    analyses: dict[tuple, dict] = {}
    for r in case.rows:
        study = studies.setdefault(r["study_id"], {"id": r["study_id"], "name": r["study_id"], "analyses": []})
        key = (r["study_id"], r["analysis_id"])
        if key not in analyses:
            analyses[key] = {"id": r["analysis_id"], "name": r["analysis_id"], "points": [],
                             "metadata": {"sample_sizes": [r["sample_size"]]}}
            study["analyses"].append(analyses[key])
        analyses[key]["points"].append({"space": r["space"], "coordinates": [r["x"], r["y"], r["z"]]})
    return {"id": case.name, "name": case.name, "studies": list(studies.values())}


def _float_image(values, masker) -> nib.Nifti1Image:
    img = masker.inverse_transform(np.asarray(values, dtype=np.float32))
    return nib.Nifti1Image(np.asarray(img.get_fdata(dtype=np.float32), dtype=np.float32), img.affine)


def _reference_clusters(table: pd.DataFrame) -> pd.DataFrame:
    """nilearn's cluster table as ``cluster_id, main, x, y, z, ale, size_mm3`` (integer ids)."""
    rows, cluster = [], None
    for _, row in table.iterrows():
        cid = row["Cluster ID"]
        text = str(cid)
        is_main = isinstance(cid, (int, np.integer)) or bool(re.fullmatch(r"\d+(\.0+)?", text))
        if is_main:
            cluster = int(float(text))
        else:
            assert cluster is not None and text.startswith(str(cluster)), text
        size = row["Cluster Size (mm3)"]
        rows.append({"cluster_id": cluster, "main": is_main, "x": float(row["X"]), "y": float(row["Y"]),
                     "z": float(row["Z"]), "ale": float(row["Peak Stat"]),
                     "size_mm3": int(float(size)) if is_main else None})
    return pd.DataFrame(rows, columns=["cluster_id", "main", "x", "y", "z", "ale", "size_mm3"])


def reference(case: generate.Case, spec: dict) -> dict:
    """NiMARE + nilearn on the case, as the walkthrough does it."""
    from nilearn.reporting import get_clusters_table
    from nimare.diagnostics import Jackknife
    from nimare.meta.cbma.ale import ALE
    from nimare.nimads import Studyset

    ale_kwargs = {}
    ale_opts = spec.get("ale", {})
    if ale_opts.get("kernel_fwhm") is not None:
        ale_kwargs["kernel__fwhm"] = ale_opts["kernel_fwhm"]
    if ale_opts.get("sample_size") is not None:
        ale_kwargs["kernel__sample_size"] = ale_opts["sample_size"]
    percentile = spec.get("display", {}).get("threshold_percentile", 95)
    cluster_mm3 = spec["jackknife"].get("cluster_threshold_mm3", 500)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        studyset = Studyset(_nimads(case), target="mni152_2mm")
        result = ALE(**ale_kwargs).fit(studyset)
        masker = result.estimator.masker
        raw = result.get_map("stat", return_type="array")
        # The walkthrough's threshold: the percentile of NiMARE's own array, in its own dtype
        # (float32), as tests/test_oracle.py takes it.
        threshold = float(np.percentile(raw[raw > 0], percentile))
        values = np.asarray(raw, dtype=np.float64)
        stat_img = _float_image(values, masker)
        data = np.asarray(stat_img.dataobj)
        peak_ijk = np.unravel_index(int(np.nanargmax(data)), data.shape)
        voxel_mm3 = float(np.prod(stat_img.header.get_zooms()[:3]))
        min_voxels = int(np.ceil(cluster_mm3 / voxel_mm3 - 1e-9))
        table, label_maps = get_clusters_table(stat_img, threshold, min_voxels, two_sided=False,
                                               return_label_maps=True)
        labels = (np.asarray(label_maps[0].dataobj).astype(int) if (len(table) and label_maps)
                  else np.zeros(data.shape, dtype=int))
        jackknife = None
        if len(table):
            diag = Jackknife(target_image="stat", voxel_thresh=threshold, cluster_threshold=min_voxels,
                             n_cores=1).transform(result)
            jackknife = diag.tables["stat_diag-Jackknife_tab-counts_tail-positive"]
        coords = studyset.coordinates
    return {
        "values": values, "masker": masker, "data": data.astype(np.float64), "threshold": threshold,
        "peak_value": float(data[peak_ijk]),
        "peak_xyz": [float(v) for v in nib.affines.apply_affine(stat_img.affine, peak_ijk)],
        "clusters": _reference_clusters(table), "labels": labels, "jackknife": jackknife,
        "coords": coords, "ids": [str(i) for i in studyset.ids],
    }


# --------------------------------------------------------------------------- the test


def _citation_counts(text: str) -> dict:
    counts = {}
    m = re.search(r"computed on (\d+) experiments? \((\d+) foci\)", text)
    if m:
        counts["methods_experiments"], counts["methods_foci"] = int(m[1]), int(m[2])
    m = re.search(r"of (\d+) experiments? from (\d+) stud(?:y|ies) \((\d+) reported foci\)", text)
    if m:
        counts["experiments"], counts["studies"], counts["foci"] = int(m[1]), int(m[2]), int(m[3])
    m = STATED_CLUSTERS.search(text)
    if m:
        counts["clusters"] = 0 if m[1] == "no" else int(m[1])
    return counts


#: How the words state the descriptive clusters: the interpretation's "Above a display-only
#: threshold (...; not statistical), 2 descriptive clusters (D1-D2) ..." or the details' "Above it, 2
#: descriptive clusters".
STATED_CLUSTERS = re.compile(r"(?:Above it|not statistical\)), (\d+|no) descriptive clusters?")


@pytest.mark.parametrize("index, slow", _params())
def test_generated_case_equals_nimare(index, slow, mask, tmp_path):
    from ale_app.cli import main

    case = generate.make_case(index, *mask, slow=slow)
    spec_path = generate.write_case(case, tmp_path / "in")
    spec = json.loads(spec_path.read_text())
    out = tmp_path / "out"
    code = main([str(spec_path), str(out), "-q"])
    assert code == 0, f"ale-app exited {code!r} on {case.name}"
    ref = reference(case, spec)
    CASES_RUN.append(case.name)
    problems: list[str] = []

    def check(cond: bool, text: str):
        if not cond:
            problems.append(text)

    # Foci that entered the analysis, in MNI (Talairach converted by NiMARE).
    coords = pd.read_csv(out / O.COORDINATES, sep="\t")
    ref_coords = ref["coords"]
    check(len(coords) == case.n_foci == len(ref_coords), f"foci: {len(coords)} vs {case.n_foci}")
    if len(coords) == len(ref_coords):
        ours_xyz = coords.sort_values(["analysis_id", "x", "y", "z"])[["x", "y", "z"]].to_numpy(float)
        ref_sorted = ref_coords.assign(analysis_id=ref_coords["id"]).sort_values(["analysis_id", "x", "y", "z"])
        diff = float(np.max(np.abs(ours_xyz - ref_sorted[["x", "y", "z"]].to_numpy(float))))
        _seen("coordinates (mm)", diff)
        check(diff <= 1e-6, f"coordinates differ by {diff:.3g} mm")

    # ALE map.
    img = nib.load(out / O.STATMAP)
    written = np.asarray(img.dataobj, dtype=np.float64)
    diff = float(np.max(np.abs(written - ref["data"])))
    _seen("ALE map", diff)
    check(diff <= ALE_TOL, f"ALE map differs by {diff:.3g}")

    # Display threshold and peak.
    sidecar = json.loads((out / D.sidecar_name(O.STATMAP)).read_text())
    diff = abs(sidecar["DisplayThreshold"] - ref["threshold"])
    _seen("display threshold", diff)
    check(diff <= 1e-9, f"display threshold {sidecar['DisplayThreshold']} vs {ref['threshold']}")
    diff = abs(sidecar["PeakValue"] - ref["peak_value"])
    _seen("peak value", diff)
    check(diff <= 1e-9, f"peak value {sidecar['PeakValue']} vs {ref['peak_value']}")
    diff = float(np.max(np.abs(np.subtract(sidecar["PeakMNI"], ref["peak_xyz"]))))
    _seen("peak position (mm)", diff)
    check(diff == 0, f"peak at {sidecar['PeakMNI']} vs {ref['peak_xyz']}")

    # Cluster map.
    labels = np.rint(np.asarray(nib.load(out / O.CLUSTER_MAP).dataobj)).astype(int)
    n_diff = int(np.sum(labels != ref["labels"]))
    _seen("cluster map (voxels)", n_diff)
    check(n_diff == 0, f"cluster map differs in {n_diff} voxels")

    # Cluster table.
    table = pd.read_csv(out / O.CLUSTER_TABLE, sep="\t")
    rc = ref["clusters"]
    n_clusters = int(rc["main"].sum())
    check(len(table) == len(rc), f"cluster table has {len(table)} rows, nilearn {len(rc)}")
    if len(table) == len(rc) and len(rc):
        check(table["cluster_id"].astype(str).tolist() == [str(c) for c in rc["cluster_id"]],
              f"cluster ids {table['cluster_id'].tolist()} vs {rc['cluster_id'].tolist()}")
        kinds = ["main" if m else "sub" for m in rc["main"]]
        ours_kinds = ["main" if p == "main" else "sub" if str(p).startswith("sub-") else str(p)
                      for p in table["peak"]]
        check(ours_kinds == kinds, f"peak kinds {table['peak'].tolist()} vs {kinds}")
        diff = float(np.max(np.abs(table[["x", "y", "z"]].to_numpy(float) - rc[["x", "y", "z"]].to_numpy(float))))
        _seen("cluster peaks position (mm)", diff)
        check(diff == 0, f"cluster peak positions differ by {diff} mm")
        diff = float(np.max(np.abs(table["ale"].to_numpy(float) - rc["ale"].to_numpy(float))))
        _seen("cluster peaks ALE", diff)
        check(diff <= 1e-8, f"cluster peak values differ by {diff:.3g}")
        ours_sizes = pd.to_numeric(table["size_mm3"], errors="coerce")
        ref_sizes = rc["size_mm3"].astype(float)
        same = np.array_equal(ours_sizes.isna().to_numpy(), ref_sizes.isna().to_numpy()) and np.array_equal(
            ours_sizes.dropna().to_numpy(float), ref_sizes.dropna().to_numpy(float))
        check(same, f"cluster sizes {ours_sizes.tolist()} vs {ref_sizes.tolist()}")
    check(set(np.unique(labels)) - {0} == set(range(1, n_clusters + 1)),
          f"cluster map labels {sorted(set(np.unique(labels)) - {0})} vs 1..{n_clusters}")

    # Jackknife table.
    jk_path = out / O.JACKKNIFE_TABLE
    if ref["jackknife"] is None:
        if jk_path.exists():
            jk = pd.read_csv(jk_path, sep="\t")
            check(not [c for c in jk.columns if c.startswith("cluster_")],
                  f"jackknife table has cluster columns but nilearn finds no cluster: {list(jk.columns)}")
    else:
        jk = pd.read_csv(jk_path, sep="\t")
        rj = ref["jackknife"]
        ref_cols = [c for c in rj.columns if c != "id"]
        our_cols = [f"cluster_{c.split()[-1]}" for c in ref_cols]
        check(list(jk.columns) == ["id", *our_cols, "mean"], f"jackknife columns {list(jk.columns)}")
        # ale-app lists analyses in file order, NiMARE in its studyset's order: match rows by id.
        check(sorted(jk["id"].astype(str)) == sorted(rj["id"].astype(str)),
              f"jackknife ids {jk['id'].tolist()} vs {rj['id'].tolist()}")
        if list(jk.columns) == ["id", *our_cols, "mean"] and sorted(jk["id"].astype(str)) == sorted(rj["id"].astype(str)):
            jk = jk.assign(id=jk["id"].astype(str)).set_index("id").loc[rj["id"].astype(str)]
            ref_values = rj[ref_cols].to_numpy(float)
            diff = float(np.max(np.abs(jk[our_cols].to_numpy(float) - ref_values)))
            _seen("jackknife", diff)
            check(diff <= JACKKNIFE_TOL, f"jackknife differs by {diff:.3g}")
            diff = float(np.max(np.abs(jk["mean"].to_numpy(float) - ref_values.mean(axis=1))))
            _seen("jackknife mean", diff)
            check(diff <= JACKKNIFE_TOL, f"jackknife mean differs by {diff:.3g}")

    # Counts the report and CITATION.md state.
    counts = _citation_counts((out / "CITATION.md").read_text())
    expected = {"experiments": case.n_experiments, "methods_experiments": case.n_experiments,
                "studies": case.n_studies, "foci": case.n_foci, "methods_foci": case.n_foci,
                "clusters": n_clusters}
    for key, value in expected.items():
        check(counts.get(key) == value, f"CITATION.md states {key} = {counts.get(key)}, expected {value}")
    report = (out / "report.html").read_text()
    stated = STATED_CLUSTERS.search(report)
    check(stated is not None and (0 if stated[1] == "no" else int(stated[1])) == n_clusters,
          f"report.html does not state {n_clusters} descriptive cluster(s)")

    assert not problems, f"{case.name} (seed {case.seed}; {spec_path}):\n  " + "\n  ".join(problems)
