"""Re-run an ale-app analysis elsewhere: the evidence base as a Sleuth text file (GingerALE's
format) and a self-contained Python script that re-runs the analysis with NiMARE alone and
compares its maps with ale-app's.

Both are written by every run of one group or one contrast (:mod:`ale_app.outputs.group_outputs`,
:mod:`ale_app.outputs.run_outputs`). The script reads the run's ``coordinates.tsv``
(the foci in the target space, after any space conversion) and carries everything else it
needs (the order of the experiments, their sample sizes and the settings that ran) in one
JSON literal, so it depends on nothing of ale-app.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ale_app import __version__

#: Where a run writes its re-run script (BIDS derivatives keep code in ``code/``).
SCRIPT = "code/nimare_rerun.py"
#: The Sleuth export's name (a group's is ``group-<name>_`` + this).
SLEUTH = "desc-sleuth_coordinates.txt"
#: Largest |difference| the script accepts between NiMARE's maps and ale-app's.
TOLERANCE = 1e-6
#: The NiMARE release ale-app equals.
NIMARE_VERSION = "0.22.1"


def _number(value: float) -> str:
    """A coordinate as Sleuth text: integers without a decimal point, others exactly (repr)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


#: A name line's text, after ``// ``, that a Sleuth reader takes for another kind of line.
_HEADER_WORDS = re.compile(r"^(reference|subjects)\s*=", re.IGNORECASE)
#: Line ends as NiMARE's reader (and ale-app's) splits a Sleuth file.
_LINE_BREAKS = re.compile("\n\r|\r\n|\n|\r")
#: What a name line is written as when its name cannot be (``{n}``: the experiment's position).
UNEXPORTED = "ale-app unexported name {n}"


def sleuth_name_line(study: str, analysis: str) -> tuple[str | None, str]:
    """The text after ``// `` of the name line that ale-app and NiMARE 0.22.1 both read back
    as ``(study, analysis)``, and ``""``; or ``None`` and why no line can.

    Readers split a name line at the first ``:`` or ``;`` after a year (19xx, 20xx), else at
    the first ``;``, else at the first ``:``, and strip both parts; NiMARE also deletes every
    ``//`` in it. ``<study>: <analysis>`` and ``<study>; <analysis>`` are tried, each checked
    by splitting it as the readers do."""
    from ale_app.inputs.readers.sleuth import split_study_info

    for sep in (":", ";"):
        body = f"{study}{sep} {analysis}"
        if "//" in body:
            return None, "it holds '//', which NiMARE's Sleuth reader deletes from name lines"
        if len(_LINE_BREAKS.split(f"// {body}")) > 1:
            return None, "it holds a line break"
        if _HEADER_WORDS.match(body):
            return None, "its name line would be read as a '// Reference=' or '// Subjects=' line"
        if split_study_info(body) == (study, analysis):
            return body, ""
    back_study, back_analysis = split_study_info(f"{study}: {analysis}")
    return None, (f"the name line '// {study}: {analysis}' reads back as '{back_study}-{back_analysis}' (a Sleuth "
                  "name line is split at the first ':' or ';' after a year, else at the first ';', else at the "
                  "first ':', and each part is stripped of spaces)")


def sleuth_names(evidence) -> dict[str, tuple[str, str]]:
    """Each experiment's name line text in the Sleuth export, by id: ``(text, "")`` when it
    reads back as the experiment's study and analysis, else ``(placeholder, why)``, the
    placeholder (:data:`UNEXPORTED`) reading back as an id no other experiment has."""
    coords = evidence.coordinates
    studies = {aid: str(rows["study_id"].iloc[0]) for aid, rows in coords.groupby("analysis_id", sort=False)}
    names, refused = {}, []
    for aid in evidence.ids:
        if aid not in studies:
            continue
        study = studies[aid]
        analysis = aid[len(study) + 1:] if aid.startswith(f"{study}-") else aid
        body, why = sleuth_name_line(study, analysis)
        if body is None:
            refused.append((aid, why))
        else:
            names[aid] = (body, "")
    taken = set(names)
    for aid, why in refused:
        n = evidence.ids.index(aid) + 1
        placeholder = UNEXPORTED.format(n=n)
        while f"{placeholder}-analysis_1" in taken:
            placeholder += "+"
        taken.add(f"{placeholder}-analysis_1")
        names[aid] = (placeholder, why)
    return {aid: names[aid] for aid in evidence.ids if aid in names}


