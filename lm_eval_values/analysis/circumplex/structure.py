"""Circular structure: distances on the Schwartz circle, the distance curve, the RTHOR
correspondence index with its permutation test, and the similarity with the human matrix.

References:
    Hubert, L. & Arabie, P. (1987). Evaluating order hypotheses within proximity matrices.
    Psychological Bulletin 102(1):172-178.
    Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero. Statistical
    Applications in Genetics and Molecular Biology 9(1):39.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.analysis.circumplex.reference import CONVENTIONS
from lm_eval_values.core.errors import UserError
from lm_eval_values.values.names import SCHWARTZ_VALUES


def circular_distances(order: Sequence[str] = SCHWARTZ_VALUES, convention: str = "separate") -> pd.DataFrame:
    """Predicted distance between values on the circle ``order``.

    ``"separate"`` (the convention of the reference figures): every value has its own
    position, so 10 values give distances 1..5. ``"shared"``: Tradition and Conformity
    share one wedge (Schwartz 1992 places Tradition outside Conformity), 9 positions,
    distances 0..4. The convention changes the correspondence index.
    """
    if convention not in CONVENTIONS:
        raise UserError("convention", f"unknown convention {convention!r}", "use 'separate' or 'shared'")
    positions = _positions(list(order), convention)
    k = max(positions.values()) + 1
    names = list(order)
    dist = [[min(abs(positions[a] - positions[b]), k - abs(positions[a] - positions[b])) for b in names]
            for a in names]
    return pd.DataFrame(dist, index=names, columns=names)


def _positions(order: list[str], convention: str) -> dict[str, int]:
    if convention == "separate":
        return {v: i for i, v in enumerate(order)}
    if not {"Tradition", "Conformity"} <= set(order):
        raise UserError("convention", "'shared' needs Tradition and Conformity in the order", "use 'separate'")
    if abs(order.index("Tradition") - order.index("Conformity")) != 1:
        raise UserError("convention", "'shared' needs Tradition and Conformity adjacent", "use 'separate'")
    positions: dict[str, int] = {}
    pos = -1
    for i, v in enumerate(order):
        if not (i > 0 and {v, order[i - 1]} == {"Tradition", "Conformity"}):
            pos += 1
        positions[v] = pos
    return positions


def aligned_correlations(corr: pd.DataFrame, order: Sequence[str]) -> np.ndarray:
    """``corr`` as an array in ``order``, after checking it is a usable correlation matrix."""
    missing = [v for v in order if v not in corr.index or v not in corr.columns]
    if missing:
        raise UserError("correlation", f"missing value(s) {', '.join(missing)}", f"index rows and columns by {', '.join(order)}")
    arr = corr.loc[list(order), list(order)].to_numpy(dtype=float)
    if not np.all(np.isfinite(arr)):
        raise UserError("correlation", "matrix has missing cells (a constant column?)", "drop constant columns")
    if not np.allclose(arr, arr.T, atol=1e-8):
        raise UserError("correlation", "matrix is not symmetric", "give a correlation matrix")
    return arr


def distance_curve(corr: pd.DataFrame, order: Sequence[str] = SCHWARTZ_VALUES,
                   convention: str = "separate") -> dict[int, float]:
    """Mean correlation of the value pairs at each circular distance (1..5 for 10 values).

    For a circumplex the curve falls monotonically with distance (Schwartz 1992).
    """
    arr = aligned_correlations(corr, order)
    dist = circular_distances(order, convention).to_numpy()
    iu, ju = np.triu_indices(len(order), k=1)
    d, r = dist[iu, ju], arr[iu, ju]
    return {int(t): float(r[d == t].mean()) for t in np.unique(d)}


def is_monotone_decreasing(curve: Mapping[int, float]) -> bool:
    """True if the distance curve falls strictly from each distance to the next."""
    ys = [curve[k] for k in sorted(curve)]
    return all(a > b for a, b in zip(ys, ys[1:]))


# --------------------------------------------------------------------------- RTHOR


@dataclass(frozen=True)
class RTHORResult:
    """Randomization test of hypothesized order (Hubert & Arabie 1987).

    ``ci = (agreements - violations) / comparisons``; a comparison is a pair of
    correlation cells at different circular distances, predicted "the closer pair
    correlates higher". Ties count as neither. ``p_value`` is the share of value-label
    permutations whose index is at least the observed one (Monte Carlo: (1 + count) /
    (1 + permutations), Phipson & Smyth 2010; exact: count / k!, the identity included).
    """

    ci: float
    agreements: int
    violations: int
    ties: int
    comparisons: int
    p_value: float | None = None
    permutations: int = 0
    method: str = "none"
    seed: int | None = None
    convention: str = "separate"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class OrderDesign:
    """Upper-triangle cells and the cell pairs (closer, farther) that the hypothesis compares."""

    iu: np.ndarray
    ju: np.ndarray
    closer: np.ndarray
    farther: np.ndarray


def order_design(order: Sequence[str], convention: str) -> OrderDesign:
    """The cells and cell pairs of the circular-order hypothesis for ``order`` (RTHOR)."""
    dist = circular_distances(order, convention).to_numpy()
    iu, ju = np.triu_indices(len(order), k=1)
    d = dist[iu, ju]
    p, q = np.meshgrid(np.arange(len(d)), np.arange(len(d)), indexing="ij")
    mask = d[p] < d[q]
    return OrderDesign(iu, ju, p[mask], q[mask])


def order_counts(cells: np.ndarray, design: OrderDesign) -> tuple[np.ndarray, np.ndarray]:
    """Agreement and violation counts for cell vectors ``cells`` of shape (batch, n_cells)."""
    diff = cells[:, design.closer] - cells[:, design.farther]
    return (diff > 0).sum(axis=1), (diff < 0).sum(axis=1)


def correspondence_index(corr: pd.DataFrame, order: Sequence[str] = SCHWARTZ_VALUES,
                         convention: str = "separate") -> RTHORResult:
    """RTHOR correspondence index of the circular-order hypothesis (no p-value).

    Ordering convention matters: the reference figures place the values as in
    ``order`` with one position each (``convention="separate"``).
    """
    arr = aligned_correlations(corr, order)
    design = order_design(order, convention)
    agree, viol = order_counts(arr[design.iu, design.ju][None, :], design)
    n = len(design.closer)
    a, v = int(agree[0]), int(viol[0])
    return RTHORResult(ci=(a - v) / n, agreements=a, violations=v, ties=n - a - v, comparisons=n, convention=convention)


def _permutation_batches(k: int, permutations: int, seed: int, batch: int = 2048):
    """Yield arrays of label permutations: all k! when that is no more than asked, else random."""
    if math.factorial(k) <= permutations:
        perms = np.array(list(itertools.permutations(range(k))), dtype=np.intp)
        for start in range(0, len(perms), batch):
            yield perms[start:start + batch]
        return
    rng = np.random.default_rng(seed)
    left = permutations
    while left > 0:
        size = min(batch, left)
        yield np.argsort(rng.random((size, k)), axis=1)
        left -= size


def rthor_test(corr: pd.DataFrame, order: Sequence[str] = SCHWARTZ_VALUES, permutations: int = 10000,
               seed: int = 0, convention: str = "separate") -> RTHORResult:
    """Correspondence index with a permutation p-value (Hubert & Arabie 1987).

    Under the null hypothesis every assignment of value labels to circle positions is
    equally likely: the rows and columns of ``corr`` are permuted together and the index
    recomputed. When ``k!`` is no more than ``permutations`` all labelings are enumerated
    (exact p); otherwise ``permutations`` random labelings drawn with ``seed`` are used.
    """
    if permutations < 1:
        raise UserError("permutations", f"{permutations} permutations", "use 1 or more (e.g. 10000)")
    observed = correspondence_index(corr, order, convention)
    arr = aligned_correlations(corr, order)
    design = order_design(order, convention)
    target = observed.agreements - observed.violations
    exact = math.factorial(len(order)) <= permutations
    hits = total = 0
    for perms in _permutation_batches(len(order), permutations, seed):
        cells = arr[perms[:, design.iu], perms[:, design.ju]]
        agree, viol = order_counts(cells, design)
        hits += int(((agree - viol) >= target).sum())
        total += len(perms)
    p = hits / total if exact else (1 + hits) / (1 + total)
    return RTHORResult(ci=observed.ci, agreements=observed.agreements, violations=observed.violations,
                       ties=observed.ties, comparisons=observed.comparisons, p_value=float(p),
                       permutations=total, method="exact" if exact else "monte_carlo",
                       seed=None if exact else seed, convention=convention)


# --------------------------------------------------------------------------- similarity with humans


def offdiagonal(corr: pd.DataFrame, order: Sequence[str] = SCHWARTZ_VALUES) -> np.ndarray:
    """Upper-triangle (off-diagonal) cells of ``corr`` in ``order``, row by row."""
    arr = aligned_correlations(corr, order)
    iu, ju = np.triu_indices(len(order), k=1)
    return arr[iu, ju]


def matrix_similarity(corr: pd.DataFrame, reference: pd.DataFrame,
                      order: Sequence[str] = SCHWARTZ_VALUES) -> dict[str, float]:
    """Similarity of two correlation matrices over their off-diagonal cells.

    ``r_offdiag``: Pearson correlation of the 45 cell pairs; ``rmse``: root mean squared
    difference; ``mean_abs_diff``: mean absolute difference.
    """
    a, b = offdiagonal(corr, order), offdiagonal(reference, order)
    r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return {"r_offdiag": r, "rmse": float(np.sqrt(np.mean((a - b) ** 2))),
            "mean_abs_diff": float(np.mean(np.abs(a - b))), "n_cells": int(a.size)}
