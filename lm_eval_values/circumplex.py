"""Human Schwartz value structure and how a model's value matrix compares with it.

Input is any table whose columns are Schwartz's (1992) ten basic values and whose rows
are roles, conditions or respondents. From it this module computes

* MRAT-centered correlations (each row's mean rating over all items subtracted first,
  as the PVQ scoring instructions prescribe; Schwartz 1992, Schwartz et al. 2001);
* the mean correlation by circular distance 1..5, next to the human curve;
* the RTHOR correspondence index of the circular-order hypothesis with a permutation
  p-value (Hubert & Arabie 1987, "Evaluating order hypotheses within proximity matrices",
  Psychological Bulletin 102(1):172-178);
* similarity with the human correlation matrix (correlation of off-diagonal cells, RMSE);
* a 2-D MDS configuration (classical start, metric SMACOF refinement) with Procrustes fits
  to the theoretical circle and to the human configuration (Borg, Bardi & Schwartz 2017,
  "Does the value circle exist within persons or only across persons?", Journal of
  Personality 85(2):151-162);
* the signs of the two higher-order contrasts (Openness to change vs Conservation,
  Self-enhancement vs Self-transcendence).

The human reference is PVQ-40 data of 151 US adults (Borg, Bardi & Schwartz 2017, as
distributed in the R package smacof), shipped as ``lm_eval_values/data/schwartz_pvq40_human.json``
and loaded by :func:`load_human_reference`.

The causal side (a PC graph of the human correlations, compared with a model's graph)
lives in :func:`human_pc_graph` and :func:`compare_causal_with_human`; it uses
``lm_eval_values.causal`` and the uncentered correlations (MRAT-centered scores are
ipsative, so their correlation matrix is singular).

All analysis functions take plain :class:`pandas.DataFrame` objects. Bad input raises
:class:`~lm_eval_values.core.errors.UserError`.

References:
    Schwartz, S. H. (1992). Universals in the content and structure of values. Advances in
    Experimental Social Psychology 25:1-65.
    Schwartz, S. H. et al. (2001). Extending the cross-cultural validity of the theory of basic
    human values with a different method of measurement. J. Cross-Cultural Psychology 32(5):519-542.
    Hubert, L. & Arabie, P. (1987). Evaluating order hypotheses within proximity matrices.
    Psychological Bulletin 102(1):172-178.
    Borg, I., Bardi, A. & Schwartz, S. H. (2017). Does the value circle exist within persons or
    only across persons? Journal of Personality 85(2):151-162.
    Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero. Statistical
    Applications in Genetics and Molecular Biology 9(1):39.

Public API: :func:`load_human_reference` (:class:`HumanReference`), :func:`schwartz_scores`,
:func:`row_item_mean`, :func:`mrat_center`, :func:`value_correlations`,
:func:`circular_distances`, :func:`distance_curve`, :func:`correspondence_index`,
:func:`rthor_test` (:class:`RTHORResult`), :func:`matrix_similarity`, :func:`classical_mds`,
:func:`metric_mds`, :func:`procrustes_fit`, :func:`mds_configuration`,
:func:`higher_order_contrasts`, :func:`bootstrap_structure`, :func:`compare_with_human`
(:class:`HumanComparison`), :func:`human_pc_graph`, :func:`compare_causal_with_human`.
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.jsonable import json_ready
from lm_eval_values.values.names import SCHWARTZ_VALUES, slugify

if TYPE_CHECKING:  # pragma: no cover
    from lm_eval_values.causal.graph import ValueGraph

REFERENCE_FILE = "schwartz_pvq40_human.json"
CENTERINGS = ("mrat", "none")
CONVENTIONS = ("separate", "shared")

#: Poles of the two higher-order contrasts (Schwartz 1992). Hedonism shares elements of
#: Openness to change and Self-enhancement and is left out of both contrasts.
HIGHER_ORDER: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "openness_vs_conservation": (("Self-Direction", "Stimulation"), ("Security", "Conformity", "Tradition")),
    "self_enhancement_vs_self_transcendence": (("Power", "Achievement"), ("Universalism", "Benevolence")),
}


# --------------------------------------------------------------------------- reference


@dataclass(frozen=True)
class HumanReference:
    """The PVQ-40 human reference (Borg, Bardi & Schwartz 2017; n = 151 US adults).

    ``values`` is the circle order; both correlation matrices are indexed by it.
    ``published`` holds the figures stored with the data (distance curves and RTHOR
    correspondence indices) so tests can check that this module reproduces them.
    """

    values: tuple[str, ...]
    abbrev: dict[str, str]
    n: int
    instrument: str
    sample: str
    source: str
    items_per_value: dict[str, int]
    correlation_raw: pd.DataFrame
    correlation_centered: pd.DataFrame
    published: dict[str, Any] = field(repr=False)

    def correlation(self, centering: str = "mrat") -> pd.DataFrame:
        """Human correlation matrix for ``centering`` (``"mrat"`` or ``"none"``)."""
        _check_centering(centering)
        return (self.correlation_centered if centering == "mrat" else self.correlation_raw).copy()

    def published_distance_curve(self, centering: str = "mrat") -> dict[int, float]:
        """Mean correlation by circular distance as published with the data."""
        _check_centering(centering)
        key = "mean_r_by_circular_distance_" + ("centered" if centering == "mrat" else "raw")
        return {int(k): float(v) for k, v in self.published[key].items()}

    def published_correspondence_index(self, centering: str = "mrat") -> float:
        """RTHOR correspondence index as published with the data."""
        _check_centering(centering)
        cis = self.published["rthor_correspondence_index"]
        return float(cis["centered_mrat" if centering == "mrat" else "raw"])


def _check_centering(centering: str) -> None:
    if centering not in CENTERINGS:
        raise UserError("centering", f"unknown centering {centering!r}", "use 'mrat' or 'none'")


def _square_frame(rows: Sequence[Sequence[float]], names: Sequence[str]) -> pd.DataFrame:
    arr = np.asarray(rows, dtype=float)
    if arr.shape != (len(names), len(names)) or not np.allclose(arr, arr.T) or not np.allclose(np.diag(arr), 1.0):
        raise ValueError("human reference: correlation matrix is not a symmetric 10x10 matrix with unit diagonal")
    return pd.DataFrame(arr, index=list(names), columns=list(names))


@functools.lru_cache(maxsize=1)
def _reference_json() -> str:
    return (importlib.resources.files("lm_eval_values") / "data" / REFERENCE_FILE).read_text(encoding="utf-8")


def load_human_reference() -> HumanReference:
    """Load the packaged PVQ-40 reference (``lm_eval_values/data/schwartz_pvq40_human.json``)."""
    raw = json.loads(_reference_json())
    order = tuple(raw["circle_order"])
    if sorted(order) != sorted(SCHWARTZ_VALUES):
        raise ValueError("human reference: circle_order does not list the 10 Schwartz values")
    return HumanReference(
        values=order,
        abbrev=dict(zip(order, raw["abbrev"])),
        n=int(raw["n"]),
        instrument=raw["instrument"],
        sample=raw["sample"],
        source=raw["source"],
        items_per_value={k: int(v) for k, v in raw["items_per_value"].items()},
        correlation_raw=_square_frame(raw["correlation_raw"], order),
        correlation_centered=_square_frame(raw["correlation_centered_mrat"], order),
        published={k: raw[k] for k in ("mean_r_by_circular_distance_raw", "mean_r_by_circular_distance_centered",
                                       "rthor_correspondence_index")},
    )


# --------------------------------------------------------------------------- input and centering


def find_schwartz_columns(columns: Sequence[Any]) -> dict[str, Any]:
    """Map each Schwartz value to the input column that names it (exact, case or slug match)."""
    by_slug: dict[str, Any] = {}
    for col in columns:
        by_slug.setdefault(slugify(str(col)), col)
    found: dict[str, Any] = {}
    for value in SCHWARTZ_VALUES:
        if value in columns:
            found[value] = value
        elif slugify(value) in by_slug:
            found[value] = by_slug[slugify(value)]
    return found


def schwartz_scores(frame: pd.DataFrame, order: Sequence[str] = SCHWARTZ_VALUES,
                    field_name: str = "matrix") -> pd.DataFrame:
    """The 10 Schwartz columns of ``frame`` as floats, in ``order``; other columns are ignored.

    Columns match by exact name, case-insensitively or by slug (``self_direction``).
    Raises :class:`UserError` for missing or non-numeric columns, missing cells, fewer
    than 3 rows or a constant column (its correlations would be undefined).
    """
    found = find_schwartz_columns(list(frame.columns))
    missing = [v for v in order if v not in found]
    if missing:
        raise UserError(field_name, f"missing Schwartz value column(s): {', '.join(missing)}",
                        f"give one column per value: {', '.join(order)}")
    scores = frame[[found[v] for v in order]].copy()
    scores.columns = list(order)
    try:
        scores = scores.apply(pd.to_numeric, errors="raise").astype(float)
    except (ValueError, TypeError):
        raise UserError(field_name, "a Schwartz value column holds non-numeric cells",
                        "keep only numbers in the value columns") from None
    _check_finite(scores, field_name)
    if len(scores) < 3:
        raise UserError(field_name, f"{len(scores)} row(s); correlations need at least 3",
                        "give one row per role or condition, 3 or more (30+ recommended)")
    _check_not_constant(scores, field_name, "")
    return scores


def _check_finite(scores: pd.DataFrame, field_name: str) -> None:
    bad = ~np.isfinite(scores.to_numpy())
    if bad.any():
        rows = int(bad.any(axis=1).sum())
        cols = [c for c, b in zip(scores.columns, bad.any(axis=0)) if b]
        raise UserError(field_name, f"{rows} row(s) have missing or infinite scores in {', '.join(cols)}",
                        "drop or re-run those rows (compare-human --drop-incomplete drops them)")


def _check_not_constant(scores: pd.DataFrame, field_name: str, what: str) -> None:
    spread = scores.max() - scores.min()
    const = [c for c, s in spread.items() if not s > 1e-12 * max(1.0, float(scores[c].abs().max()))]
    if const:
        raise UserError(field_name, f"constant {what}column(s) {', '.join(const)}: correlations are undefined",
                        "use rows (roles, conditions) on which the value scores vary")


def row_item_mean(scores: pd.DataFrame, items_per_value: Mapping[str, float] | None = None) -> pd.Series:
    """Each row's mean over all items of all values, from value scores alone.

    With ``items_per_value`` it is the item-count-weighted mean of the value scores
    (exact when each value score is the mean of its items); without it all values
    count equally.
    """
    if items_per_value is None:
        return scores.mean(axis=1)
    missing = [c for c in scores.columns if c not in items_per_value]
    if missing:
        raise UserError("items_per_value", f"no item count for {', '.join(missing)}",
                        "give a count for each of the 10 values")
    weights = np.array([float(items_per_value[c]) for c in scores.columns])
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise UserError("items_per_value", "item counts must be positive numbers", "e.g. 4 items per value")
    return pd.Series(scores.to_numpy() @ weights / weights.sum(), index=scores.index)


def mrat_center(scores: pd.DataFrame, item_mean: pd.Series | Sequence[float] | None = None,
                items_per_value: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Subtract each row's mean rating over all items (MRAT) from its value scores.

    ``item_mean`` is the per-row mean over all items when known (e.g. from the item table);
    otherwise it is derived from the value scores by :func:`row_item_mean`. This is the
    centering the PVQ scoring instructions prescribe (Schwartz et al. 2001).
    """
    if item_mean is None:
        mean = row_item_mean(scores, items_per_value)
    else:
        mean = pd.Series(np.asarray(item_mean, dtype=float).ravel())
        if len(mean) != len(scores):
            raise UserError("item_mean", f"{len(mean)} item means for {len(scores)} rows", "give one per row")
        if not np.all(np.isfinite(mean.to_numpy())):
            raise UserError("item_mean", "missing or infinite item means", "give a number for every row")
    return scores.sub(mean.to_numpy(), axis=0)


