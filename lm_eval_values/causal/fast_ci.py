"""Fisher-z conditional independence test over a cached correlation matrix, for causal-learn.

causal-learn's own ``fisherz`` test (``causallearn.utils.cit.FisherZ``) recomputes the
correlation matrix from the raw rows, builds a string cache key and calls
``scipy.stats.norm.cdf`` for every test; on the study's 1111 x 17 matrix those per-call costs
dominate PC. :class:`FastFisherZ` performs the same arithmetic (same sub-matrix order, same
inverse, same formula, ``scipy.special.ndtr`` being the function ``norm.cdf`` calls), so its
p-values equal causal-learn's to float precision and PC / FCI return the same graph, but it:

* takes the correlation matrix and the sample size explicitly (``sample_size`` may be an
  effective n, see :mod:`lm_eval_values.causal.sample_size`, and need not be an integer);
* caches p-values under a tuple key;
* can be built from per-cluster sufficient statistics (:class:`ClusterMoments`), so that a
  bootstrap or subsample of clusters costs one weighted sum instead of a pass over raw rows;
* can add a fixed block of variables to every conditioning set (the context variables of
  Joint Causal Inference, :mod:`lm_eval_values.causal.jci`).

Fisher-z (Fisher 1921; Kalisch & Bühlmann 2007, JMLR 8): with the partial correlation ``r`` of
x and y given S, ``z = atanh(r)`` and ``sqrt(n - |S| - 3) |z|`` is standard normal under
independence; p = 2 (1 - Phi(.)). When ``n - |S| - 3 <= 0`` the test has no degrees of freedom
left and reports p = 1 (no evidence against independence).

Use through causal-learn by name (``pc(data, alpha, FAST_FISHERZ, correlation=C, sample_size=n)``)
after :func:`register_fast_fisherz`, or through :func:`fisherz_test_kwargs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log, sqrt
from typing import Any, Iterable, Sequence

import numpy as np
from causallearn.utils import cit
from scipy.special import ndtr

#: name under which :class:`FastFisherZ` is registered with causal-learn
FAST_FISHERZ = "lm_eval_values_fast_fisherz"

_ONE_MINUS_EPS = 1.0 - np.finfo(float).eps


def fisherz_pvalue(r: float, sample_size: float, n_conditioning: int) -> float:
    """Two-sided Fisher-z p-value of a (partial) correlation ``r`` (causal-learn's formula)."""
    dof = float(sample_size) - n_conditioning - 3
    if dof <= 0:
        return 1.0
    if abs(r) >= 1:
        r = _ONE_MINUS_EPS * float(np.sign(r))
    z = 0.5 * log((1 + r) / (1 - r))
    return float(2 * (1 - ndtr(sqrt(dof) * abs(z))))


def partial_correlations(corr: np.ndarray, x: Sequence[int], y: Sequence[int],
                         conditioning: np.ndarray) -> np.ndarray:
    """Vectorised partial correlations ``r(x_k, y_k | S_k)`` from a correlation matrix.

    Args:
        corr: ``p x p`` correlation matrix.
        x, y: length-``K`` index sequences.
        conditioning: ``K x d`` integer array (the same set size ``d`` for every test; ``d`` may be 0).

    Returns:
        ``K`` partial correlations, each ``-P[0, 1] / sqrt(P[0, 0] P[1, 1])`` with ``P`` the inverse
        of the correlation sub-matrix over ``(x, y, S)`` in that order (as causal-learn computes it).
    """
    x = np.asarray(x, dtype=int)
    y = np.asarray(y, dtype=int)
    cond = np.asarray(conditioning, dtype=int).reshape(len(x), -1)
    idx = np.concatenate([x[:, None], y[:, None], cond], axis=1)
    sub = corr[idx[:, :, None], idx[:, None, :]]
    inv = np.linalg.inv(sub)
    return -inv[:, 0, 1] / np.sqrt(np.abs(inv[:, 0, 0] * inv[:, 1, 1]))


class FastFisherZ(cit.CIT_Base):
    """Fisher-z test from a correlation matrix (causal-learn ``CIT_Base`` subclass).

    Args:
        data: the array causal-learn passes on; only used when ``correlation`` is None.
        correlation: ``p x p`` correlation matrix (default: ``np.corrcoef(data.T)``).
        sample_size: n in the Fisher-z statistic (default: rows of ``data``); may be an effective n,
            or a ``p x p`` array giving the n of each pair's tests (whatever the conditioning set).
        condition_block: variable indices added to the conditioning set of every test (minus
            the two tested variables); a test between two block members is not computed and
            returns p = 0 (callers ban those adjacencies with background knowledge).
        **kwargs: passed to ``CIT_Base`` (e.g. ``cache_path``).
    """

    def __init__(self, data: np.ndarray, correlation: np.ndarray | None = None,
                 sample_size: float | np.ndarray | None = None, condition_block: Iterable[int] = (),
                 **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.check_cache_method_consistent(FAST_FISHERZ, cit.NO_SPECIFIED_PARAMETERS_MSG)
        if correlation is None:
            self.assert_input_data_is_valid()
            correlation = np.corrcoef(data.T)
        self.correlation_matrix = np.asarray(correlation, dtype=float)
        if self.correlation_matrix.ndim != 2 or self.correlation_matrix.shape[0] != self.correlation_matrix.shape[1]:
            raise ValueError("correlation must be a square matrix")
        p = self.correlation_matrix.shape[0]
        self.pair_sample_size: np.ndarray | None = None
        if sample_size is not None and np.ndim(sample_size) == 2:
            self.pair_sample_size = np.asarray(sample_size, dtype=float)
            if self.pair_sample_size.shape != (p, p):
                raise ValueError("a per-pair sample size must be p x p")
            self.sample_size = float(np.min(self.pair_sample_size))
        else:
            self.sample_size = float(data.shape[0] if sample_size is None else sample_size)
        self.condition_block = frozenset(int(i) for i in condition_block)
        self._pvalues: dict[tuple[int, int, tuple[int, ...]], float] = {}

    def __call__(self, X: Any, Y: Any, condition_set: Iterable[Any] | None = None) -> float:
        x, y = int(X), int(Y)
        if x > y:
            x, y = y, x
        if x in self.condition_block and y in self.condition_block:
            return 0.0  # two block members are never tested (their adjacency is banned by the caller)
        cond_set = {int(s) for s in condition_set} if condition_set is not None else set()
        if self.condition_block:
            cond_set |= self.condition_block - {x, y}
        cond = tuple(sorted(cond_set))
        key = (x, y, cond)
        p = self._pvalues.get(key)
        if p is None:
            if x in cond or y in cond:
                raise ValueError("X, Y cannot be in condition_set.")
            p = self._pvalue(x, y, cond)
            self._pvalues[key] = p
        return p

    def __deepcopy__(self, memo: dict[int, Any]) -> "FastFisherZ":
        # causal-learn deep-copies its graph (and with it the test) before orienting edges; the
        # test never changes except for cache entries, so every copy shares this one object.
        return self

    def _pvalue(self, x: int, y: int, cond: tuple[int, ...]) -> float:
        var = [x, y, *cond]
        sub = self.correlation_matrix.take(var, axis=0).take(var, axis=1)
        try:
            inv = np.linalg.inv(sub)
        except np.linalg.LinAlgError:
            raise ValueError("Data correlation matrix is singular. Cannot run fisherz test. "
                             "Please check your data.") from None
        r = -inv[0, 1] / sqrt(abs(inv[0, 0] * inv[1, 1]))
        n = self.sample_size if self.pair_sample_size is None else self.pair_sample_size[x, y]
        return fisherz_pvalue(r, n, len(cond))

    def pvalues(self, x: Sequence[int], y: Sequence[int], conditioning: np.ndarray) -> np.ndarray:
        """Vectorised p-values of many tests with conditioning sets of one size (not cached)."""
        cond = np.asarray(conditioning, dtype=int).reshape(len(x), -1)
        r = partial_correlations(self.correlation_matrix, x, y, cond)
        r = np.where(np.abs(r) >= 1, _ONE_MINUS_EPS * np.sign(r), r)
        n = (np.full(len(r), self.sample_size) if self.pair_sample_size is None
             else self.pair_sample_size[np.asarray(x, dtype=int), np.asarray(y, dtype=int)])
        dof = n - cond.shape[1] - 3
        z = 0.5 * np.log((1 + r) / (1 - r))
        p = 2 * (1 - ndtr(np.sqrt(np.clip(dof, 0.0, None)) * np.abs(z)))
        return np.where(dof > 0, p, 1.0)


def register_fast_fisherz() -> str:
    """Register :class:`FastFisherZ` with causal-learn (idempotent); returns its name."""
    if cit._custom_ci_tests.get(FAST_FISHERZ) is not FastFisherZ:
        cit.register_ci_test(FAST_FISHERZ, FastFisherZ)
    return FAST_FISHERZ


def fisherz_test_kwargs(correlation: np.ndarray, sample_size: float | np.ndarray,
                        condition_block: Iterable[int] = ()) -> dict[str, Any]:
    """Keyword arguments that make ``pc``/``fci`` use :class:`FastFisherZ`.

    Returns ``{"indep_test": FAST_FISHERZ, "correlation": ..., "sample_size": ..., "condition_block": ...}``;
    for ``fci`` rename ``indep_test`` to ``independence_test_method``.
    """
    return {"indep_test": register_fast_fisherz(), "correlation": np.asarray(correlation, dtype=float),
            "sample_size": sample_size if np.ndim(sample_size) == 2 else float(sample_size),
            "condition_block": tuple(int(i) for i in condition_block)}


def placeholder_data(n_variables: int) -> np.ndarray:
    """A zero array causal-learn can take as ``data`` (it reads only the shape) when the test
    carries its own correlation matrix."""
    return np.zeros((n_variables, n_variables))


@dataclass(frozen=True)
class ClusterMoments:
    """Sufficient statistics of rows grouped in clusters (e.g. roles), for fast resampling.

    Rows are centred on the overall column means first (numerical accuracy); a weighted
    selection of clusters then gives its covariance and correlation matrices exactly, without
    touching the rows again.

    Attributes:
        counts: rows per cluster, shape ``(k,)``.
        sums: per-cluster column sums of the centred rows, ``(k, p)``.
        cross: per-cluster cross-product matrices of the centred rows, ``(k, p, p)``.
    """

    counts: np.ndarray
    sums: np.ndarray
    cross: np.ndarray

    @classmethod
    def from_rows(cls, X: np.ndarray, cluster_codes: Sequence[int] | np.ndarray) -> "ClusterMoments":
        """From an ``n x p`` array and integer cluster codes ``0..k-1`` (one per row)."""
        X = np.asarray(X, dtype=float)
        codes = np.asarray(cluster_codes, dtype=int)
        if X.ndim != 2 or len(codes) != X.shape[0]:
            raise ValueError("X must be n x p and cluster_codes must have n entries")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinite values")
        k = int(codes.max()) + 1 if len(codes) else 0
        Xc = X - X.mean(axis=0)
        counts = np.bincount(codes, minlength=k).astype(float)
        sums = np.zeros((k, X.shape[1]))
        np.add.at(sums, codes, Xc)
        cross = np.zeros((k, X.shape[1], X.shape[1]))
        for c in range(k):
            rows = Xc[codes == c]
            cross[c] = rows.T @ rows
        return cls(counts, sums, cross)

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return int(len(self.counts))

    def n_rows(self, weights: np.ndarray) -> float:
        """Rows in a weighted selection (weight = times a cluster is drawn)."""
        return float(np.asarray(weights, dtype=float) @ self.counts)

    def covariance(self, weights: np.ndarray) -> np.ndarray:
        """Sample covariance (ddof 1) of the rows of the clusters, each counted ``weights[c]`` times."""
        w = np.asarray(weights, dtype=float)
        n = w @ self.counts
        if n < 2:
            raise ValueError("a selection needs at least two rows")
        s = w @ self.sums
        xx = np.tensordot(w, self.cross, axes=1)
        return (xx - np.outer(s, s) / n) / (n - 1)

    def correlation(self, weights: np.ndarray) -> np.ndarray:
        """Correlation matrix of a weighted selection (as ``np.corrcoef`` of the selected rows)."""
        cov = self.covariance(weights)
        d = np.sqrt(np.diag(cov))
        if np.any(d <= 0) or not np.all(np.isfinite(d)):
            raise ValueError("a column is constant in this selection")
        c = cov / np.outer(d, d)
        np.clip(c, -1.0, 1.0, out=c)
        np.fill_diagonal(c, 1.0)
        return c


__all__ = ["FAST_FISHERZ", "ClusterMoments", "FastFisherZ", "fisherz_pvalue", "fisherz_test_kwargs",
           "partial_correlations", "placeholder_data", "register_fast_fisherz"]
