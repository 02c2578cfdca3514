"""Small phrases every part of the report's words shares: counts with their nouns, volumes,
Monte Carlo and permutation p values as their numbers allow, a group's line of experiments,
foci and studies, and which groups of a project no contrast reads.
"""

from __future__ import annotations

import math


def mm3(volume: float) -> str:
    """A volume as the spec gave it, digits grouped (10,000,000 mm3, not 1e+07 mm3)."""
    return f"{volume:,.0f} mm3" if float(volume).is_integer() else f"{volume:,} mm3"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def p_text(p: float, n_iterations: int) -> str:
    """A Monte Carlo p as its numbers allow: at the floor 1/n (NiMARE clips p there) an
    inequality, else the value with its standard error."""
    floor = 1.0 / n_iterations
    if p <= floor * (1 + 1e-6):
        return f"p \u2264 {floor:.2g} (the smallest p {n_iterations:,} iterations can give)"
    se = math.sqrt(p * (1 - p) / n_iterations)
    return f"p = {p:.4f} (Monte Carlo standard error {se:.4f})"


def permutation_p_text(p: float, n_iterations: int, draws: str = "permutations") -> str:
    """A permutation p as its numbers allow: at the floor 1/n it is an inequality."""
    floor = 1.0 / n_iterations
    if p <= floor * (1 + 1e-6):
        return f"p \u2264 {floor:.2g} (the smallest p {n_iterations:,} {draws} can give)"
    return f"p = {p:.3g}"


def group_line(name: str, group) -> str:
    ev = group.evidence
    return (f"{name} ({plural(len(ev.ids), 'experiment')}, {plural(len(ev.coordinates), 'focus', 'foci')}, "
            f"{plural(len(ev.study_ids), 'study', 'studies')})")


def standalone_groups(result) -> list[str]:
    """The groups no contrast reads (their own interpretation and methods are said once)."""
    read = {g for c in result.contrasts.values() for g in c.names}
    return [name for name in result.groups if name not in read]