def value_correlations(scores: pd.DataFrame, centering: str = "mrat",
                       item_mean: pd.Series | Sequence[float] | None = None,
                       items_per_value: Mapping[str, float] | None = None,
                       order: Sequence[str] = SCHWARTZ_VALUES) -> pd.DataFrame:
    """Pearson correlations between the 10 value columns of ``scores`` (in ``order``).

    ``centering="mrat"`` subtracts each row's item mean first (:func:`mrat_center`).
    """
    _check_centering(centering)
    values = schwartz_scores(scores, order)
    if centering == "mrat":
        values = mrat_center(values, item_mean, items_per_value)
        _check_not_constant(values, "matrix", "MRAT-centered ")
    return values.corr(method="pearson")


# --------------------------------------------------------------------------- circular structure


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


def _aligned(corr: pd.DataFrame, order: Sequence[str]) -> np.ndarray:
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
    arr = _aligned(corr, order)
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
class _Design:
    """Upper-triangle cells and the cell pairs (closer, farther) that the hypothesis compares."""

    iu: np.ndarray
    ju: np.ndarray
    closer: np.ndarray
    farther: np.ndarray


def _design(order: Sequence[str], convention: str) -> _Design:
    dist = circular_distances(order, convention).to_numpy()
    iu, ju = np.triu_indices(len(order), k=1)
    d = dist[iu, ju]
    p, q = np.meshgrid(np.arange(len(d)), np.arange(len(d)), indexing="ij")
    mask = d[p] < d[q]
    return _Design(iu, ju, p[mask], q[mask])


