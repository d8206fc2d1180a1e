"""FastFisherZ gives causal-learn's fisherz p-values and graphs, on simulated and on the study's data."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
from causallearn.search.ConstraintBased.FCI import fci
from causallearn.search.ConstraintBased.PC import pc
from causallearn.utils.cit import FisherZ
from scipy.stats import norm

from lm_eval_values.causal.discovery import discover
from lm_eval_values.causal.fast_ci import (ClusterMoments, FastFisherZ, fisherz_pvalue, fisherz_test_kwargs,
                                           placeholder_data)
from lm_eval_values.causal.simulate import simulate_study
from lm_eval_values.matrix.value_matrix import ValueMatrix


def _random_tests(p: int, n_tests: int, seed: int) -> list[tuple[int, int, list[int]]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_tests):
        k = int(rng.integers(0, min(8, p - 2) + 1))
        v = rng.choice(p, size=k + 2, replace=False)
        out.append((int(v[0]), int(v[1]), [int(s) for s in v[2:]]))
    return out


def _assert_same_pvalues(X: np.ndarray, n_tests: int = 1500) -> None:
    ref, fast = FisherZ(X), FastFisherZ(X)
    tests = _random_tests(X.shape[1], n_tests, seed=1)
    a = np.array([ref(x, y, s) for x, y, s in tests])
    b = np.array([fast(x, y, s) for x, y, s in tests])
    assert np.abs(a - b).max() <= 1e-12
    assert (a < 0.05).sum() > 0 and (a > 0.05).sum() > 0  # both decisions are exercised


def _pc_both(X: np.ndarray, **kw: object) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        a = pc(X, 0.05, "fisherz", stable=True, show_progress=False, **kw).G.graph
        test = fisherz_test_kwargs(np.corrcoef(X.T), X.shape[0])
        method = test.pop("indep_test")
        b = pc(placeholder_data(X.shape[1]), 0.05, method, stable=True, show_progress=False, **kw, **test).G.graph
    return a, b


def test_same_pvalues_and_graphs_on_simulated_data() -> None:
    for seed in range(3):
        X = simulate_study(seed=seed).matrix.scores.to_numpy()
        _assert_same_pvalues(X, 600)
        a, b = _pc_both(X)
        assert np.array_equal(a, b)
        assert np.abs(a).sum() > 0  # a non-empty graph


def test_same_fci_pag_on_simulated_data() -> None:
    X = simulate_study(seed=4).matrix.scores.to_numpy()[:400]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        a, _ = fci(X, "fisherz", 0.05, show_progress=False)
        test = fisherz_test_kwargs(np.corrcoef(X.T), X.shape[0])
        b, _ = fci(placeholder_data(X.shape[1]), test.pop("indep_test"), 0.05, show_progress=False, **test)
    assert np.array_equal(a.graph, b.graph)
    assert np.abs(a.graph).sum() > 0


def test_same_pvalues_and_graph_on_the_study_data(gemma_train: ValueMatrix) -> None:
    X = gemma_train.scores.to_numpy(dtype=float)
    assert X.shape == (1111, 17)
    _assert_same_pvalues(X)
    a, b = _pc_both(X)
    assert np.array_equal(a, b)
    g_fast = discover(gemma_train)
    g_ref = discover(gemma_train, fast_fisherz=False)
    assert g_fast == g_ref and g_fast.n_edges == 44 and g_fast.count_by_kind() == {"directed": 41, "undirected": 3}


def test_explicit_and_per_pair_sample_sizes() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    X[:, 1] += 0.2 * X[:, 0]
    t = FastFisherZ(X, sample_size=80.5)
    inv = np.linalg.inv(np.corrcoef(X.T)[np.ix_([0, 1, 2], [0, 1, 2])])
    r = -inv[0, 1] / np.sqrt(inv[0, 0] * inv[1, 1])
    assert t(0, 1, [2]) == pytest.approx(fisherz_pvalue(r, 80.5, 1), abs=1e-14)
    z = np.arctanh(r) * np.sqrt(80.5 - 1 - 3)
    assert t(0, 1, [2]) == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
    pair = np.full((4, 4), 300.0)
    pair[0, 1] = pair[1, 0] = 80.5
    tp = FastFisherZ(X, sample_size=pair)
    assert tp(0, 1, [2]) == t(0, 1, [2]) and tp(2, 3) == FastFisherZ(X)(2, 3)
    assert FastFisherZ(X, sample_size=4.0)(0, 1, [2]) == 1.0  # no degrees of freedom left: no evidence
    blocked = FastFisherZ(X, condition_block=[2, 3])
    assert blocked(0, 1) == FastFisherZ(X)(0, 1, [2, 3])  # the block joins every conditioning set
    assert blocked(0, 2) == FastFisherZ(X)(0, 2, [3])
    assert blocked(2, 3, [0]) == 0.0  # two block members are not tested


def test_vectorised_pvalues_match_single_calls() -> None:
    X = simulate_study(seed=2).matrix.scores.to_numpy()
    t = FastFisherZ(X, sample_size=250.0)
    rng = np.random.default_rng(3)
    for d in (0, 1, 3):
        idx = np.array([rng.choice(X.shape[1], size=d + 2, replace=False) for _ in range(50)])
        batch = t.pvalues(idx[:, 0], idx[:, 1], idx[:, 2:])
        single = [t(int(r[0]), int(r[1]), [int(s) for s in r[2:]]) for r in idx]
        np.testing.assert_allclose(batch, single, rtol=1e-10, atol=1e-14)


def test_cluster_moments_give_the_correlation_of_the_drawn_rows() -> None:
    study = simulate_study(seed=5)
    X = study.matrix.scores.to_numpy()
    codes = study.matrix.meta["role_id"].str[1:].astype(int).to_numpy()
    mom = ClusterMoments.from_rows(X, codes)
    rng = np.random.default_rng(0)
    w = np.bincount(rng.integers(0, mom.n_clusters, size=mom.n_clusters), minlength=mom.n_clusters).astype(float)
    rows = np.concatenate([np.repeat(np.flatnonzero(codes == c), int(k)) for c, k in enumerate(w) if k])
    np.testing.assert_allclose(mom.correlation(w), np.corrcoef(X[rows].T), atol=1e-12)
    assert mom.n_rows(w) == len(rows)
    with pytest.raises(ValueError, match="two rows"):
        mom.correlation(np.zeros(mom.n_clusters))
