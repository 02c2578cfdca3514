"""Reading a report's tables back, and what the report must say, written out by hand
independently of ale-app's code."""

from __future__ import annotations

import numpy as np


def html_rows(page: str, after: str) -> list[list[str]]:
    """The body rows of the first table after ``after`` in a report, as unescaped cell texts."""
    import html as H
    import re

    table = page.split(after, 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[H.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", table)]


def failsafe_words_by_hand(fs) -> str:
    """What the report's one-row table must say of a row of the fail-safe table."""
    if fs["tests_survived"] == fs["tests"]:
        return f"\u2265 {fs['failsafe_n']:g} (survived all {fs['tests']} tests, up to the upper bound)"
    if fs["tests_survived"] == 0:
        return f"0 (survived none of {fs['tests']} tests)"
    if np.isnan(fs["failsafe_n"]):
        return (f"no value (survived {fs['tests_survived']} of {fs['tests']} tests; survival did not fall as "
                "noise was added)")
    if fs["passes_upper"]:
        return f"\u2265 {fs['failsafe_n']:g} (survives the upper bound in {100 * fs['survival_at_upper']:.0f}% of draws)"
    return f"{fs['failsafe_n']:.1f} (95% CI {fs['ci_low']:.1f} to {fs['ci_high']:.1f})"


def fifty_by_hand(m, survived) -> float:
    """The fail-safe N's 50% point written out independently of the module: scipy's minimiser
    on the penalised logistic loss of survival on standardised log(1 + m) (the module uses
    Newton's method)."""
    from scipy.optimize import minimize

    x = np.log1p(np.asarray(m, float))
    y = np.asarray(survived, float)
    mu, sc = x.mean(), x.std()
    z = (x - mu) / sc

    def loss(p):
        return np.sum(np.logaddexp(0, p[0] + p[1] * z) - y * (p[0] + p[1] * z)) + 1e-3 * p[1] ** 2

    a, b = minimize(loss, [0.0, -1.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12,
                                                                      "maxiter": 20_000}).x
    return float(np.expm1(mu - a / b * sc))
