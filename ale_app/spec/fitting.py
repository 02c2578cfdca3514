"""How ALE is fitted (``ale``) and the leave-one-out jackknife over its descriptive clusters
(``jackknife``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ale_app.constants import MAX_SAMPLE_SIZE
from ale_app.spec.fields import (MAX_CLUSTER_MM3, MAX_KERNEL_FWHM_MM, Bool, Float, OptionalFloat, OptionalInt,
                                 StrictModel)


class ALESpec(StrictModel):
    """How ALE is fitted.

    Attributes
    ----------
    kernel_fwhm : float or None, default=None
        One kernel FWHM in mm for every experiment; None derives it from each experiment's
        sample size (Eickhoff et al. 2009).
    sample_size : int or None, default=None
        One sample size for every experiment, overriding the data.
    template : {"mni152_2mm"}, default="mni152_2mm"
        Target space, grid and mask.
    """

    kernel_fwhm: OptionalFloat = Field(
        default=None,
        gt=0,
        le=MAX_KERNEL_FWHM_MM,
        description=(
            "Kernel FWHM in mm for every experiment (more than 0, at most "
            f"{MAX_KERNEL_FWHM_MM:g} mm); null derives it from each experiment's "
            "sample size (Eickhoff et al. 2009)."
        ),
    )
    sample_size: OptionalInt = Field(
        default=None,
        gt=0,
        le=MAX_SAMPLE_SIZE,
        description=(
            f"One sample size for every experiment (1 to {MAX_SAMPLE_SIZE:,}), overriding the data; "
            "null uses the data."
        ),
    )
    template: Literal["mni152_2mm"] = Field(
        default="mni152_2mm",
        description="Target space, grid and brain mask (MNI152 at 2 mm, as shipped with NiMARE).",
    )

    @model_validator(mode="after")
    def _one_kernel_source(self) -> ALESpec:
        if self.kernel_fwhm is not None and self.sample_size is not None:
            raise ValueError("give at most one of 'kernel_fwhm' and 'sample_size'")
        return self



class JackknifeSpec(StrictModel):
    """The leave-one-out jackknife over the descriptive clusters.

    Attributes
    ----------
    enabled : bool, default=True
        Run the jackknife.
    method : {"closed-form", "refit"}, default="closed-form"
        Both exact: ``closed-form`` removes each experiment from the ALE union analytically;
        ``refit`` fits ALE once per left-out experiment, as NiMARE's ``Jackknife`` does.
    cluster_threshold_mm3 : float, default=500
        Descriptive clusters smaller than this volume (mm3) are dropped.
    """

    enabled: Bool = Field(default=True, description="Run the leave-one-out jackknife.")
    method: Literal["closed-form", "refit"] = Field(
        default="closed-form",
        description=(
            "Both exact. 'closed-form': each experiment is removed from the ALE union "
            "analytically; 'refit': one ALE fit per left-out experiment, as NiMARE's Jackknife."
        ),
    )
    cluster_threshold_mm3: Float = Field(
        default=500,
        ge=0,
        le=MAX_CLUSTER_MM3,
        description=(
            "Descriptive cluster-size filter in mm3: clusters of the display-thresholded map "
            "smaller than this are dropped (NiMARE's cluster_threshold counts voxels; "
            f"500 voxels of 2 mm are 4000 mm3). 0 to {MAX_CLUSTER_MM3:,} (the whole template box "
            "is about 7.2 million mm3)."
        ),
    )

