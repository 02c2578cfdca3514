"""The caveats the evidence calls for, said in the methods and in the interpretation alike
(not only in the checklist): groups below the size Eickhoff et al. (2016) recommend, Monte
Carlo iterations or permutations below :data:`~ale_app.constants.MIN_ITERATIONS`, foci of a
space that cannot be converted and were used as MNI, and a raw ALE difference between groups
of unequal size.

Each ``*_caveat`` function returns the methods' sentence, or "" when its caveat does not
apply; :func:`caveats_sentence` joins the short clauses the interpretation states.
"""

from __future__ import annotations

from ale_app.constants import MIN_EXPERIMENTS_FOR_INFERENCE, MIN_ITERATIONS
from ale_app.present.phrases import plural

#: What Eickhoff et al. (2016) recommend for an ALE analysis: at least 17 to 20 experiments.
#: Every sentence that cites the paper's recommendation quotes it from here.
EICKHOFF_2016_RECOMMENDS = (MIN_EXPERIMENTS_FOR_INFERENCE, 20)

#: The recommendation in words, as cited.
EICKHOFF_2016_WORDS = (f"the {EICKHOFF_2016_RECOMMENDS[0]} to {EICKHOFF_2016_RECOMMENDS[1]} experiments that "
                       "Eickhoff et al. (2016) recommend at the least")


def assumed_spaces(evidence) -> dict[str, int]:
    """Foci per recorded space that could not be converted and were used as MNI."""
    from ale_app.inputs.readers.base import normalize_space

    return {str(space): int(n) for space, n in evidence.spaces.items() if normalize_space(space) is None}


def _spaces(spaces_by_group: dict[str, dict[str, int]]) -> tuple[int, str, str]:
    total = sum(sum(s.values()) for s in spaces_by_group.values())
    labels = list(dict.fromkeys(k for s in spaces_by_group.values() for k in s))
    named = [f"{sum(s.values()):,} in {name}" for name, s in spaces_by_group.items() if name and sum(s.values())]
    return total, " / ".join(repr(s) for s in labels), f" ({', '.join(named)})" if named else ""


def spaces_caveat(spaces_by_group: dict[str, dict[str, int]]) -> str:
    """``spaces_by_group``: each group's :func:`assumed_spaces` by name (one unnamed group: key "")."""
    total, labels, where = _spaces(spaces_by_group)
    if not total:
        return ""
    return (f"{plural(total, 'focus', 'foci')}{where} recorded in space {labels}, which cannot be converted, were "
            "used as MNI coordinates: an assumption that misplaces them if they were in another space.")


def _low(counts: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in counts.items() if n < EICKHOFF_2016_RECOMMENDS[0]}


def few_experiments_caveat(counts: dict[str, int], minimum_run: int | None, inferential: bool) -> str:
    """Groups (``counts``: experiments by group name; one unnamed group: key "") below the
    recommended size; ``minimum_run`` is the minimum the run allowed for inference."""
    low = _low(counts)
    if not low:
        return ""
    lowered = (f" (the minimum for inference was lowered to {minimum_run} before the run)"
               if inferential and minimum_run is not None and minimum_run < EICKHOFF_2016_RECOMMENDS[0] else "")
    if list(low) == [""]:
        who = f"With {low['']} experiments, fewer than {EICKHOFF_2016_WORDS}{lowered},"
        return who + (" the inference has little power and a cluster that passes may rest on one or two "
                      "experiments; it should be read as exploratory." if inferential else
                      " no voxelwise test was run: the results are a description.")
    if len(low) == len(counts) == 2:
        (a, na), (b, nb) = low.items()
        who = f"Both groups ({a}: {na}, {b}: {nb} experiments) are below {EICKHOFF_2016_WORDS}{lowered}"
    else:
        who = ("Group " + " and group ".join(f"{name} ({n} experiments)" for name, n in low.items())
               + f" {'is' if len(low) == 1 else 'are'} below {EICKHOFF_2016_WORDS}{lowered}")
    return who + (": the inference has little power and a result may rest on one or two experiments, so it should be "
                  "read as exploratory." if inferential else ".")


def iterations_caveat(n: int, what: str = "Monte Carlo iterations") -> str:
    """Fewer iterations (or permutations, ``what``) than :data:`MIN_ITERATIONS`."""
    if n >= MIN_ITERATIONS:
        return ""
    return (f"Only {n:,} {what} were run, fewer than the usual {MIN_ITERATIONS:,}: the smallest FWE p they can give "
            f"is 1/{n:,}, so the FWE p-values are coarse.")


def unequal_sizes_caveat(a: str, n1: int, b: str, n2: int) -> str:
    """A raw (not balanced) ALE difference between groups of unequal size."""
    if n1 == n2:
        return ""
    larger, smaller = (a, b) if n1 > n2 else (b, a)
    return (f"The groups differ in size ({n1:,} and {n2:,} experiments): ALE grows with the number of experiments, so a "
            f"raw ALE difference tends to favour the larger group ({larger} over {smaller}); a balanced contrast of "
            "equal-sized subsamples checks this.")


def caveats_sentence(counts: dict[str, int] | None = None, iterations: tuple[int, str] | None = None,
                     spaces_by_group: dict[str, dict[str, int]] | None = None,
                     unequal: tuple[str, int, str, int] | None = None) -> str:
    """The interpretation's one sentence of caveats, each a short clause ("" when none applies):
    groups below the recommended size (``counts`` by group name), too few ``iterations`` (their
    number and what they were), spaces assumed and a raw difference of unequal groups
    (``unequal``: the two names and sizes)."""
    clauses = []
    low = _low(counts or {})
    if low:
        who = (f"{next(iter(low.values()))} experiments" if list(low) == [""] else
               " and ".join(f"{name} ({n})" for name, n in low.items()) + " experiments")
        clauses.append(f"{who}, below the {EICKHOFF_2016_RECOMMENDS[0]} to {EICKHOFF_2016_RECOMMENDS[1]} that Eickhoff "
                       "et al. (2016) recommend")
    if iterations and iterations[0] < MIN_ITERATIONS:
        clauses.append(f"only {iterations[0]:,} {iterations[1]} (fewer than {MIN_ITERATIONS:,}), so the FWE p-values "
                       "are coarse")
    if spaces_by_group:
        total, labels, _where = _spaces(spaces_by_group)
        if total:
            clauses.append(f"{plural(total, 'focus', 'foci')} of space {labels} used as MNI without conversion")
    if unequal and unequal[1] != unequal[3]:
        a, n1, b, n2 = unequal
        larger = a if n1 > n2 else b
        clauses.append(f"a raw ALE difference between {n1:,} and {n2:,} experiments favours the larger group "
                       f"({larger})")
    return ("Caveats: " + "; ".join(clauses) + ".") if clauses else ""
