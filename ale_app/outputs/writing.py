"""Writing a registry into the locked output folder: every entry of a step, its sidecar with
the file's digest, and the figures (drawn at the same time on forked workers where there are
several jobs, the slowest first, the slices in one batch; the bytes are the same wherever a
figure is drawn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from ale_app import __version__
from ale_app.outputs import folder as D
from ale_app.result import AnalysisResult
from ale_app.outputs.entries import (Output, ready)
from ale_app.outputs.names import (CITATION, REPORT)
from ale_app.outputs.registry import (REGISTRY, figure_entries)

if TYPE_CHECKING:
    from ale_app.process.executor import Executor


def write_entry(entry: Output, result: AnalysisResult, out: D.OutputFolder) -> bool:
    """Build one entry from ``result`` and write it (and its sidecar); False if not produced."""
    if not ready(entry, result):
        return False
    result = entry.of(result)
    content = entry.build(result, out)
    if content is None:
        return False
    if entry.kind == "figure":
        for fmt, data in render_figure(content, result.spec.figures.formats, result.spec.figures.dpi).items():
            out.write_bytes(f"{entry.name}.{fmt}", data)
        return True
    writer = {"tsv": out.write_tsv, "nifti": out.write_nifti, "json": out.write_json, "text": out.write_text}
    writer[entry.kind](entry.name, content)
    if entry.sidecar is not None:
        side = entry.sidecar(result)
        out.write_json(D.sidecar_name(entry.name), {
            "Description": side.description,
            "Sources": side.sources,
            "Parameters": side.parameters,
            **side.extra,
            "Digest": {"SHA-256": out.digests[entry.name]},
            "GeneratedBy": {"Name": "ale-app", "Version": __version__},
        })
    return True


def write_step(step: str, result: AnalysisResult, out: D.OutputFolder,
               registry: tuple[Output, ...] = REGISTRY) -> None:
    """Write every registry entry of ``step`` that this result produces."""
    for entry in registry:
        if entry.step == step:
            write_entry(entry, result, out)


def render_figure(fig, formats: Sequence[str], dpi: int) -> dict[str, bytes]:
    """A matplotlib figure's bytes in each format, with no date or software stamp; closes it."""
    import io

    import matplotlib
    import matplotlib.pyplot as plt

    rendered = {}
    try:
        for fmt in formats:
            buf = io.BytesIO()
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            # SVG keeps its text as text (editable, searchable); the fixed hash salt keeps the
            # bytes the same on every run.
            # PNG through ale-app's canvas: Agg's pixels, written faster (ale_app.present.png_canvas).
            backend = "module://ale_app.present.png_canvas" if fmt == "png" else None
            with matplotlib.rc_context({"svg.hashsalt": "ale-app", "svg.fonttype": "none"}):
                fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta, bbox_inches="tight", facecolor="white",
                            backend=backend)
            rendered[fmt] = buf.getvalue()
    finally:
        plt.close(fig)
    return rendered


def draw(name: str, result: AnalysisResult, registry: tuple[Output, ...] = REGISTRY) -> dict[str, bytes] | None:
    """Build and render the figure entry ``name``."""
    entry = next(e for e in registry if e.name == name)
    if not ready(entry, result):
        return None
    result = entry.of(result)
    fig = entry.build(result, None)
    return None if fig is None else render_figure(fig, result.spec.figures.formats, result.spec.figures.dpi)


def draw_batch(names: tuple[str, ...], result: AnalysisResult,
               registry: tuple[Output, ...] = REGISTRY) -> dict[str, dict[str, bytes] | None]:
    """:func:`draw` each of ``names`` in turn (one worker's share of the figures)."""
    return {name: draw(name, result, registry) for name in names}


def figure_batches(entries: Sequence[Output]) -> list[tuple[str, ...]]:
    """The figure entries as the figure workers take them, the costliest first: the slices
    (entries with a ``draw_cost`` above 1: nilearn loads and resamples the MNI152 template
    for them, about 0.7 s per process) in one batch, so that one worker loads the template
    once for all of them; every other figure alone, so that the workers share them out as
    they finish."""
    slices = tuple(e.name for e in sorted(entries, key=lambda e: -e.draw_cost) if e.draw_cost > 1)
    singles = [(e.name,) for e in sorted(entries, key=lambda e: -e.draw_cost) if e.draw_cost <= 1]
    cost = sum(e.draw_cost for e in entries if e.draw_cost > 1)
    batches = [(cost, slices)] if slices else []
    batches += [(1.0, single) for single in singles]
    return [names for _cost, names in sorted(batches, key=lambda b: -b[0])]


def write_figures(result: AnalysisResult, out: D.OutputFolder, executor: Executor | None = None,
                  settle: Callable[[], None] | None = None, registry: tuple[Output, ...] = REGISTRY) -> None:
    """Draw every figure entry and write them in registry order.

    With an ``executor`` of more than one job (on Linux), the figures are drawn at the same
    time in processes forked from this one, the slowest first, the slices in one batch
    (:func:`figure_batches`, :meth:`~ale_app.process.executor.Executor.map_forked`): a fork starts with NiMARE,
    nilearn, matplotlib and the result already loaded, where a spawned worker would import
    them again (seconds each, more than drawing the four figures takes). Each figure's bytes
    are the same wherever it is drawn; a figure whose worker failed is drawn again here.
    ``settle`` is called once the plotting libraries are imported (the command line freezes
    the garbage collector there).
    """
    import matplotlib.pyplot  # noqa: F401 - loaded once, here, for every worker
    import nilearn.plotting  # noqa: F401

    from ale_app.process.executor import FAILED

    if settle is not None:
        settle()
    entries = [e for e in figure_entries(None, registry) if ready(e, result)]
    rendered: dict = {}
    if executor is not None and executor.n_jobs > 1 and len(entries) > 1:
        batches = figure_batches(entries)
        for batch in executor.map_forked(lambda names: draw_batch(names, result, registry), batches).values():
            if batch is not FAILED:
                rendered.update(batch)
    for entry in entries:
        drawn = rendered.get(entry.name, FAILED)
        if drawn is FAILED:
            drawn = draw(entry.name, result, registry)
        for fmt, data in (drawn or {}).items():
            out.write_bytes(f"{entry.name}.{fmt}", data)


def write_failure_report(result: AnalysisResult, out: D.OutputFolder,
                         registry: tuple[Output, ...] = REGISTRY) -> None:
    """``report.html`` and ``CITATION.md`` from whatever ``result`` holds (a step failed)."""
    for entry in registry:
        if entry.name in (REPORT, CITATION):
            write_entry(entry, result, out)