def _scores(cells: np.ndarray, design: _Design) -> tuple[np.ndarray, np.ndarray]:
    """Agreement and violation counts for cell vectors ``cells`` of shape (batch, n_cells)."""
    diff = cells[:, design.closer] - cells[:, design.farther]
    return (diff > 0).sum(axis=1), (diff < 0).sum(axis=1)


def correspondence_index(corr: pd.DataFrame, order: Sequence[str] = SCHWARTZ_VALUES,
                         convention: str = "separate") -> RTHORResult:
    """RTHOR correspondence index of the circular-order hypothesis (no p-value).

    Ordering convention matters: the reference figures place the values as in
    ``order`` with one position each (``convention="separate"``).
    """
    arr = _aligned(corr, order)
    design = _design(order, convention)
    agree, viol = _scores(arr[design.iu, design.ju][None, :], design)
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
    arr = _aligned(corr, order)
    design = _design(order, convention)
    target = observed.agreements - observed.violations
    exact = math.factorial(len(order)) <= permutations
    hits = total = 0
    for perms in _permutation_batches(len(order), permutations, seed):
        cells = arr[perms[:, design.iu], perms[:, design.ju]]
        agree, viol = _scores(cells, design)
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
    arr = _aligned(corr, order)
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


# --------------------------------------------------------------------------- MDS and Procrustes


