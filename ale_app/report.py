"""HTML report and methods text, written from what the run produced.

The words here describe; they never infer. ``FORBIDDEN_PHRASES`` lists the inferential
phrases that must not appear in descriptive output, and the tests scan for them.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ale_app import __version__

FORBIDDEN_PHRASES = (
    "significant",
    "significantly",
    "activation was found",
    "evidence for convergence",
    "reliable convergence",
    "p <",
    "fwe",
    "corrected",
)

MIN_EXPERIMENTS_FOR_INFERENCE = 17


@dataclass
class ReportInputs:
    """The numbers and files the report is written from."""

    title: str
    n_experiments: int
    n_studies: int
    n_foci: int
    peak_value: float
    peak_xyz: tuple[float, float, float]
    threshold: float
    threshold_percentile: float
    cluster_table: pd.DataFrame
    jackknife: pd.DataFrame | None
    dominance_ratio: float
    dominance_min: float
    kernel_text: str
    versions: dict[str, str]
    cluster_threshold_mm3: float


def dominant_analyses(jackknife: pd.DataFrame, ratio: float, minimum: float) -> list[str]:
    """Ids whose mean contribution is >= ``ratio`` x the median and >= ``minimum``."""
    means = jackknife["mean"].astype(float)
    median = float(means.median())
    keep = (means >= ratio * median) & (means >= minimum)
    return jackknife.loc[keep, "id"].tolist()


def _fmt_xyz(xyz) -> str:
    return f"x={xyz[0]:.0f}, y={xyz[1]:.0f}, z={xyz[2]:.0f} mm (MNI)"


def interpretation(r: ReportInputs) -> str:
    """The interpretation paragraph, written from the results."""
    parts = [
        f"The raw ALE statistic map of {r.n_experiments} experiments from {r.n_studies} studies "
        f"({r.n_foci} reported foci) was inspected descriptively.",
    ]
    if r.n_experiments < MIN_EXPERIMENTS_FOR_INFERENCE:
        parts.append(
            f"With fewer than {MIN_EXPERIMENTS_FOR_INFERENCE} experiments, voxelwise inference would not "
            "be reliable at this size, so no z or p maps were interpreted."
        )
    parts.append(
        f"The largest ALE value, {r.peak_value:.4f}, lies at {_fmt_xyz(r.peak_xyz)}. "
        f"The map was drawn above {r.threshold:.5f}, the {r.threshold_percentile:g}th percentile of "
        "the nonzero in-brain ALE values; this threshold only makes the picture readable and is "
        "not statistical."
    )
    n_clusters = int(r.cluster_table["cluster_id"].nunique()) if len(r.cluster_table) else 0
    parts.append(
        f"Above it, {n_clusters} descriptive cluster{'s' if n_clusters != 1 else ''} of at least "
        f"{r.cluster_threshold_mm3:g} mm3 remained."
    )
    if r.jackknife is not None and len(r.jackknife) and n_clusters:
        means = r.jackknife.set_index("id")["mean"].astype(float)
        parts.append(
            "A leave-one-out jackknife refitted ALE without each experiment in turn; the mean drop "
            f"in ALE across clusters ranged from {means.min():.2f} to {means.max():.2f} "
            f"(median {means.median():.2f})."
        )
        dominant = dominant_analyses(r.jackknife, r.dominance_ratio, r.dominance_min)
        if dominant:
            named = ", ".join(f"{d} (mean {means[d]:.2f})" for d in dominant)
            parts.append(
                f"The pattern leans on {named}: leaving it out lowers the ALE values in the clusters "
                "far more than leaving out any typical experiment, so the pattern should not be "
                "described as stable without it."
            )
        else:
            parts.append("No single experiment dominates the descriptive clusters.")
    parts.append(
        "These results summarise where the included coordinates tended to be reported; they are a "
        "description, not a test."
    )
    return " ".join(parts)


def methods_text(r: ReportInputs) -> str:
    """A methods paragraph for the analysis as run."""
    v = r.versions
    return (
        f"Activation likelihood estimation (ALE; Eickhoff et al., 2009, 2012; Turkeltaub et al., 2012) "
        f"was computed on {r.n_experiments} experiments ({r.n_foci} foci) in MNI152 space at 2 mm with "
        f"NiMARE {v.get('nimare', '?')}, run by ale-app {__version__}. Modelled activation maps used "
        f"Gaussian kernels whose width came from {r.kernel_text}. The raw ALE statistic was inspected "
        f"descriptively and drawn above the {r.threshold_percentile:g}th percentile of its nonzero in-brain "
        f"values ({r.threshold:.5f}), a display-only threshold. Descriptive clusters were the connected "
        f"(face-adjacent) voxels above that value spanning at least {r.cluster_threshold_mm3:g} mm3. A "
        "leave-one-out jackknife refitted ALE without each experiment in turn; an experiment's "
        "contribution to a cluster is the mean over its voxels of 1 - ALE(without it) / ALE(all). "
        f"Figures were made with nilearn {v.get('nilearn', '?')}."
    )


REFERENCES = (
    "Eickhoff, S. B., Laird, A. R., Grefkes, C., Wang, L. E., Zilles, K., & Fox, P. T. (2009). "
    "Coordinate-based activation likelihood estimation meta-analysis of neuroimaging data: a random-effects "
    "approach based on empirical estimates of spatial uncertainty. Human Brain Mapping, 30(9), 2907-2926.",
    "Eickhoff, S. B., Bzdok, D., Laird, A. R., Kurth, F., & Fox, P. T. (2012). Activation likelihood "
    "estimation meta-analysis revisited. NeuroImage, 59(3), 2349-2361.",
    "Turkeltaub, P. E., Eickhoff, S. B., Laird, A. R., Fox, M., Wiener, M., & Fox, P. (2012). Minimizing "
    "within-experiment and within-group effects in activation likelihood estimation meta-analyses. "
    "Human Brain Mapping, 33(1), 1-13.",
    "Salo, T., Yarkoni, T., Nichols, T. E., Poline, J.-B., Bilgel, M., Bottenhorn, K. L., et al. (2023). "
    "NiMARE: Neuroimaging Meta-Analysis Research Environment. Aperture Neuro, 3, 1-32.",
)


def citation_markdown(r: ReportInputs) -> str:
    """``CITATION.md``: methods, interpretation and references."""
    refs = "\n".join(f"- {ref}" for ref in REFERENCES)
    return (
        f"# {r.title or 'ale-app analysis'}\n\n## Methods\n\n{methods_text(r)}\n\n"
        f"## Interpretation\n\n{interpretation(r)}\n\n## References\n\n{refs}\n"
    )


def _img_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/><figcaption>{html.escape(alt)}</figcaption></figure>'


def report_html(r: ReportInputs, figures: dict[str, Path]) -> str:
    """A self-contained HTML page: figures embedded, tables, interpretation, methods."""
    figs = "\n".join(_img_tag(p, alt) for alt, p in figures.items() if p.exists())
    clusters = r.cluster_table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.5g}")
    jk = (
        r.jackknife.to_html(index=False, float_format=lambda v: f"{v:.3f}")
        if r.jackknife is not None
        else "<p>The jackknife was not run.</p>"
    )
    versions = "".join(f"<li>{html.escape(k)} {html.escape(v)}</li>" for k, v in r.versions.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(r.title or 'ale-app report')}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}}img{{max-width:100%}}
table{{border-collapse:collapse;font-size:90%}}td,th{{border:1px solid #ccc;padding:2px 6px}}</style></head>
<body><h1>{html.escape(r.title or 'ale-app report')}</h1>
<p>A descriptive ALE analysis by ale-app {__version__}. Thresholds here are for display only.</p>
<h2>Interpretation</h2><p>{html.escape(interpretation(r))}</p>
<h2>Figures</h2>{figs}
<h2>Descriptive clusters</h2>{clusters}
<h2>Jackknife contributions</h2>{jk}
<h2>Methods</h2><p>{html.escape(methods_text(r))}</p>
<h2>Software</h2><ul>{versions}</ul>
</body></html>
"""
