"""How foci are drawn: their study colours and their markers' style by number.

Study colours (:func:`study_colors`): the first :data:`STUDY_PALETTE` colours are a fixed
perceptual palette, chosen greedily so that every colour is as far as possible (CIEDE2000) from
all before it, inside a band of lightness and chroma that stays visible on white and over the
glass brain: any first N of them (N up to 24) differ by at least 25 CIELAB units (about 18.5
CIEDE2000), where the golden-angle hues of earlier versions put teals and navies 12 units apart
at 21 studies. Beyond 24 studies (when figures draw foci in one colour and only the report's key
uses study colours), hues are spaced by the golden angle with alternating lightness, never
repeating.

Markers (:func:`foci_style`): up to :data:`FEW_FOCI` large outlined dots; beyond, small
translucent points, smaller and fainter again beyond :data:`MANY_FOCI` (rasterised in SVG).
Over a map every marker is two-toned (a light fill in a dark ring, or a study's colour in a dark
ring on a light halo), so no focus vanishes in the map's darkest or brightest colours.
"""

from __future__ import annotations

import colorsys
import math

import pandas as pd

GOLDEN = (math.sqrt(5) - 1) / 2

#: The fixed perceptual palette of the first 24 studies (see the module's docstring).
STUDY_PALETTE = (
    "#0078d2", "#d2d200", "#ff3c00", "#005a1e", "#ff00e1", "#00e1e1", "#871e3c", "#784b00",
    "#5a00d2", "#c3c3ff", "#4ba55a", "#ffa52d", "#ffb4b4", "#008787", "#786996", "#96875a",
    "#ff2d69", "#5ac3ff", "#a51e00", "#5ae10f", "#a5695a", "#9678ff", "#b4d2a5", "#ffa5f0",
)
#: Up to this many foci, markers are large outlined dots; up to MANY_FOCI, small
#: translucent points; beyond, smaller and fainter points.
FEW_FOCI = 400
MANY_FOCI = 2500
#: The overlay colours foci by study (as outlined dots) only up to this many foci and
#: studies; beyond, its foci are small dark points, so the map stays readable under them.
OVERLAY_FEW_FOCI = 150


def study_colors(n: int) -> list[str]:
    """Return ``n`` distinct hex colours, never repeating: the fixed palette for the first
    :data:`STUDY_PALETTE` studies, golden-angle hues beyond."""
    if n <= len(STUDY_PALETTE):
        return list(STUDY_PALETTE[:n])
    levels = [(0.42, 0.85), (0.62, 0.75), (0.32, 0.95)]  # (lightness, saturation)
    colors = list(STUDY_PALETTE)
    for i in range(n - len(STUDY_PALETTE)):
        hue = (0.58 + i * GOLDEN) % 1.0
        light, sat = levels[(i // 7) % len(levels)] if n > 7 else levels[0]
        r, g, b = colorsys.hls_to_rgb(hue, light, sat)
        colour = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
        colors.append(colour if colour not in colors else f"#{(int(colour[1:], 16) ^ 1):06x}")
    return colors


def study_color_map(study_ids: list[str]) -> dict[str, str]:
    """Each study's colour, the same in every figure and in the report's key."""
    return dict(zip(study_ids, study_colors(len(study_ids))))


#: Over a map every focus is two-toned: a light fill inside a dark ring (or, coloured by
#: study, its colour in a dark ring on a light halo), so that one of them stands out on any
#: colour of the map, the darkest and the brightest alike.
OVERLAY_FILL, OVERLAY_RING, STUDY_HALO = "white", "#1a1a1a", "white"


def foci_style(n_foci: int, over_map: bool) -> dict:
    """How to draw ``n_foci`` markers: large outlined dots for a few, small translucent
    points for many (so that neither the brain outline nor the ALE map under them disappears).
    Over a map, every tier keeps a ring of at least 0.5 pt (:data:`OVERLAY_RING` around
    :data:`OVERLAY_FILL`), so no focus vanishes in the map's darkest or brightest colours.

    The tiers depend only on the number of foci, so a figure's design follows from its data.
    """
    if over_map:
        if n_foci <= OVERLAY_FEW_FOCI:
            return {"s": 14, "alpha": 1.0, "linewidths": 0.6, "edgecolors": OVERLAY_RING}
        if n_foci <= FEW_FOCI:
            return {"s": 9, "alpha": 0.9, "linewidths": 0.5, "edgecolors": OVERLAY_RING}
        if n_foci <= MANY_FOCI:
            return {"s": 5, "alpha": 0.75, "linewidths": 0.5, "edgecolors": OVERLAY_RING}
        return {"s": 3, "alpha": 0.5, "linewidths": 0.5, "edgecolors": OVERLAY_RING}
    if n_foci <= FEW_FOCI:
        return {"s": 22, "alpha": 1.0, "linewidths": 0.4, "edgecolors": "black"}
    if n_foci <= MANY_FOCI:
        return {"s": 9, "alpha": 0.8, "linewidths": 0.0, "edgecolors": "none"}
    return {"s": 3, "alpha": 0.45, "linewidths": 0.0, "edgecolors": "none"}


def add_foci(display, coordinates: pd.DataFrame, colors, style: dict) -> None:
    display.add_markers(coordinates[["x", "y", "z"]].to_numpy(), marker_color=colors, marker_size=style["s"],
                        edgecolors=style["edgecolors"], linewidths=style["linewidths"], alpha=style["alpha"],
                        rasterized=len(coordinates) > FEW_FOCI)  # thousands of SVG circles help no one