def correlation_dissimilarity(corr: np.ndarray) -> np.ndarray:
    """Dissimilarity ``sqrt(2 (1 - r))``: the distance between standardized variables (up to scale)."""
    return np.sqrt(np.clip(2.0 * (1.0 - np.asarray(corr, dtype=float)), 0.0, None))


def classical_mds(dissimilarity: np.ndarray, dims: int = 2) -> np.ndarray:
    """Classical (Torgerson) MDS: top eigenvectors of the double-centered squared dissimilarities."""
    d2 = np.asarray(dissimilarity, dtype=float) ** 2
    n = d2.shape[0]
    j = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * j @ d2 @ j
    w, v = np.linalg.eigh(b)
    top = np.argsort(w)[::-1][:dims]
    x = v[:, top] * np.sqrt(np.clip(w[top], 0.0, None))
    return _fix_signs(x)


def _fix_signs(x: np.ndarray) -> np.ndarray:
    """Make each column's largest-magnitude entry positive (a deterministic orientation)."""
    idx = np.argmax(np.abs(x), axis=0)
    signs = np.sign(x[idx, np.arange(x.shape[1])])
    signs[signs == 0] = 1.0
    return x * signs


def _pairwise(x: np.ndarray) -> np.ndarray:
    diff = x[:, None, :] - x[None, :, :]
    return np.sqrt((diff ** 2).sum(axis=-1))


def stress1(dissimilarity: np.ndarray, x: np.ndarray) -> float:
    """Normalized stress ``sqrt(sum (delta - d)^2 / sum delta^2)`` over the off-diagonal pairs."""
    delta = np.asarray(dissimilarity, dtype=float)
    iu = np.triu_indices(delta.shape[0], k=1)
    d = _pairwise(x)[iu]
    return float(np.sqrt(((delta[iu] - d) ** 2).sum() / (delta[iu] ** 2).sum()))