def unexported_names(evidence) -> list[dict]:
    """The experiments whose names the Sleuth export cannot carry: id, what is written, why."""
    return [{"Id": aid, "WrittenAs": f"{body}-analysis_1", "Why": why}
            for aid, (body, why) in sleuth_names(evidence).items() if why]


def sleuth_text(evidence, sample_size_override: int | None = None) -> str:
    """The evidence base as GingerALE's Sleuth text: ``// Reference=MNI`` (the foci as they
    entered the analysis, after any space conversion), then per experiment, in file order,
    its name line (:func:`sleuth_names`: ``// <study id>: <analysis>``, or ``;``, which ale-app
    and NiMARE read back to the same id; a placeholder for a name no line can carry), its
    ``// Subjects=`` line (the spec's ``ale.sample_size`` when it overrides the data; none when
    neither is known; GingerALE's order: name, then subjects) and its foci."""
    coords = evidence.coordinates
    lines = ["// Reference=MNI"]
    by_id = {aid: rows for aid, rows in coords.groupby("analysis_id", sort=False)}
    names = sleuth_names(evidence)
    for aid in evidence.ids:
        rows = by_id.get(aid)
        if rows is None:
            continue
        size = sample_size_override if sample_size_override is not None else evidence.sample_sizes.get(aid)
        lines.append(f"// {names[aid][0]}")
        if size is not None and math.isfinite(size):
            lines.append(f"// Subjects={int(size)}")
        lines += [f"{_number(r.x)}\t{_number(r.y)}\t{_number(r.z)}" for r in rows.itertuples()]
        lines.append("")
    return "\n".join(lines) + "\n"


def sleuth_parameters(evidence, sample_size_override: int | None) -> dict:
    """What the Sleuth export's sidecar says of how it was written."""
    missing = [aid for aid in evidence.ids if evidence.sample_sizes.get(aid) is None]
    parameters: dict[str, Any] = {
        "Format": "Sleuth text (GingerALE)", "Reference": "MNI",
        "CoordinatesAs": "in the target space, after any space conversion (as in coordinates.tsv)",
        "SubjectsFrom": ("ale.sample_size (the spec overrides the data)" if sample_size_override is not None
                         else "each experiment's sample size in the input"),
        "ExperimentsWithoutSubjects": [] if sample_size_override is not None else missing,
        "NameLines": "'// <study id>: <analysis>', read back to the experiment id '<study id>-<analysis>'"}
    refused = unexported_names(evidence)
    if refused:
        parameters["NamesNotExported"] = refused
        parameters["NameLines"] += (
            " (or '// <study id>; <analysis>' where ':' would split elsewhere); NamesNotExported lists the "
            "experiments whose names no name line reads back to (ale-app and NiMARE would read other ids): each "
            "is written under a placeholder name, with its subjects and foci unchanged")
    return parameters


