"""Side-effect predictors and their scores over (setting, other value) pairs, with AUROC, precision and
recall computed for many label sets at once (the replicates of the two-way bootstrap).

Predictor scores of a pair (setting with target ``t``, value ``w``):

* a graph: ``1 / shortest path length`` from ``t`` to ``w`` (0 when ``w`` is not a descendant);
* descendant probabilities: the share of the graph's bootstrap resamples in which ``w`` is a
  descendant of ``t`` (``descendant_probabilities.csv`` of the graph stage);
* baselines: degree-preserving random graphs (Maslov & Sneppen 2002 double-edge swaps), a correlation graph
  with as many adjacencies as the learned graph, and "everything changes" (a constant: AUROC 0.5).

A pair is predicted to change when its score is > 0 (precision, recall). AUROC is the Mann-Whitney
statistic of the scores between observed-changed and unchanged pairs (ties count 1/2; Hanley &
McNeil 1982), undefined (NaN) when one class is empty.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd
from scipy.stats import rankdata


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count 1/2); NaN when one class is empty."""
    return float(auroc_many(np.asarray(scores, float), np.asarray(labels, bool)[None, :])[0])


def auroc_many(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC of one score vector against each row of ``labels`` (``B x pairs``), NaN where a class is empty."""
    ranks = rankdata(np.asarray(scores, float))
    y = np.asarray(labels, bool)
    n1 = y.sum(axis=1).astype(float)
    n0 = y.shape[1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (y @ ranks - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return np.where((n1 > 0) & (n0 > 0), a, np.nan)


def precision_recall_many(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of "score > 0" against each row of ``labels`` (NaN when undefined)."""
    pred = np.asarray(scores, float) > 0
    y = np.asarray(labels, bool)
    tp = (y & pred[None, :]).sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / pred.sum() if pred.any() else np.full(y.shape[0], np.nan)
        recall = np.where(y.sum(axis=1) > 0, tp / y.sum(axis=1), np.nan)
    return np.asarray(precision, float), recall


def graph_scores(dg: nx.DiGraph, source: str, values: Sequence[str]) -> dict[str, float]:
    """1 / shortest-path length from ``source`` (0 when unreachable)."""
    if source not in dg:
        return {v: 0.0 for v in values}
    dist = nx.single_source_shortest_path_length(dg, source)
    return {v: (1.0 / dist[v]) if v in dist and v != source else 0.0 for v in values}


def pair_scores_from_graph(dg: nx.DiGraph, pairs: Sequence[tuple[str, str, str]]) -> np.ndarray:
    """Scores of ``(setting, target, value)`` pairs under a graph."""
    cache: dict[str, dict[str, float]] = {}
    out = []
    for _, t, w in pairs:
        if t not in cache:
            cache[t] = graph_scores(dg, t, list(dg.nodes)) if t in dg else {}
        out.append(cache[t].get(w, 0.0))
    return np.array(out, float)


def pair_scores_from_probabilities(probs: pd.DataFrame, pairs: Sequence[tuple[str, str, str]]) -> np.ndarray:
    """Scores of pairs: ``P[target, value]`` (0 where the table has no entry)."""
    return np.array([float(probs.at[t, w]) if t in probs.index and w in probs.columns and
                     math.isfinite(float(probs.at[t, w])) else 0.0 for _, t, w in pairs], float)


def correlation_graph(scores: pd.DataFrame, n_edges: int) -> nx.DiGraph:
    """Undirected (both arrows) graph of the ``n_edges`` value pairs with the largest |correlation|."""
    c = scores.corr().abs()
    cols = list(c.columns)
    pairs = sorted(((c.iloc[i, j], cols[i], cols[j]) for i in range(len(cols)) for j in range(i + 1, len(cols))),
                   key=lambda t: (-t[0], t[1], t[2]))
    dg = nx.DiGraph()
    dg.add_nodes_from(cols)
    for _, a, b in pairs[:n_edges]:
        dg.add_edge(a, b)
        dg.add_edge(b, a)
    return dg


def degree_preserving_random(dg: nx.DiGraph, seed: int) -> nx.DiGraph:
    """A random directed graph with the in- and out-degree sequence of ``dg``: ``10 m`` attempted double-edge
    swaps ``a -> b, c -> d`` to ``a -> d, c -> b`` (Maslov & Sneppen 2002), refused when they would make a
    self-loop or a repeated arrow. Two-way pairs (doubled undirected edges) are swapped as separate arrows.
    Works on sparse graphs too (networkx's three-edge swap needs paths of three arrows)."""
    rng = np.random.default_rng([int(seed), 29])
    edges = sorted(dg.edges())
    present = set(edges)
    m = len(edges)
    for _ in range(10 * m if m >= 2 else 0):
        i, j = rng.choice(m, 2, replace=False)
        (a, b), (c, d) = edges[i], edges[j]
        if a == d or c == b or (a, d) in present or (c, b) in present:
            continue
        present -= {(a, b), (c, d)}
        present |= {(a, d), (c, b)}
        edges[i], edges[j] = (a, d), (c, b)
    g = nx.DiGraph()
    g.add_nodes_from(dg.nodes)
    g.add_edges_from(edges)
    return g


def n_adjacencies(dg: nx.DiGraph) -> int:
    """Adjacent pairs of a reachability digraph (a two-way pair counts once)."""
    return len({frozenset(e) for e in dg.edges()})


def predictor_scores(graph_dg: nx.DiGraph, pairs: Sequence[tuple[str, str, str]], train_scores: pd.DataFrame,
                     reference: Mapping[str, nx.DiGraph] | None = None,
                     probabilities: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Named score vectors: the learned graph, its descendant probabilities, references, the correlation
    graph and "everything changes" (the random graphs are separate: :func:`random_scores`)."""
    out = {"learned graph": pair_scores_from_graph(graph_dg, pairs)}
    if probabilities is not None:
        out["learned graph, descendant probabilities"] = pair_scores_from_probabilities(probabilities, pairs)
    for name, dg in (reference or {}).items():
        out[name] = pair_scores_from_graph(dg, pairs)
    k = n_adjacencies(graph_dg)
    out[f"correlation graph (top {k} |r|)"] = pair_scores_from_graph(correlation_graph(train_scores, k), pairs)
    out["everything changes"] = np.ones(len(pairs))
    return out


def random_scores(graph_dg: nx.DiGraph, pairs: Sequence[tuple[str, str, str]], n_random: int,
                  seed: int) -> list[np.ndarray]:
    """Score vectors of ``n_random`` degree-preserving random graphs (seeds ``seed``, ``seed + 1``, ...)."""
    return [pair_scores_from_graph(degree_preserving_random(graph_dg, seed=int(seed) + i), pairs)
            for i in range(int(n_random))]


__all__ = ["auroc", "auroc_many", "correlation_graph", "degree_preserving_random", "graph_scores", "n_adjacencies",
           "pair_scores_from_graph", "pair_scores_from_probabilities", "precision_recall_many", "predictor_scores",
           "random_scores"]
