"""nilearn's glass brains and slices without their per-figure costs, pixel for pixel.

Profiling a run (``benchmarks/figures.py``) found two costs that nilearn pays again for every
figure and that do not depend on the figure:

- the glass brain's outline: about 270 to 800 strokes per view, read from nilearn's JSON
  files and added as one ``PathPatch`` each; every stroke updates the axes' data limits
  (Bezier extrema) and is drawn by its own artist, twice per saved file (the tight bounding
  box draws the figure once more). :func:`_draw_schematics` parses each view once per
  process and adds its strokes as one :class:`~matplotlib.collections.PatchCollection`: the
  same paths, colours, widths, joins, caps and order, so a PNG's pixels are the same (an SVG
  groups the strokes in one element instead of one each);
- the MNI152 template behind slices: nilearn loads it (resampling its 1 mm file to 2 mm,
  about 0.7 s), reorders it and fills its mask's holes once per process, and again for copies
  of it that a slice display makes. Once it is loaded, copies made while :func:`fast_nilearn`
  is active share the loaded arrays; and since each figure worker draws a batch of figures
  (:func:`ale_app.outputs.writing.figure_batches`), a worker loads it at most once.

:func:`fast_nilearn` installs both for the duration of a ``with`` block and restores nilearn
as it found it afterwards (a library call leaves the interpreter as it found it).
"""

from __future__ import annotations

import contextlib
import functools
import json

__all__ = ["fast_nilearn", "with_fast_nilearn"]

#: The template attributes nilearn's ``_MNI152Template.load`` fills.
_TEMPLATE_FIELDS = ("data", "_affine", "vmax", "_shape")


@functools.lru_cache(maxsize=None)
def _strokes(direction: str):
    """The view's strokes as (path, edgecolor, linewidth), its transform to mm and its
    bounds, parsed once per process."""
    from matplotlib.path import Path
    from nilearn.plotting import glass_brain as G

    json_filename, transform = G._get_json_and_transform(direction)
    with json_filename.open() as handle:
        content = json.load(handle)
    strokes = []
    for group in content["paths"]:
        for item in group["items"]:
            strokes.append((Path(item["pts"], G._codes(item["type"], item["pts"])), group["edgecolor"],
                            group["linewidth"]))
    return tuple(strokes), transform, G._get_object_bounds(content, transform)


def _draw_schematics(ax, direction, **kwargs):
    """nilearn's ``plot_brain_schematics`` (same arguments, strokes and bounds) as one artist."""
    from matplotlib import colors
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch
    from nilearn.plotting import glass_brain as G

    black_bg = colors.to_rgba(ax.get_facecolor()) == colors.to_rgba("k")
    strokes, transform, bounds = _strokes(direction)
    edgecolor, linewidth = kwargs.pop("edgecolor", None), kwargs.pop("linewidth", None)
    patches = [PathPatch(path, edgecolor=edgecolor if edgecolor is not None else
                         (G._invert_color(colour) if black_bg else colour),
                         linewidth=linewidth or width, facecolor="none", **kwargs)
               for path, colour, width in strokes]
    collection = PatchCollection(patches, match_original=True, transform=transform + ax.transData,
                                 joinstyle=patches[0].get_joinstyle(), capstyle=patches[0].get_capstyle())
    ax.add_collection(collection, autolim=False)
    return bounds


@contextlib.contextmanager
def fast_nilearn():
    """Within the block, glass brains draw their outline as one artist per view and copies of
    the MNI152 template share its loaded arrays; nilearn is restored afterwards."""
    from nilearn.plotting.displays import _axes
    from nilearn.plotting.image.utils import MNI152TEMPLATE, _MNI152Template

    # Once the template is loaded (by an earlier slice of this process), its copies share it.
    loaded = ({name: getattr(MNI152TEMPLATE, name) for name in _TEMPLATE_FIELDS}
              if MNI152TEMPLATE.__dict__.get("data") is not None else {})
    saved_template = {name: _MNI152Template.__dict__.get(name) for name in _TEMPLATE_FIELDS}
    original = _axes.plot_brain_schematics
    _axes.plot_brain_schematics = _draw_schematics
    for name, value in loaded.items():
        setattr(_MNI152Template, name, value)
    try:
        yield
    finally:
        _axes.plot_brain_schematics = original
        for name, value in saved_template.items():
            setattr(_MNI152Template, name, value)


def with_fast_nilearn(func):
    """Decorate a figure function so that it draws inside :func:`fast_nilearn`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with fast_nilearn():
            return func(*args, **kwargs)
    return wrapper
