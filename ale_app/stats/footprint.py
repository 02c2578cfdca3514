"""An estimate of a run's peak memory, from its size alone (no computation, no IO).

The parts that grow with the evidence base and the settings, each an upper-leaning
estimate measured on ale-app's own runs (docs/running.md, "Memory"):

- the libraries, the template and the run's fixed arrays (:data:`BASE_RESIDENT`);
- the experiments' modelled-activation maps: NiMARE's ALE and its analytic null hold them
  as one dense float32 row per experiment over the brain mask (:data:`MA_BYTES_PER_EXPERIMENT`);
- the inferential Monte Carlo: the drawn foci (int32, foci x iterations, drawn in chunks of
  at most :data:`ale_app.stats.montecarlo_draws.DRAW_CHUNK_BYTES`), each thread's volume buffers,
  and the null table (a few copies of one row per iteration);
- the refit jackknife: each worker refits ALE on all but one experiment, and a worker
  process also holds its own copy of the libraries;
- the contrast's subtraction: both groups' maps, one seed per permutation, and the
  candidate values its quantile threshold is chosen from (``voxel_p`` of iterations x voxels).

Virtual memory (what ``ulimit -v`` limits) adds the libraries' mappings and, per thread, a
stack and a malloc arena.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIB = 1024**2

#: In-mask voxels of the MNI152 2 mm brain mask, and voxels of its grid.
MASK_VOXELS = 228_483
GRID_VOXELS = 91 * 109 * 91

#: Peak resident memory of a small run (libraries, template, figures, report): measured
#: 623 to 645 MiB on 20-experiment runs, rounded up.
BASE_RESIDENT = 700 * MIB
#: The libraries' address space beyond what is resident (numba's LLVM, shared objects,
#: reserved heaps): a small inferential run fails under ``ulimit -v`` 1.24 GiB and passes
#: under 1.43 GiB.
BASE_VIRTUAL_EXTRA = 650 * MIB
#: One dense float32 MA row per experiment over the mask, with a margin for its copies
#: (measured: 0.92 MiB per experiment from 200 to 1,000 experiments).
MA_BYTES_PER_EXPERIMENT = int(1.1 * 4 * MASK_VOXELS)
#: Per Monte Carlo thread: the labels and tiles of one volume (int64 over the grid) and the
#: suprathreshold lists.
THREAD_BUFFER_BYTES = 2 * 8 * GRID_VOXELS
#: Per Monte Carlo iteration: the null table's rows and their copies (concatenation,
#: DataFrame, sorting for the FWE p).
NULL_BYTES_PER_ITERATION = 120
#: Per thread, address space only: its stack and its malloc arena.
THREAD_VIRTUAL_BYTES = 72 * MIB
#: A refit jackknife worker process: the libraries it imports.
WORKER_PROCESS_BYTES = 350 * MIB
#: Per permutation of the subtraction: its seed (a SeedSequence) and its row of the null.
SEED_BYTES_PER_ITERATION = 600
#: Per kept candidate of the subtraction: iteration, position and value, and the copies
#: made when the kept set is pruned.
CANDIDATE_BYTES = 3 * 12


@dataclass
class Footprint:
    """A run's estimated peak memory: ``resident`` and ``virtual`` bytes, and the resident
    parts by name (for the message that refuses a run)."""

    resident: float = 0.0
    virtual: float = 0.0
    parts: dict = field(default_factory=dict)

    def describe(self) -> str:
        """The largest parts, in words."""
        from ale_app.process.memory import format_bytes

        big = sorted(self.parts.items(), key=lambda kv: -kv[1])[:3]
        return ", ".join(f"{name} {format_bytes(value)}" for name, value in big if value > 0)


def _draw_bytes(n_foci: int, n_iterations: int) -> float:
    from ale_app.stats.montecarlo_draws import DRAW_CHUNK_BYTES

    whole = 4.0 * n_foci * n_iterations
    # Chunked: the chunk the workers take blocks from while the next one is drawn. Plus
    # numpy's int64 row before it is cast.
    held = whole if whole <= DRAW_CHUNK_BYTES else 2.0 * DRAW_CHUNK_BYTES
    return held + 8.0 * min(n_iterations, max(1, DRAW_CHUNK_BYTES // (4 * max(1, n_foci))))


def estimate_peak(groups: list[tuple[int, int]], *, mode: str = "descriptive", n_iterations: int = 0,
                  voxel_p: float = 0.001, jackknife: str = "closed-form", n_jobs: int = 1,
                  executor_kind: str = "serial", contrast: bool = False) -> Footprint:
    """The estimated peak memory of a run.

    Parameters
    ----------
    groups : list of (n_experiments, n_foci)
        The evidence base (one entry; two for a contrast).
    mode : {"descriptive", "inferential"}
    n_iterations, voxel_p : int, float
        ``inference.n_iterations`` and ``inference.voxel_p`` (inferential mode).
    jackknife : {"closed-form", "refit", "none"}
        ``jackknife.method``.
    n_jobs : int
        Jobs of the run (after the command line's cap).
    executor_kind : {"serial", "threads", "processes", "dask"}
        Where the refits run; the Monte Carlo runs on threads unless on dask.
    contrast : bool
        A version-2 contrast (the subtraction runs in the inferential mode).
    """
    parts: dict[str, float] = {"libraries and template": BASE_RESIDENT}
    n_experiments = sum(g[0] for g in groups)
    largest = max((g[0] for g in groups), default=0)
    parts["modelled-activation maps"] = float(MA_BYTES_PER_EXPERIMENT * n_experiments)
    threads = 1
    if mode == "inferential" and n_iterations > 0:
        local = executor_kind != "dask"
        threads = max(1, n_jobs) if local else 1
        mc = max(_draw_bytes(foci, n_iterations) for _e, foci in groups)
        mc += NULL_BYTES_PER_ITERATION * n_iterations + (THREAD_BUFFER_BYTES * threads if local else 0)
        parts["Monte Carlo null"] = float(mc)
        if contrast:
            k = voxel_p * n_iterations * MASK_VOXELS
            parts["subtraction permutations"] = float(CANDIDATE_BYTES * k + SEED_BYTES_PER_ITERATION * n_iterations
                                                      + THREAD_BUFFER_BYTES * threads)
    elsewhere = 0.0  # in other processes: not in this one's address space
    if jackknife == "refit" and largest > 1 and executor_kind != "dask":
        workers = max(1, min(n_jobs, largest)) if executor_kind != "serial" else 1
        per_refit = MA_BYTES_PER_EXPERIMENT * largest
        if executor_kind == "processes":
            per_refit += WORKER_PROCESS_BYTES
            elsewhere = float(workers * per_refit)
        parts["jackknife refits"] = float(workers * per_refit)
        threads = max(threads, workers if executor_kind == "threads" else 1)
    resident = float(sum(parts.values()))
    virtual = resident - elsewhere + BASE_VIRTUAL_EXTRA + THREAD_VIRTUAL_BYTES * threads
    return Footprint(resident=resident, virtual=virtual, parts=parts)