def metric_mds(dissimilarity: np.ndarray, dims: int = 2, max_iter: int = 500, tol: float = 1e-9) -> np.ndarray:
    """Metric (ratio) MDS by SMACOF (Guttman transform), started from classical MDS.

    See Borg & Groenen, *Modern Multidimensional Scaling* (2005), ch. 8.
    """
    delta = np.asarray(dissimilarity, dtype=float)
    n = delta.shape[0]
    x = classical_mds(delta, dims)
    prev = stress1(delta, x)
    for _ in range(max_iter):
        d = _pairwise(x)
        ratio = np.divide(delta, d, out=np.zeros_like(d), where=d > 1e-12)
        b = -ratio
        np.fill_diagonal(b, 0.0)
        np.fill_diagonal(b, -b.sum(axis=1))
        x = b @ x / n
        cur = stress1(delta, x)
        if prev - cur < tol:
            break
        prev = cur
    return x - x.mean(axis=0)


def theoretical_circle(order: Sequence[str] = SCHWARTZ_VALUES) -> np.ndarray:
    """Unit-circle coordinates of ``order`` at equal angles (the idealized circumplex)."""
    angles = 2.0 * np.pi * np.arange(len(order)) / len(order)
    return np.column_stack([np.cos(angles), np.sin(angles)])


@dataclass(frozen=True)
class ProcrustesFit:
    """Orthogonal Procrustes fit (rotation/reflection, scale, translation) of a configuration.

    Both configurations are centered and scaled to unit Frobenius norm first (as
    :func:`scipy.spatial.procrustes`). ``disparity`` is the sum of squared residuals after
    the best rotation and scale (0 = identical shape, 1 = unrelated); ``fitted`` is the
    rotated and scaled configuration, ``rotated`` the rotated one at unit norm (for
    drawing: the least-squares scale shrinks unrelated configurations towards the centre).
    """

    disparity: float
    target: np.ndarray
    fitted: np.ndarray
    rotated: np.ndarray


def _standardize(x: np.ndarray) -> np.ndarray:
    c = np.asarray(x, dtype=float) - np.mean(x, axis=0)
    norm = np.linalg.norm(c)
    if norm == 0:
        raise ValueError("configuration has a single point")
    return c / norm


def procrustes_fit(config: np.ndarray, target: np.ndarray) -> ProcrustesFit:
    """Fit ``config`` onto ``target`` by orthogonal Procrustes (Schoenemann 1966; same
    disparity as :func:`scipy.spatial.procrustes`)."""
    from scipy.linalg import orthogonal_procrustes

    tgt, cfg = _standardize(target), _standardize(config)
    rot, scale = orthogonal_procrustes(cfg, tgt)
    rotated = cfg @ rot
    fitted = rotated * scale
    return ProcrustesFit(float(np.sum((tgt - fitted) ** 2)), tgt, fitted, rotated)


def _angles_deg(x: np.ndarray) -> np.ndarray:
    c = x - x.mean(axis=0)
    return np.degrees(np.arctan2(c[:, 1], c[:, 0]))


def circle_fit_summary(config: np.ndarray, order: Sequence[str] = SCHWARTZ_VALUES) -> dict[str, Any]:
    """Procrustes fit of ``config`` to the theoretical circle, with angular deviations.

    ``cyclic_order_matches`` is True when walking around the fitted configuration meets
    the values in the theoretical circular order (either direction).
    """
    fit = procrustes_fit(config, theoretical_circle(order))
    dev = (_angles_deg(fit.fitted) - _angles_deg(fit.target) + 180.0) % 360.0 - 180.0
    seq = [order[i] for i in np.argsort(_angles_deg(fit.fitted))]
    return {"disparity": fit.disparity, "mean_abs_angle_deviation_deg": float(np.mean(np.abs(dev))),
            "angle_deviation_deg": dict(zip(order, map(float, dev))),
            "angular_order": seq, "cyclic_order_matches": _same_cycle(seq, list(order)),
            "fitted": fit.fitted, "rotated": fit.rotated}


def _same_cycle(seq: list[str], order: list[str]) -> bool:
    k = len(order)
    start = seq.index(order[0])
    forward = [seq[(start + i) % k] for i in range(k)]
    backward = [seq[(start - i) % k] for i in range(k)]
    return forward == order or backward == order


@dataclass(frozen=True)
class MDSConfiguration:
    """A 2-D metric MDS configuration of a correlation matrix and its fit to the circle."""

    values: tuple[str, ...]
    coords: np.ndarray
    stress1: float
    circle: dict[str, Any]