def group_settings(result, name: str | None = None, prefix: str = "") -> dict:
    """The part of the script's settings that one group (or a one-group run) needs."""
    spec, ev = result.spec, result.evidence
    settings = {
        "name": name,
        "prefix": prefix,
        "ids": list(ev.ids),
        "fitted_order": [str(i) for i in result.fit.ids],
        "sample_sizes": {aid: ev.sample_sizes.get(aid) for aid in ev.ids},
        "kernel": {"fwhm": spec.ale.kernel_fwhm, "sample_size": spec.ale.sample_size},
        "template": spec.ale.template,
        "display_threshold": result.threshold,
        "jackknife": None,
        "inference": None,
    }
    if result.jackknife is not None and result.clusters is not None:
        settings["jackknife"] = {"cluster_min_voxels": int(result.clusters.min_voxels),
                                 "method": spec.jackknife.method}
    if result.inference is not None:
        inf = spec.inference
        settings["inference"] = {"voxel_p": inf.voxel_p, "n_iterations": inf.n_iterations, "seed": inf.seed}
    st = getattr(result, "stability", None)
    if st is not None:
        # The spec's number of subsets (None: every one), as NiMARE's n_resamples takes it.
        settings["stability"] = {"subset_size": st.subset_size, "n_subsets": spec.robustness.stability.n_subsets,
                                 "alpha": st.alpha, "null_space": st.null_space}
    return settings


def script_settings(result, name: str | None = None) -> dict:
    """Everything the re-run script needs, for a one-group or a two-group result (``name``:
    the group's name in a run of several groups, whose files carry it)."""
    groups = getattr(result, "groups", None)
    if groups:  # a contrast result
        from ale_app.outputs.names import contrast_names, group_prefix

        spec = result.spec
        settings: dict[str, Any] = {
            "groups": [group_settings(g, name, group_prefix(name)) for name, g in groups.items()]}
        names = contrast_names(spec)
        contrast = {"first": spec.first, "second": spec.second, "files": names, "subtraction": None}
        if getattr(result, "subtraction", None) is not None:
            contrast["subtraction"] = {"voxel_p": spec.inference.voxel_p,
                                       "n_iterations": spec.inference.n_iterations, "seed": spec.inference.seed}
        bal = getattr(result, "balanced", None)
        contrast["balanced"] = None if bal is None else {
            "target_n": bal.target_n, "n_subsamples": bal.n_subsamples,
            "difference_iterations": bal.difference_iterations, "n_iterations": bal.n_iterations,
            "voxel_p": bal.voxel_p, "alpha": bal.alpha, "mask_coverage": bal.mask_coverage, "seed": bal.seed}
        settings["contrast"] = contrast
    elif name is not None:
        from ale_app.outputs.names import group_prefix

        settings = {"groups": [group_settings(result, name, group_prefix(name))], "contrast": None}
    else:
        settings = {"groups": [group_settings(result)], "contrast": None}
    settings["ale_app_version"] = __version__
    settings["nimare_version"] = NIMARE_VERSION
    settings["tolerance"] = TOLERANCE
    return settings


def nimare_script(result, name: str | None = None) -> str:
    """The self-contained re-run script of ``result`` (see the module docstring); ``name``: the
    group's name, for one group's script in a run of several groups."""
    settings = json.dumps(script_settings(result, name), indent=1, sort_keys=True)
    return _SCRIPT.replace("@SETTINGS@", settings).replace("@VERSION@", __version__).replace(
        "@NIMARE@", NIMARE_VERSION)


