"""Structural comparison of a learned graph with a reference graph.

Observational data identify a DAG only up to its Markov equivalence class, so the structural
Hamming distance is computed between equivalence-class representatives: a graph that is a DAG
is first replaced by its CPDAG (causal-learn ``dag2cpdag``); CPDAGs, PAGs and mixed graphs are
compared as given. The naive SHD on the graphs as given is reported next to it.
"""

from __future__ import annotations

import math
from typing import Any

from lm_eval_values.causal.graph import ARROW, TAIL, ValueGraph
from lm_eval_values.core.errors import UserError


def to_cpdag(g: ValueGraph) -> ValueGraph:
    """The CPDAG of a DAG (v-structures kept, other edges undirected unless compelled by Meek's rules).

    Graphs that are not DAGs are returned unchanged (copied).
    """
    if not g.is_dag():
        return g.copy()
    from causallearn.graph.Dag import Dag
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.utils.DAG2CPDAG import dag2cpdag

    nodes = {n: GraphNode(n) for n in g.nodes}
    dag = Dag(list(nodes.values()))
    for e in g.edges():
        dag.add_directed_edge(nodes[e.u], nodes[e.v])
    cp = dag2cpdag(dag)
    out = ValueGraph.from_causallearn(cp, g.nodes, meta=dict(g.meta), node_kinds=g.node_kinds)
    return out


def _pair_state(g: ValueGraph, u: str, v: str) -> tuple[str, str] | None:
    """(mark at u, mark at v) for a fixed pair orientation, or None."""
    if not g.has_edge(u, v):
        return None
    return g.mark(u, v), g.mark(v, u)  # type: ignore[return-value]


def shd(a: ValueGraph, b: ValueGraph) -> int:
    """Structural Hamming distance on the graphs as given: one per node pair whose edge differs
    (missing, extra, or different marks, so a reversal counts 1)."""
    nodes = a.nodes
    total = 0
    for i, u in enumerate(nodes):
        for v in nodes[i + 1:]:
            if _pair_state(a, u, v) != _pair_state(b, u, v):
                total += 1
    return total


def _ratio(num: int, den: int) -> float:
    return float(num) / den if den else math.nan


def _f1(p: float, r: float) -> float:
    if math.isnan(p) or math.isnan(r) or p + r == 0:
        return math.nan
    return 2 * p * r / (p + r)


def _jaccard(x: set[Any], y: set[Any]) -> float:
    union = x | y
    return _ratio(len(x & y), len(union)) if union else 1.0


def compare_graphs(learned: ValueGraph, reference: ValueGraph, policy: str = "possible",
                   equivalence: bool = True) -> dict[str, Any]:
    """Compare ``learned`` with ``reference`` (same node set).

    Returns a JSON-ready dict:
        ``shd``: SHD between equivalence-class representatives (DAG -> CPDAG first, when ``equivalence``);
        ``shd_naive``: SHD between the graphs as given;
        ``adjacency_precision/recall/f1``: on the skeletons;
        ``arrowhead_precision/recall/f1``: arrowhead endpoints (u, v) = arrow at v on u - v, on the
        equivalence-class representatives, counted over all pairs;
        ``skeleton_jaccard``: Jaccard index of the adjacency sets;
        ``closure_jaccard``: Jaccard index of the transitive closures (ordered reachable pairs
        under ``policy``, on the graphs as given);
        plus edge counts by kind and which graphs were converted. NaN means "undefined" (0/0).

    Raises:
        UserError: the node sets differ.
    """
    if set(learned.nodes) != set(reference.nodes):
        only_l = sorted(set(learned.nodes) - set(reference.nodes))
        only_r = sorted(set(reference.nodes) - set(learned.nodes))
        raise UserError("reference", f"node sets differ (only learned: {only_l}; only reference: {only_r})",
                        "compare graphs over the same values (select --columns or restrict the reference)")
    la = to_cpdag(learned) if equivalence else learned
    rb = to_cpdag(reference) if equivalence else reference

    sk_l, sk_r = learned.skeleton(), reference.skeleton()
    tp_adj = len(sk_l & sk_r)
    adj_p, adj_r = _ratio(tp_adj, len(sk_l)), _ratio(tp_adj, len(sk_r))

    ah_l, ah_r = la.arrowheads(), rb.arrowheads()
    tp_ah = len(ah_l & ah_r)
    ah_p, ah_r_ = _ratio(tp_ah, len(ah_l)), _ratio(tp_ah, len(ah_r))

    cl_l, cl_r = learned.closure(policy=policy), reference.closure(policy=policy)

    # directed edges shared (as given), for the study's "shares 0 directed edges" statement
    dir_l = {(e.u, e.v) for e in learned.edges() if e.mark_u == TAIL and e.mark_v == ARROW}
    dir_r = {(e.u, e.v) for e in reference.edges() if e.mark_u == TAIL and e.mark_v == ARROW}
    return {
        "shd": shd(la, rb),
        "shd_naive": shd(learned, reference),
        "equivalence": {"learned": "dag->cpdag" if equivalence and learned.is_dag() else "as_given",
                        "reference": "dag->cpdag" if equivalence and reference.is_dag() else "as_given"},
        "adjacency_tp": tp_adj,
        "adjacency_precision": adj_p,
        "adjacency_recall": adj_r,
        "adjacency_f1": _f1(adj_p, adj_r),
        "arrowhead_tp": tp_ah,
        "arrowhead_precision": ah_p,
        "arrowhead_recall": ah_r_,
        "arrowhead_f1": _f1(ah_p, ah_r_),
        "skeleton_jaccard": _jaccard(sk_l, sk_r),
        "closure_jaccard": _jaccard(cl_l, cl_r),
        "closure_policy": policy,
        "shared_directed_edges": len(dir_l & dir_r),
        "n_edges": {"learned": learned.n_edges, "reference": reference.n_edges},
        "kinds": {"learned": learned.count_by_kind(), "reference": reference.count_by_kind()},
    }


def json_safe(obj: Any) -> Any:
    """Replace NaN/inf floats by None, recursively (strict JSON)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