def mds_configuration(corr: pd.DataFrame, order: Sequence[str] = SCHWARTZ_VALUES) -> MDSConfiguration:
    """2-D metric MDS of ``corr`` (dissimilarity ``sqrt(2(1-r))``) and its circle fit."""
    delta = correlation_dissimilarity(_aligned(corr, order))
    x = metric_mds(delta)
    return MDSConfiguration(tuple(order), x, stress1(delta, x), circle_fit_summary(x, order))


# --------------------------------------------------------------------------- higher-order contrasts


def higher_order_contrasts(corr: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Signs of the two bipolar higher-order contrasts (Schwartz 1992).

    For each contrast: ``between`` is the mean correlation between values of opposite
    poles (theory: negative, the poles conflict), ``within`` the mean correlation inside
    the poles, ``sign`` the sign of ``between`` and ``as_theory`` whether it is negative.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, (pole_a, pole_b) in HIGHER_ORDER.items():
        between = float(np.mean([corr.loc[a, b] for a in pole_a for b in pole_b]))
        within = float(np.mean([corr.loc[a, b] for pole in (pole_a, pole_b)
                                for a, b in itertools.combinations(pole, 2)]))
        out[name] = {"poles": [list(pole_a), list(pole_b)], "between": between, "within": within,
                     "sign": "negative" if between < 0 else ("positive" if between > 0 else "zero"),
                     "as_theory": bool(between < 0)}
    return out


# --------------------------------------------------------------------------- row bootstrap


def _batch_corr(x: np.ndarray) -> np.ndarray:
    """Pearson correlation matrices of a batch of samples, shape (B, n, k) -> (B, k, k)."""
    c = x - x.mean(axis=1, keepdims=True)
    cov = np.einsum("bni,bnj->bij", c, c)
    sd = np.sqrt(np.einsum("bii->bi", cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / (sd[:, :, None] * sd[:, None, :])


def bootstrap_structure(scores: pd.DataFrame, reference_corr: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                        centering: str = "mrat", item_mean: pd.Series | Sequence[float] | None = None,
                        items_per_value: Mapping[str, float] | None = None,
                        order: Sequence[str] = SCHWARTZ_VALUES, convention: str = "separate",
                        level: float = 0.95) -> dict[str, Any]:
    """Percentile intervals of the correspondence index and the similarity to ``reference_corr``
    over ``n_boot`` resamples of the rows (roles) with replacement (Efron & Tibshirani 1993).

    Rows are resampled after centering (MRAT is a per-row quantity). Resamples in which a
    column is constant are skipped and counted in ``"skipped"``.
    """
    _check_centering(centering)
    values = schwartz_scores(scores, order)
    if centering == "mrat":
        values = mrat_center(values, item_mean, items_per_value)
    x = values.to_numpy(dtype=float)
    design = _design(order, convention)
    ref_cells = offdiagonal(reference_corr, order)
    rng = np.random.default_rng(seed)
    dist = circular_distances(order, convention).to_numpy()[design.iu, design.ju]
    cis, rs, rmses, curves = [], [], [], []
    skipped = 0
    for start in range(0, n_boot, 500):
        idx = rng.integers(0, len(x), size=(min(500, n_boot - start), len(x)))
        corr = _batch_corr(x[idx])
        ok = np.isfinite(corr).all(axis=(1, 2))
        skipped += int((~ok).sum())
        cells = corr[ok][:, design.iu, design.ju]
        agree, viol = _scores(cells, design)
        cis.append((agree - viol) / len(design.closer))
        centred = cells - cells.mean(axis=1, keepdims=True)
        ref_c = ref_cells - ref_cells.mean()
        rs.append(centred @ ref_c / (np.linalg.norm(centred, axis=1) * np.linalg.norm(ref_c)))
        rmses.append(np.sqrt(((cells - ref_cells) ** 2).mean(axis=1)))
        curves.append(np.stack([cells[:, dist == t].mean(axis=1) for t in np.unique(dist)], axis=1))
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2

    def interval(parts: list[np.ndarray]) -> list[float] | None:
        arr = np.concatenate(parts) if parts else np.array([])
        return [float(np.percentile(arr, lo)), float(np.percentile(arr, hi))] if arr.size else None

    curve = np.concatenate(curves) if curves else np.empty((0, 0))
    curve_iv = {str(int(t)): [float(np.percentile(curve[:, i], lo)), float(np.percentile(curve[:, i], hi))]
                for i, t in enumerate(np.unique(dist))} if curve.size else None
    return {"n_boot": int(n_boot), "seed": int(seed), "level": float(level), "skipped": skipped,
            "ci": interval(cis), "r_offdiag": interval(rs), "rmse": interval(rmses), "distance_curve": curve_iv}


# --------------------------------------------------------------------------- the whole comparison


@dataclass(frozen=True)
class HumanComparison:
    """Everything :func:`compare_with_human` computes for one value matrix."""

    centering: str
    n_rows: int
    values: tuple[str, ...]
    correlation: pd.DataFrame
    human_correlation: pd.DataFrame
    distance_curve: dict[int, float]
    human_distance_curve: dict[int, float]
    rthor: RTHORResult
    human_rthor: RTHORResult
    similarity: dict[str, float]
    mds: MDSConfiguration
    human_mds: MDSConfiguration
    mds_to_human_disparity: float
    higher_order: dict[str, dict[str, Any]]
    human_higher_order: dict[str, dict[str, Any]]
    settings: dict[str, Any]
    bootstrap: dict[str, Any] | None = None

    def to_dict(self, digits: int = 6) -> dict[str, Any]:
        """JSON-ready summary (floats rounded to ``digits``; same input -> same output)."""
        def mds(m: MDSConfiguration) -> dict[str, Any]:
            circle = {k: v for k, v in m.circle.items() if k not in ("fitted", "rotated")}
            return {"coords": {v: list(map(float, xy)) for v, xy in zip(m.values, m.coords)},
                    "stress1": m.stress1, "procrustes_to_circle": circle}
        raw = {
            "centering": self.centering, "n_rows": self.n_rows, "values": list(self.values),
            "correlation": _frame_dict(self.correlation),
            "distance_curve": {"model": _keyed(self.distance_curve), "human": _keyed(self.human_distance_curve),
                               "model_monotone_decreasing": is_monotone_decreasing(self.distance_curve),
                               "human_monotone_decreasing": is_monotone_decreasing(self.human_distance_curve)},
            "rthor": {"model": self.rthor.to_dict(), "human": self.human_rthor.to_dict()},
            "similarity_to_human": self.similarity,
            "mds": {"model": mds(self.mds), "human": mds(self.human_mds),
                    "model_to_human_disparity": self.mds_to_human_disparity},
            "higher_order": {"model": self.higher_order, "human": self.human_higher_order},
            "settings": self.settings,
            "bootstrap": self.bootstrap,
        }
        return json_ready(raw, digits)


def _keyed(curve: Mapping[int, float]) -> dict[str, float]:
    return {str(k): v for k, v in sorted(curve.items())}


def _frame_dict(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {str(r): {str(c): float(frame.loc[r, c]) for c in frame.columns} for r in frame.index}


def compare_with_human(scores: pd.DataFrame, centering: str = "mrat", permutations: int = 10000, seed: int = 0,
                       item_mean: pd.Series | Sequence[float] | None = None,
                       items_per_value: Mapping[str, float] | None = None,
                       reference: HumanReference | None = None,
                       convention: str = "separate", bootstrap: int = 0) -> HumanComparison:
    """Compare the value structure of ``scores`` (rows x 10 Schwartz columns) with humans.

    The human side uses the reference matrix with the same ``centering``; RTHOR p-values
    of model and human use the same ``permutations``, ``seed`` and circle ``convention``
    (see :func:`circular_distances`; ``"separate"`` reproduces the published figures).
    ``bootstrap`` > 0 adds row-bootstrap intervals (:func:`bootstrap_structure`, same ``seed``).
    """
    ref = reference or load_human_reference()
    order = ref.values
    corr = value_correlations(scores, centering, item_mean, items_per_value, order)
    human = ref.correlation(centering)
    model_mds, human_mds = mds_configuration(corr, order), mds_configuration(human, order)
    return HumanComparison(
        centering=centering, n_rows=int(len(scores)), values=tuple(order),
        correlation=corr, human_correlation=human,
        distance_curve=distance_curve(corr, order, convention),
        human_distance_curve=distance_curve(human, order, convention),
        rthor=rthor_test(corr, order, permutations, seed, convention),
        human_rthor=rthor_test(human, order, permutations, seed, convention),
        similarity=matrix_similarity(corr, human, order),
        mds=model_mds, human_mds=human_mds,
        mds_to_human_disparity=procrustes_fit(model_mds.coords, human_mds.coords).disparity,
        higher_order=higher_order_contrasts(corr), human_higher_order=higher_order_contrasts(human),
        settings={"centering": centering, "permutations": permutations, "seed": seed,
                  "items_per_value": dict(items_per_value) if items_per_value else "equal",
                  "item_mean": "given" if item_mean is not None else "from value scores",
                  "convention": convention, "circle_order": list(order),
                  "reference": {"source": ref.source, "n": ref.n, "instrument": ref.instrument}},
        bootstrap=bootstrap_structure(scores, human, bootstrap, seed, centering, item_mean, items_per_value,
                                      order, convention) if bootstrap > 0 else None,
    )


# --------------------------------------------------------------------------- causal side


def human_pc_graph(alpha: float = 0.05, reference: HumanReference | None = None) -> "ValueGraph":
    """PC graph of the human (uncentered) PVQ-40 correlations with n = 151 (Fisher-z tests).

    The raw matrix is used because MRAT-centered scores are ipsative: their item-weighted
    sum is identically zero, so the centered correlation matrix is singular and partial
    correlations given all other values are undefined.
    """
    from lm_eval_values.causal.discovery import pc_from_correlation

    ref = reference or load_human_reference()
    return pc_from_correlation(ref.correlation("none"), n=ref.n, alpha=alpha)


def graph_edges(graph: "ValueGraph") -> list[dict[str, Any]]:
    """Edges of a ``ValueGraph`` as ``{"u", "v", "kind", "circular_distance"}`` dictionaries.

    ``circular_distance`` is the distance of the two values on the Schwartz circle (None for
    nodes that are not Schwartz values): a circumplex predicts mostly neighbouring edges.
    """
    dist = circular_distances()
    out = []
    for e in graph.edges():
        d = int(dist.loc[e.u, e.v]) if e.u in dist.index and e.v in dist.index else None
        out.append({"u": e.u, "v": e.v, "kind": e.kind, "circular_distance": d})
    return out


def _edge_summary(graph: "ValueGraph") -> dict[str, Any]:
    edges = graph_edges(graph)
    dists = [e["circular_distance"] for e in edges if e["circular_distance"] is not None]
    return {"n_edges": len(edges), "edges": edges, "text": [f"{e['u']} {e['kind']} {e['v']}" for e in edges],
            "share_between_neighbours": (sum(d == 1 for d in dists) / len(dists)) if dists else None,
            "meta": dict(graph.meta)}


def compare_causal_with_human(model_corr: pd.DataFrame, n: int, alpha: float = 0.05,
                              reference: HumanReference | None = None) -> dict[str, Any]:
    """PC graphs of a model's and of the humans' uncentered value correlations, and their comparison.

    Both graphs come from :func:`lm_eval_values.causal.discovery.pc_from_correlation` (Fisher-z
    needs only correlations and sample size: ``n`` model rows, 151 respondents); the comparison
    is :func:`lm_eval_values.causal.metrics.compare_graphs` with the human graph as reference.
    If the model graph cannot be fitted (too few rows, singular matrix) the reason is reported
    under ``"model_skipped"`` instead of raising.
    """
    from lm_eval_values.causal.discovery import pc_from_correlation

    ref = reference or load_human_reference()
    human = human_pc_graph(alpha, ref)
    out: dict[str, Any] = {"alpha": float(alpha), "correlations": "uncentered (MRAT-centered matrices are singular)",
                           "human": {"n": ref.n, **_edge_summary(human)}}
    order = list(ref.values)
    try:
        model = pc_from_correlation(model_corr.loc[order, order], n=int(n), alpha=alpha)
    except UserError as exc:
        out["model_skipped"] = exc.one_line()
        return out
    out["model"] = {"n": int(n), **_edge_summary(model)}
    out["comparison"] = _compare_graphs(model, human)
    return out


def _compare_graphs(model: "ValueGraph", human: "ValueGraph") -> dict[str, Any]:
    """``compare_graphs(learned=model, reference=human)`` as a JSON-ready dictionary."""
    from lm_eval_values.causal.metrics import compare_graphs

    res = compare_graphs(model, human)
    if hasattr(res, "to_dict"):
        res = res.to_dict()
    elif not isinstance(res, Mapping):
        res = dict(vars(res))
    return dict(res)