_SCRIPT = r'''#!/usr/bin/env python3
"""Re-run this ale-app @VERSION@ analysis with NiMARE @NIMARE@ alone, and compare the maps.

ale-app wrote this script into the run's output folder (OUTPUT_DIR/code/). It needs only
NiMARE (pip install nimare==@NIMARE@) and the run folder: it reads the foci from
coordinates.tsv (in the target space, after any space conversion ale-app applied) and the
order of the experiments, their sample sizes and the settings that ran from SETTINGS below.
Equality holds in the order ale-app fitted the experiments (their ids, sorted as a NiMARE
Studyset sorts them); the script checks that NiMARE fits them in that order.
It fits NiMARE's ALE with the same kernel, and, as the run did:
  - the leave-one-out Jackknife over the descriptive clusters (NiMARE's
    diagnostics.Jackknife at the run's display threshold and cluster size);
  - the Monte Carlo cluster-level FWE inference (FWECorrector(method="montecarlo")) with the
    same seed, iterations and cluster-forming threshold;
  - the subsampling stability (diagnostics.ResampledStability) with the same subsets and
    seed, when robustness.stability ran;
  - for two groups, the difference of their ALE maps and, in inferential mode,
    ALESubtraction with the same seed and permutations (or, with contrast.method:
    balanced, BalancedALESubtraction with the same seed and sizes);
(ale-app's jackknife and focus counts over the FWE clusters, its conjunction and its fail-safe
N, which NiMARE does not have, are not re-run here), then prints the largest absolute difference between each NiMARE map (or table) and the file
ale-app wrote, and exits with status 1 when one exceeds the tolerance. It writes nothing.

Usage: python nimare_rerun.py [RUN_FOLDER] [--n-cores N] [--skip-jackknife] [--skip-stability]
(RUN_FOLDER defaults to the folder above this script's own.)
"""

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

SETTINGS = json.loads(r"""
@SETTINGS@
""")

SPACE = "space-MNI152NLin6Asym_res-2"


def studyset_of(folder, group):
    """The group's experiments as a NiMARE Studyset, in the order ale-app fitted them."""
    from nimare.nimads import Studyset

    coords = pd.read_csv(folder / "coordinates.tsv", sep="\t", dtype={"analysis_id": str, "study_id": str,
                                                                       "group": str}, keep_default_na=False)
    if group["name"] is not None:
        coords = coords[coords["group"] == group["name"]]
    studies = {}
    for aid in group["ids"]:
        rows = coords[coords["analysis_id"] == aid]
        study = str(rows["study_id"].iloc[0])
        size = group["sample_sizes"].get(aid)
        studies.setdefault(study, {"id": study, "name": study, "analyses": []})["analyses"].append({
            "id": aid[len(study) + 1:],
            "name": aid[len(study) + 1:],
            "points": [{"space": "MNI", "coordinates": [float(r.x), float(r.y), float(r.z)]}
                       for r in rows.itertuples()],
            "metadata": {} if size is None else {"sample_sizes": [size]},
        })
    nimads = {"id": "ale-app-rerun", "name": "ale-app re-run", "studies": list(studies.values())}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        studyset = Studyset(nimads, target=group["template"])
    # Equality holds in ale-app's experiment order: NiMARE hands its random draws to the
    # experiments in the order of its ids, so the same experiments under other ids (NiMARE's own
    # Sleuth reader keeps a repeated "// Reference=" line in them) draw other numbers.
    if [str(i) for i in studyset.ids] != group["fitted_order"]:
        sys.exit("NiMARE orders these experiments differently from the run; the random draws of the "
                 "Monte Carlo and permutation tests would go to other experiments, so nothing is compared.")
    return studyset


def ale_estimator(group, **kwargs):
    from nimare.meta.cbma.ale import ALE

    kernel = group["kernel"]
    if kernel["fwhm"] is not None:
        kwargs["kernel__fwhm"] = kernel["fwhm"]
    if kernel["sample_size"] is not None:
        kwargs["kernel__sample_size"] = kernel["sample_size"]
    return ALE(**kwargs)


class Comparison:
    def __init__(self, folder, tolerance):
        self.folder, self.tolerance, self.worst = folder, tolerance, 0.0

    def map(self, label, nimare_img, name, masker):
        written = masker.transform(nib.load(self.folder / name)).ravel()
        ours = masker.transform(nimare_img).ravel() if not isinstance(nimare_img, np.ndarray) else nimare_img
        self._report(label, float(np.max(np.abs(np.asarray(ours, dtype=float) - written))) if written.size else 0.0)

    def values(self, label, nimare_values, written_values):
        a = np.asarray(nimare_values, dtype=float)
        b = np.asarray(written_values, dtype=float)
        if a.shape != b.shape:
            print(f"{label}: shapes differ (NiMARE {a.shape}, ale-app {b.shape})")
            self.worst = float("inf")
            return
        self._report(label, float(np.max(np.abs(a - b))) if a.size else 0.0)

    def _report(self, label, diff):
        self.worst = max(self.worst, diff)
        print(f"{label}: max |NiMARE - ale-app| = {diff:.3g}")


def jackknife(group, result, folder, check, n_cores):
    from nimare.diagnostics import Jackknife

    jk = group["jackknife"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diag = Jackknife(target_image="stat", voxel_thresh=group["display_threshold"],
                         cluster_threshold=jk["cluster_min_voxels"], n_cores=n_cores)
        table = diag.transform(result).tables["stat_diag-Jackknife_tab-counts_tail-positive"]
    written = pd.read_csv(folder / f"{group['prefix']}desc-jackknife_table.tsv", sep="\t", dtype={"id": str})
    table = table.set_index("id").loc[written["id"]]
    columns = [c for c in written.columns if c.startswith("cluster_")]
    ours = table[[c for c in table.columns if c.startswith("PositiveTail")]].to_numpy(dtype=float)
    check.values(f"{group['prefix']}desc-jackknife_table.tsv", ours, written[columns].to_numpy(dtype=float))


def one_group(group, folder, check, args):
    studyset = studyset_of(folder, group)
    inference = group["inference"]
    estimator = ale_estimator(group, **({"random_state": inference["seed"]} if inference else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimator.fit(studyset)
    masker = result.estimator.masker
    p = group["prefix"]
    check.map(f"{p}{SPACE}_stat-ale_statmap.nii.gz", result.get_map("stat"), f"{p}{SPACE}_stat-ale_statmap.nii.gz",
              masker)
    if group["jackknife"] is not None and not args.skip_jackknife:
        jackknife(group, result, folder, check, args.n_cores)
    if inference is not None:
        from nimare.correct import FWECorrector

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            corrected = FWECorrector(method="montecarlo", voxel_thresh=inference["voxel_p"],
                                     n_iters=inference["n_iterations"], n_cores=args.n_cores).transform(result)
        maps = {"z": "z", "p": "p",
                "logp_desc-clusterFWE": "logp_desc-size_level-cluster_corr-FWE_method-montecarlo",
                "logp_desc-voxelFWE": "logp_level-voxel_corr-FWE_method-montecarlo"}
        for ours, theirs in maps.items():
            name = f"{p}{SPACE}_stat-{ours}_statmap.nii.gz"
            check.map(name, corrected.get_map(theirs), name, masker)
        if group.get("stability") is not None and not args.skip_stability:
            stability(group, corrected, folder, check, args.n_cores, masker)
    return result


def stability(group, corrected, folder, check, n_cores, masker):
    """robustness.stability -- NiMARE's ResampledStability on the FWE-corrected result, with
    the run's subsets, seed and null space (its null draws as many as the FWE's iterations)."""
    from nimare.diagnostics import ResampledStability

    st, inference = group["stability"], group["inference"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stab = ResampledStability(target_n=st["subset_size"], n_resamples=st["n_subsets"],
                                  random_state=inference["seed"], voxel_thresh=inference["voxel_p"],
                                  alpha=st["alpha"], mask_coverage=st["null_space"], n_cores=n_cores
                                  ).transform(corrected)
    theirs = next(k for k in stab.maps if k.endswith("_diag-ResampledStability"))
    name = f"{group['prefix']}{SPACE}_desc-stability_statmap.nii.gz"
    check.map(name, stab.get_map(theirs), name, masker)


def contrast(results, folder, check, args):
    spec = SETTINGS["contrast"]
    first, second = (next(g for g in SETTINGS["groups"] if g["name"] == n) for n in (spec["first"], spec["second"]))
    files = spec["files"]
    masker = results[first["name"]].estimator.masker
    if spec.get("balanced") is not None:
        return balanced(spec, first, second, folder, check, args, masker)
    diff = (masker.transform(results[first["name"]].get_map("stat"))
            - masker.transform(results[second["name"]].get_map("stat"))).ravel()
    check.map(files["diff"], diff, files["diff"], masker)
    sub = spec["subtraction"]
    if sub is None:
        return
    from nimare.correct import FWECorrector
    from nimare.meta.cbma.ale import ALESubtraction

    estimator = ALESubtraction(n_iters=sub["n_iterations"], random_state=sub["seed"], n_cores=args.n_cores,
                               **{f"kernel__{k}": v for k, v in first["kernel"].items() if v is not None})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = estimator.fit(studyset_of(folder, first), studyset_of(folder, second))
        corrected = FWECorrector(method="montecarlo", voxel_thresh=sub["voxel_p"], n_iters=sub["n_iterations"],
                                 n_cores=args.n_cores).transform(fitted)
    fwe = "_corr-FWE_method-montecarlo"
    for key, theirs in (("z", "z_desc-group1MinusGroup2"), ("p", "p_desc-group1MinusGroup2"),
                        ("logp_voxel", "logp_desc-group1MinusGroup2_level-voxel" + fwe),
                        ("logp_size", "logp_desc-group1MinusGroup2Size_level-cluster" + fwe),
                        ("logp_mass", "logp_desc-group1MinusGroup2Mass_level-cluster" + fwe)):
        check.map(files[key], corrected.get_map(theirs), files[key], masker)


def balanced(spec, first, second, folder, check, args, masker):
    """contrast.method: balanced -- NiMARE's BalancedALESubtraction with the run's sizes and seed."""
    from nimare.meta.cbma.ale import BalancedALESubtraction

    bal, files = spec["balanced"], spec["files"]
    estimator = BalancedALESubtraction(
        target_n=bal["target_n"], n_subsamples=bal["n_subsamples"],
        difference_iterations=bal["difference_iterations"], n_iters=bal["n_iterations"],
        voxel_thresh=bal["voxel_p"], alpha=bal["alpha"], mask_coverage=bal["mask_coverage"],
        random_state=bal["seed"], n_cores=args.n_cores,
        **{f"kernel__{k}": v for k, v in first["kernel"].items() if v is not None})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = estimator.fit(studyset_of(folder, first), studyset_of(folder, second))
    for key, theirs in (("diff", "stat_desc-balancedGroup1MinusGroup2"),
                        ("balanced_z", "z_desc-balancedGroup1MinusGroup2"),
                        ("balanced_p", "p_desc-balancedGroup1MinusGroup2"),
                        ("balanced_logp", "logp_desc-balancedGroup1MinusGroup2"),
                        ("balanced_prob1", "prob_desc-group1"), ("balanced_prob2", "prob_desc-group2"),
                        ("balanced_conjunction", "stat_desc-conjunction")):
        check.map(files[key], fitted.get_map(theirs), files[key], masker)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--n-cores", type=int, default=1)
    parser.add_argument("--skip-jackknife", action="store_true", help="do not re-run the jackknife")
    parser.add_argument("--skip-stability", action="store_true",
                        help="do not re-run the subsampling stability (NiMARE's takes about 50 times ale-app's time)")
    args = parser.parse_args(argv)
    import nimare

    if nimare.__version__ != SETTINGS["nimare_version"]:
        print(f"note: NiMARE {nimare.__version__} is installed; ale-app equals NiMARE {SETTINGS['nimare_version']}")
    logging.disable(logging.INFO)
    folder = Path(args.folder)
    check = Comparison(folder, SETTINGS["tolerance"])
    results = {g["name"]: one_group(g, folder, check, args) for g in SETTINGS["groups"]}
    if SETTINGS["contrast"] is not None:
        contrast(results, folder, check, args)
    verdict = "equal" if check.worst <= check.tolerance else "DIFFERENT"
    print(f"largest difference {check.worst:.3g} (tolerance {check.tolerance:g}): {verdict}")
    return 0 if check.worst <= check.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
'''
