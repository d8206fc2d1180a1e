"""The held-out change test (Wilcoxon signed-rank), its smallest attainable p-value and its power.

Unit of analysis: a held-out role. Each (steering setting, value) is tested on the paired changes
of the held-out roles (role steered minus the same role unsteered) with the two-sided Wilcoxon
signed-rank test (Wilcoxon 1945), zeros dropped (Wilcoxon's convention). The p-value follows
``scipy.stats.wilcoxon(method="auto")`` (scipy 1.17), computed here for many tests at once:

* no ties among the non-zero changes and n <= 50: the exact null distribution of the signed-rank
  sum (scipy's ``exact``);
* ties and n <= 13: all 2^n sign assignments of the observed (mid)ranks (scipy's exhaustive
  ``PermutationMethod``);
* otherwise: the normal approximation with the tie-corrected variance, no continuity correction
  (scipy's ``asymptotic``).

One difference from scipy: zeros are dropped first and do not switch the exact test off (the exact
test of the remaining changes is the exact conditional test). Tests check the p-values against
scipy's.

**Smallest attainable p.** With n non-zero changes all of one sign the exact two-sided p-value is
``2 / 2^n`` (the most extreme of 2^n equally likely sign patterns, doubled): 0.25 at n = 3,
0.125 at n = 4, 0.0625 at n = 5. When it exceeds the FDR level q no change can be significant and
the held-out test is not informative (:func:`power_report`).

**Power** for a stated standardized effect d (the mean paired change in units of the SD of the
paired changes) is simulated: normal paired changes N(d, 1) of the held-out size, tested with
:func:`signed_rank_pvalues` at a level; seeded, so the same inputs give the same number. Levels:
q (the most lenient Benjamini-Hochberg threshold, reached only when every test rejects) and q / m
(the threshold of a single change among m tests). Noether's closed form (Noether 1987, "Sample
size determination for some common nonparametric tests", JASA 82: 645-647),
``power = Phi(sqrt(3 n) |p' - 1/2| - z_{1 - alpha/2})`` with ``p' = Phi(sqrt(2) d)``, is
:func:`noether_power` and checks the simulation in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
from scipy.stats import norm

#: largest n whose exact null distribution is used without ties (as scipy)
EXACT_MAX_N = 50
#: largest n whose 2^n sign assignments are enumerated with ties (as scipy)
PERMUTATION_MAX_N = 13
#: how the p-values are computed, in words (recorded next to results)
TEST_METHOD = ("two-sided Wilcoxon signed-rank, zeros dropped; p-values as scipy.stats.wilcoxon(method='auto'): "
               f"exact null distribution without ties (n <= {EXACT_MAX_N}), all 2^n sign assignments with ties "
               f"(n <= {PERMUTATION_MAX_N}), else the normal approximation with tie correction")
DEFAULT_EFFECTS: tuple[float, ...] = (0.5, 1.0)
_REL = 1e-9


@lru_cache(maxsize=None)
def _exact_null(n: int) -> np.ndarray:
    """Probabilities of the signed-rank sum T+ = 0 .. n(n+1)/2 under the null (ranks 1..n, no ties)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    return counts / counts.sum()


@lru_cache(maxsize=None)
def _sign_patterns(n: int) -> np.ndarray:
    """All 2^n assignments of + (1) / - (0) to n ranks (``2^n x n``)."""
    return ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1).astype(float)


