"""The atlases a spec may name for anatomical labels: their names and titles.

Kept apart from :mod:`ale_app.stats.labels` (which reads the atlas images) so that the spec can
check ``labels.atlas`` without importing numpy.
"""

from __future__ import annotations

DEFAULT_ATLAS = "harvard_oxford+aal_cerebellum"

#: Atlas names a spec may choose; the first is the default.
ATLAS_NAMES: tuple[str, ...] = (
    DEFAULT_ATLAS,
    "harvard_oxford",
    "aal",
    "juelich",
    "talairach_gyrus",
    "talairach_ba",
    "desikan_killiany",
    "destrieux",
    "aicha",
    "marsatlas",
    "neuromorphometrics",
)

#: Human-readable atlas names, for labels, the report and the methods text.
ATLAS_TITLES: dict[str, str] = {
    DEFAULT_ATLAS: "Harvard-Oxford cortical and subcortical atlases, with AAL for the cerebellum",
    "harvard_oxford": "Harvard-Oxford cortical and subcortical atlases",
    "aal": "AAL atlas",
    "juelich": "Juelich histological atlas",
    "talairach_gyrus": "Talairach atlas (gyri)",
    "talairach_ba": "Talairach atlas (Brodmann areas)",
    "desikan_killiany": "Desikan-Killiany atlas",
    "destrieux": "Destrieux atlas",
    "aicha": "AICHA atlas",
    "marsatlas": "MarsAtlas",
    "neuromorphometrics": "Neuromorphometrics atlas",
}

ATLAS_SHORT_NAMES = {
    DEFAULT_ATLAS: "Harvard-Oxford + AAL cerebellum",
    "harvard_oxford": "Harvard-Oxford",
    "aal": "AAL",
    "juelich": "Juelich",
    "talairach_gyrus": "Talairach",
    "talairach_ba": "Talairach",
    "desikan_killiany": "Desikan-Killiany",
    "destrieux": "Destrieux",
    "aicha": "AICHA",
    "marsatlas": "MarsAtlas",
    "neuromorphometrics": "Neuromorphometrics",
}


def check_atlas(atlas: str) -> str:
    """Return ``atlas`` if it is one of :data:`ATLAS_NAMES`, else raise ValueError naming them."""
    if atlas not in ATLAS_NAMES:
        raise ValueError(f"unknown atlas {atlas!r}; choose one of: {', '.join(ATLAS_NAMES)}")
    return atlas
