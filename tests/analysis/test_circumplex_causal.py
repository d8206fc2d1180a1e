"""Human PC graph and the causal comparison with a model's graph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.analysis import circumplex as cx
from lm_eval_values.values.names import SCHWARTZ_VALUES


def _data_with_exact_correlation(corr: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n rows whose sample correlation matrix is exactly ``corr`` (whitened noise times chol(corr))."""
    z = np.random.default_rng(seed).normal(size=(n, corr.shape[0]))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False)).T)
    return z @ np.linalg.cholesky(corr).T


def _causallearn_edges(data: np.ndarray, names: list[str], alpha: float) -> set[tuple[str, str, str]]:
    """PC (Fisher-z, stable) straight from causal-learn, edges as (u, v, kind) in canonical form."""
    from causallearn.search.ConstraintBased.PC import pc

    g = pc(data, alpha, "fisherz", stable=True, show_progress=False).G.graph
    out = set()
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = g[i, j], g[j, i]  # mark at i, mark at j (-1 tail, 1 arrow)
            if a == 0 and b == 0:
                continue
            if a == -1 and b == -1:
                out.add((names[i], names[j], "---"))
            elif a == -1 and b == 1:
                out.add((names[i], names[j], "-->"))
            elif a == 1 and b == -1:
                out.add((names[j], names[i], "-->"))
            else:
                out.add((names[i], names[j], f"{a}/{b}"))
    return out


def test_human_pc_graph_matches_causallearn_and_is_listed(capsys):
    ref = cx.load_human_reference()
    graph = cx.human_pc_graph(alpha=0.05)
    ours = {(e.u, e.v, e.kind) for e in graph.edges()}
    data = _data_with_exact_correlation(ref.correlation("none").to_numpy(), ref.n)
    assert np.allclose(np.corrcoef(data, rowvar=False), ref.correlation("none").to_numpy())
    assert ours == _causallearn_edges(data, list(ref.values), 0.05)
    edges = cx.graph_edges(graph)
    with capsys.disabled():
        print("\nhuman PC graph (PVQ-40, n = 151, alpha 0.05):", "; ".join(f"{e['u']} {e['kind']} {e['v']}" for e in edges))
    assert graph.meta["n_rows"] == 151 and len(edges) >= 5
    assert graph.has_edge("Tradition", "Conformity")  # r = .71, the strongest correlation
    assert sum(e["circular_distance"] == 1 for e in edges) / len(edges) >= 0.5  # circle neighbours dominate


def test_human_pc_graph_is_sparser_at_lower_alpha():
    loose, strict = cx.human_pc_graph(alpha=0.2), cx.human_pc_graph(alpha=0.001)
    assert strict.skeleton() < loose.skeleton() or strict.n_edges < loose.n_edges


def test_compare_causal_with_human_on_human_copy_and_small_model():
    ref = cx.load_human_reference()
    same = cx.compare_causal_with_human(ref.correlation("none"), n=ref.n)
    assert same["comparison"]["shd"] == 0 and same["comparison"]["skeleton_jaccard"] == pytest.approx(1.0)
    assert same["model"]["text"] == same["human"]["text"]
    rng = np.random.default_rng(0)
    small = pd.DataFrame(rng.normal(size=(12, 10)), columns=list(SCHWARTZ_VALUES)).corr()
    skipped = cx.compare_causal_with_human(small, n=12)
    assert "model" not in skipped and "too small" in skipped["model_skipped"]
    assert skipped["human"]["n_edges"] == same["human"]["n_edges"]