def _ranks(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Midranks of the finite entries of each row of ``a`` (NaN elsewhere) and each entry's tie count."""
    finite = np.isfinite(a)
    x = np.where(finite, a, 0.0)
    both = finite[:, None, :] & finite[:, :, None]
    less = (x[:, None, :] < x[:, :, None]) & both
    equal = (np.abs(x[:, None, :] - x[:, :, None]) <= _REL * np.maximum(np.abs(x[:, :, None]), 1e-300)) & both
    n_less, n_equal = less.sum(axis=2), equal.sum(axis=2)
    ranks = np.where(finite, n_less + (n_equal + 1) / 2.0, np.nan)
    return ranks, np.where(finite, n_equal, 0)


def signed_rank_pvalues(changes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided signed-rank p-values of each row of ``changes`` (``k x n``; NaN = missing, zeros dropped).

    Returns ``(pvalues, n)`` with ``n`` the non-zero changes per row; a row without any has p = 1.
    """
    d = np.atleast_2d(np.asarray(changes, dtype=float))
    use = np.isfinite(d) & (d != 0)
    n = use.sum(axis=1)
    p = np.ones(d.shape[0])
    if d.shape[1] == 0 or not use.any():
        return p, n
    ranks, tie_counts = _ranks(np.where(use, np.abs(d), np.nan))
    positive = use & (d > 0)
    r_plus = np.where(positive, ranks, 0.0).sum(axis=1)
    ties = (tie_counts > 1).any(axis=1)
    for i in np.flatnonzero(n > 0):
        k = int(n[i])
        if not ties[i] and k <= EXACT_MAX_N:
            dist = _exact_null(k)
            t = int(round(r_plus[i]))
            p[i] = min(1.0, 2.0 * min(dist[:t + 1].sum(), dist[t:].sum()))
        elif ties[i] and k <= PERMUTATION_MAX_N:
            r = ranks[i][use[i]]
            stats = _sign_patterns(k) @ r
            tol = _REL * max(abs(r_plus[i]), 1.0)
            p[i] = min(1.0, 2.0 * min(np.mean(stats <= r_plus[i] + tol), np.mean(stats >= r_plus[i] - tol)))
        else:
            t = tie_counts[i][use[i]]
            var = k * (k + 1) * (2 * k + 1) / 24.0 - float(np.sum(t * t - 1)) / 48.0
            z = (r_plus[i] - k * (k + 1) / 4.0) / math.sqrt(var) if var > 0 else 0.0
            p[i] = min(1.0, 2.0 * float(norm.sf(abs(z))))
    return p, n


def min_attainable_p(n: int) -> float:
    """Smallest two-sided exact signed-rank p-value with ``n`` non-zero changes: ``2 / 2^n`` (1 when n = 0)."""
    return 1.0 if n <= 0 else min(1.0, 2.0 / 2.0 ** n)


def simulated_power(n: int, effect: float, alpha: float, n_sim: int = 2000, seed: int = 0) -> float:
    """Share of ``n_sim`` samples of ``n`` normal paired changes N(effect, 1) with p <= alpha."""
    if n <= 0:
        return 0.0
    rng = np.random.default_rng([seed, n, int(round(effect * 1000))])
    p, _ = signed_rank_pvalues(rng.normal(effect, 1.0, size=(n_sim, n)))
    return float(np.mean(p <= alpha * (1 + 1e-12)))


def noether_power(n: int, effect: float, alpha: float) -> float:
    """Noether's (1987) normal approximation of the two-sided signed-rank test's power (normal shifts)."""
    p_prime = float(norm.cdf(math.sqrt(2.0) * effect))
    return float(norm.cdf(math.sqrt(3.0 * n) * abs(p_prime - 0.5) - norm.ppf(1 - alpha / 2.0)))


@dataclass(frozen=True)
class PowerReport:
    """What the held-out test can detect at its size (computed before any test is run).

    Attributes:
        n_roles: held-out roles with paired changes (the smallest over the settings).
        n_tests: (setting, value) tests in the FDR family (m).
        fdr: the FDR level q.
        min_p: ``2 / 2^n``.
        informative: False when ``min_p > q``: no change can be significant.
        single_change_detectable: ``min_p <= q / m`` (one change among m can be significant).
        power: per stated effect (SD of the paired changes), the power at q and at q / m.
        reason: why the test is not informative (None when it is).
    """

    n_roles: int
    n_tests: int
    fdr: float
    min_p: float
    informative: bool
    single_change_detectable: bool
    power: dict[str, dict[str, float]]
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"n_roles": self.n_roles, "n_tests": self.n_tests, "fdr": self.fdr, "min_p": self.min_p,
                "min_p_text": f"2/2^{self.n_roles} = {self.min_p:.3g}",
                "min_p_formula": "2 / 2^n (two-sided exact signed-rank, all changes of one sign)",
                "informative": self.informative, "single_change_detectable": self.single_change_detectable,
                "power": self.power, "power_method": "simulation: N(d, 1) paired changes, 2000 samples, the test "
                                                    "above; d = mean paired change / SD of the paired changes",
                "test": TEST_METHOD, "reason": self.reason}

    def sentence(self) -> str:
        """One line for people."""
        head = (f"power before testing: {self.n_roles} held-out roles, smallest attainable p = 2/2^{self.n_roles} "
                f"= {self.min_p:.3g} (FDR {self.fdr:g}, {self.n_tests} tests)")
        pw = "; ".join(f"power at d = {d}: {v['at_fdr']:.2f} (level q), {v['at_fdr_over_m']:.2f} (level q/m)"
                       for d, v in self.power.items())
        verdict = "informative" if self.informative else f"NOT informative: {self.reason}"
        return f"{head}; {pw}; {verdict}"


def power_report(n_roles: int, n_tests: int, fdr: float, effects: Sequence[float] = DEFAULT_EFFECTS,
                 seed: int = 0) -> PowerReport:
    """The smallest attainable p and the power at ``n_roles`` held-out roles (see the module docstring)."""
    m = max(int(n_tests), 1)
    min_p = min_attainable_p(n_roles)
    power = {f"{float(d):g}": {"at_fdr": simulated_power(n_roles, float(d), fdr, seed=seed),
                               "at_fdr_over_m": simulated_power(n_roles, float(d), fdr / m, seed=seed)}
             for d in effects}
    informative = min_p <= fdr * (1 + 1e-12)
    reason = None if informative else (
        f"with {n_roles} held-out role(s) the smallest attainable two-sided p is 2/2^{n_roles} = {min_p:.3g} > FDR "
        f"{fdr:g}: no change can be significant, whatever the graph")
    return PowerReport(int(n_roles), m, float(fdr), min_p, informative, min_p <= fdr / m * (1 + 1e-12), power, reason)


__all__ = ["DEFAULT_EFFECTS", "PowerReport", "TEST_METHOD", "min_attainable_p", "noether_power", "power_report",
           "signed_rank_pvalues", "simulated_power"]
