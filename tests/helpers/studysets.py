"""The evidence bases of the oracle tests, and ale-app's fits of two groups.

Also imported by benchmarks/robustness_balanced.py and benchmarks/robustness_stability.py
(which put ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

import generate

from ale_app.spec.models import ALESpec
from ale_app.stats.ale import fit_ale


def pain_studyset():
    """NiMARE's pain studyset (21 analyses), in NiMARE's 2 mm MNI space."""
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    return Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"), target="mni152_2mm")


def pain_groups(n1=10, n2=11):
    """The pain studyset's first ``n1`` analyses and the ``n2`` after them, as two studysets."""
    from nimare.nimads import Studyset
    from nimare.utils import get_resource_path

    studyset = Studyset(os.path.join(get_resource_path(), "nidm_pain_studyset.json"), target="mni152_2mm")
    ids = list(studyset.ids)
    return studyset.slice(ids[:n1]), studyset.slice(ids[n1 : n1 + n2])


def generated_group(first_case: int, n: int, tag: str):
    """``n`` experiments from the seeded generator's cases ``first_case``, ``first_case + 1``,
    ... (their kinds vary: clustered, scattered, ties, foci outside the mask, Talairach
    tables), as a NIMADS studyset with the template's space."""
    from nimare.nimads import Studyset

    mask, affine = generate.template_mask()
    studies: dict[str, dict] = {}
    count, index = 0, first_case
    while count < n:
        case = generate.make_case(index, mask, affine)
        index += 1
        analyses: dict[tuple, dict] = {}
        for r in case.rows:
            key = (r["study_id"], r["analysis_id"])
            if key not in analyses:
                if count == n:
                    continue
                count += 1
                sid = f"{tag}-{case.index}-{r['study_id']}"
                study = studies.setdefault(sid, {"id": sid, "name": sid, "analyses": []})
                analyses[key] = {"id": f"{sid}-{r['analysis_id']}", "name": r["analysis_id"], "points": [],
                                 "metadata": {"sample_sizes": [r["sample_size"]]}}
                study["analyses"].append(analyses[key])
            analyses[key]["points"].append({"space": r["space"], "coordinates": [r["x"], r["y"], r["z"]]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Studyset({"id": tag, "name": tag, "studies": list(studies.values())}, target="mni152_2mm")


def generated_groups(n1: int, n2: int, first_case: int):
    """Two generated groups of ``n1`` and ``n2`` experiments (:func:`generated_group`), the
    second from the cases 50 further on."""
    return generated_group(first_case, n1, "a"), generated_group(first_case + 50, n2, "b")


def fit_groups(s1, s2, kernel_fwhm=None, sample_size=None):
    """ale-app's ALE fits of two groups with the same kernel settings."""
    spec = ALESpec(kernel_fwhm=kernel_fwhm, sample_size=sample_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_ale(s1, spec), fit_ale(s2, spec)


def planted_dataset(n_experiments=20, seed=7, planted=((40, -20, 50, None),), n_random=(3, 8)):
    """A seeded dataset: each experiment has a few foci at random in the brain, plus, for each
    planted centre ``(x, y, z, k)``, a focus within 4 mm of it in the first ``k`` experiments
    (all when k is None)."""
    from nimare.dataset import Dataset
    from nimare.utils import get_template

    rng = np.random.default_rng(seed)
    mask = get_template("mni152_2mm", mask="brain")
    ijk = np.argwhere(np.asanyarray(mask.dataobj) > 0)
    data = {}
    for e in range(n_experiments):
        xyz = ijk[rng.integers(0, len(ijk), int(rng.integers(*n_random)))] @ mask.affine[:3, :3].T + mask.affine[:3, 3]
        extra = [np.array(c[:3]) + rng.uniform(-4, 4, 3) for c in planted if c[3] is None or e < c[3]]
        if extra:
            xyz = np.vstack([xyz, np.array(extra)])
        data[f"study{e:02d}"] = {"contrasts": {"1": {
            "coords": {"space": "MNI", "x": xyz[:, 0].tolist(), "y": xyz[:, 1].tolist(), "z": xyz[:, 2].tolist()},
            "metadata": {"sample_sizes": [int(rng.integers(8, 41))]},
        }}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Dataset(data, target="mni152_2mm")
