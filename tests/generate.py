"""Seeded generator of evidence bases for the whole-pipeline oracle (tests/test_generated_oracle.py).

Each case is a coordinate table (``study_id, analysis_id, x, y, z, space, sample_size``)
and an ale-app spec. The cases cover what users bring: 2 to 60 experiments, 1 to 40 foci
each, foci clustered (with and without sub-peaks) or scattered, ties, a display threshold
that leaves no cluster, Talairach and MNI tables, and foci inside the template's box but
outside its brain mask. Plain numpy; the brain mask is passed in by the caller.

Run it by hand to write cases into a folder::

    python tests/generate.py OUT_DIR [N_CASES]
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: The kinds of evidence base, cycled through by case index so every kind is covered.
KINDS = (
    "clustered-single-peaks",  # tight clusters: every cluster has one peak (no sub-peaks)
    "clustered-subpeaks",  # spread clusters: sub-peaks 8+ mm from the main peak
    "scattered",  # foci anywhere in the brain
    "mixed",  # clusters plus scattered foci
    "ties",  # translated copies of one experiment: equal ALE values at separate places
    "zero-clusters",  # a display threshold / cluster filter that leaves no cluster
    "outside-mask",  # some foci inside the box but outside the brain mask
    "single-focus",  # one focus per experiment
)

SMALL_N = (2, 3, 4, 5, 6)
SLOW_N = (20, 40, 60)


@dataclass
class Case:
    """One generated evidence base and the spec options it runs with."""

    index: int
    seed: int
    kind: str
    n_experiments: int
    space: str
    rows: list[dict] = field(default_factory=list)
    spec_options: dict = field(default_factory=dict)
    slow: bool = False

    @property
    def name(self) -> str:
        return f"case{self.index:03d}-{self.kind}-n{self.n_experiments}-{self.space.lower()}"

    @property
    def n_foci(self) -> int:
        return len(self.rows)

    @property
    def n_studies(self) -> int:
        return len({r["study_id"] for r in self.rows})


def _mm(ijk, affine) -> np.ndarray:
    ijk = np.atleast_2d(ijk)
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def _in_mask_points(rng, mask_ijk, affine, n) -> np.ndarray:
    return _mm(mask_ijk[rng.integers(len(mask_ijk), size=n)], affine)


def _near(rng, centre, spread_mm, n) -> np.ndarray:
    return centre + rng.integers(-spread_mm, spread_mm + 1, size=(n, 3))


def _inside_mask(points, mask, affine) -> np.ndarray:
    ijk = np.rint((points - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T).astype(int)
    ok = np.all((ijk >= 0) & (ijk < np.array(mask.shape)), axis=1)
    out = np.zeros(len(points), dtype=bool)
    out[ok] = mask[tuple(ijk[ok].T)]
    return out


def _keep_in_brain(rng, points, mask, mask_ijk, affine) -> np.ndarray:
    """Replace any point that fell outside the mask by a random in-mask one."""
    bad = ~_inside_mask(points, mask, affine)
    if bad.any():
        points = points.copy()
        points[bad] = _in_mask_points(rng, mask_ijk, affine, int(bad.sum()))
    return points


def _outside_mask_points(rng, mask, affine, n) -> np.ndarray:
    """Points in the box but outside the brain mask, within 2 voxels of it (so they still count)."""
    from scipy.ndimage import binary_dilation

    ring = binary_dilation(mask, iterations=2) & ~mask
    ring_ijk = np.argwhere(ring)
    return _mm(ring_ijk[rng.integers(len(ring_ijk), size=n)], affine)


def make_case(index: int, mask: np.ndarray, affine: np.ndarray, slow: bool = False) -> Case:
    """Generate case ``index`` (seeded by it) on a brain ``mask`` (bool array) with ``affine``."""
    seed = 20_000 + index
    rng = np.random.default_rng(seed)
    kind = KINDS[index % len(KINDS)]
    n = int(rng.choice(SLOW_N if slow else SMALL_N))
    space = "TAL" if (index // len(KINDS)) % 3 == 1 and kind != "outside-mask" else "MNI"
    mask = np.asarray(mask, dtype=bool)
    mask_ijk = np.argwhere(mask)
    # Keep cluster centres away from the mask's edge so a Talairach shift stays in the box.
    core_ijk = np.argwhere(_erode(mask, 4))
    if space == "TAL":
        # Talairach foci move by up to ~10 mm on conversion: draw them away from the edge,
        # so none leaves the template's box (a focus far outside stops the run).
        mask_ijk = core_ijk

    n_centres = int(rng.integers(1, 4))
    centres = _in_mask_points(rng, core_ijk, affine, n_centres)
    experiments: list[np.ndarray] = []
    for _ in range(n):
        if kind == "clustered-single-peaks":
            pts = [_near(rng, c, 2, 1) for c in centres if rng.random() < 0.8] or [_near(rng, centres[0], 2, 1)]
            pts = np.vstack(pts)
        elif kind == "clustered-subpeaks":
            pts = np.vstack([_near(rng, c, 12, int(rng.integers(1, 4))) for c in centres])
        elif kind == "scattered":
            pts = _in_mask_points(rng, mask_ijk, affine, int(rng.integers(1, 41)))
        elif kind == "mixed":
            pts = np.vstack([_near(rng, c, 6, int(rng.integers(1, 3))) for c in centres]
                            + [_in_mask_points(rng, mask_ijk, affine, int(rng.integers(0, 15)))])
        elif kind == "ties":
            pts = None  # below
        elif kind == "zero-clusters":
            pts = _in_mask_points(rng, mask_ijk, affine, int(rng.integers(1, 20)))
        elif kind == "outside-mask":
            pts = np.vstack([_near(rng, centres[0], 4, int(rng.integers(1, 4))),
                             _in_mask_points(rng, mask_ijk, affine, int(rng.integers(0, 6)))])
        else:  # single-focus
            pts = _near(rng, centres[int(rng.integers(n_centres))], 8, 1)
        if pts is not None:
            pts = _keep_in_brain(rng, pts, mask, mask_ijk, affine)
            experiments.append(pts[:40])
    if kind == "ties":
        # One experiment, copied with whole-voxel shifts far apart: same sample size, so
        # the copies give equal ALE values at separate places (ties in peaks and clusters).
        base = _near(rng, np.zeros(3, dtype=int), 6, int(rng.integers(1, 4)))
        starts = _in_mask_points(rng, core_ijk, affine, n)
        experiments = [_keep_in_brain(rng, base + s, mask, mask_ijk, affine) for s in starts]
        # Two experiments at the very same place with the same sample size tie exactly too.
        if n >= 3:
            experiments[-1] = experiments[0].copy()
    if kind == "outside-mask":
        for e in range(n):
            if e % 2 == 0 or n == 2:
                extra = _outside_mask_points(rng, mask, affine, int(rng.integers(1, 4)))
                experiments[e] = np.vstack([experiments[e], extra])[:40]

    sizes = rng.integers(8, 41, size=n)
    if kind == "ties":
        sizes[:] = sizes[0]
    rows = []
    n_studies = max(1, n - int(rng.integers(0, max(1, n // 3) + 1)))  # some studies hold 2+ analyses
    for e, pts in enumerate(experiments):
        study = f"study{e % n_studies:02d}"
        analysis = f"contrast{e // n_studies + 1}"
        for x, y, z in np.asarray(pts, dtype=int):
            rows.append({"study_id": study, "analysis_id": analysis, "x": int(x), "y": int(y), "z": int(z),
                         "space": space, "sample_size": int(sizes[e])})

    options: dict = {"figures": {"formats": ["png"], "dpi": 50}}
    display: dict = {}
    jackknife: dict = {"enabled": True}
    if kind == "zero-clusters":
        if index % 2:
            jackknife["cluster_threshold_mm3"] = 1_000_000
        else:
            display["threshold_percentile"] = 99.9
            jackknife["cluster_threshold_mm3"] = 4000
    elif rng.random() < 0.3:
        display["threshold_percentile"] = float(rng.choice([80, 90, 99]))
    if kind != "zero-clusters" and rng.random() < 0.3:
        jackknife["cluster_threshold_mm3"] = float(rng.choice([8, 100, 250, 1000]))
    if rng.random() < 0.25:
        jackknife["method"] = "refit"
    ale: dict = {}
    draw = rng.random()
    if draw < 0.15:
        ale["kernel_fwhm"] = float(rng.choice([6, 8, 10, 12]))
    elif draw < 0.25:
        ale["sample_size"] = int(rng.integers(5, 30))
    if display:
        options["display"] = display
    if ale:
        options["ale"] = ale
    options["jackknife"] = jackknife
    return Case(index=index, seed=seed, kind=kind, n_experiments=n, space=space, rows=rows,
                spec_options=options, slow=slow)


def _erode(mask, iterations):
    from scipy.ndimage import binary_erosion

    return binary_erosion(mask, iterations=iterations)


def write_case(case: Case, folder: Path) -> Path:
    """Write the case's table and spec into ``folder``; return the spec's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["study_id", "analysis_id", "x", "y", "z", "space", "sample_size"]
    lines = ["\t".join(columns)] + ["\t".join(str(r[c]) for c in columns) for r in case.rows]
    (folder / "coordinates.tsv").write_text("\n".join(lines) + "\n")
    spec = {"spec_version": 1, "title": f"Generated evidence base {case.name} (seed {case.seed})",
            "input": {"path": "coordinates.tsv", "format": "tsv"}, **case.spec_options}
    # JSON is YAML: the spec is written as YAML that any YAML reader parses the same way.
    path = folder / "spec.yaml"
    path.write_text(json.dumps(spec, indent=2) + "\n")
    return path


def template_mask():
    """NiMARE's MNI152 2 mm brain mask (the one ale-app's default template uses)."""
    import warnings

    from nimare.utils import get_template

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = get_template("mni152_2mm", mask="brain")
    return np.asarray(img.dataobj) > 0, img.affine


if __name__ == "__main__":
    out = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else len(KINDS)
    mask, affine = template_mask()
    for i in range(count):
        case = make_case(i, mask, affine)
        print(write_case(case, out / case.name), case.n_experiments, case.n_foci)
