"""compare_graphs on hand-made graphs, including CPDAG cases where a naive SHD is wrong."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_values.causal.graph import ARROW, TAIL, ValueGraph
from lm_eval_values.causal.metrics import compare_graphs, shd, to_cpdag
from lm_eval_values.core.errors import UserError

N3 = ["a", "b", "c"]


def dag(nodes: list[str], arrows: list[tuple[str, str]]) -> ValueGraph:
    return ValueGraph(nodes, [(u, v, TAIL, ARROW) for u, v in arrows])


def test_markov_equivalent_dags_have_zero_cpdag_shd() -> None:
    chain = dag(N3, [("a", "b"), ("b", "c")])
    reverse = dag(N3, [("b", "a"), ("c", "b")])
    fork = dag(N3, [("b", "a"), ("b", "c")])
    assert shd(chain, reverse) == 2  # naive SHD counts two reversals ...
    m = compare_graphs(chain, reverse)
    assert m["shd"] == 0 and m["shd_naive"] == 2  # ... but the equivalence classes are identical
    assert compare_graphs(chain, fork)["shd"] == 0
    assert to_cpdag(chain).edge_set() == {("a", "b", "---"), ("b", "c", "---")}
    assert m["equivalence"] == {"learned": "dag->cpdag", "reference": "dag->cpdag"}
    assert m["arrowhead_precision"] is not None and math.isnan(m["arrowhead_precision"])  # no arrowheads at all


def test_collider_vs_chain_differs_in_class() -> None:
    collider = dag(N3, [("a", "b"), ("c", "b")])
    chain = dag(N3, [("a", "b"), ("b", "c")])
    assert to_cpdag(collider).edge_set() == {("a", "b", "-->"), ("c", "b", "-->")}  # v-structure is kept
    m = compare_graphs(collider, chain)
    assert m["shd"] == 2 and m["shd_naive"] == 1
    assert m["adjacency_precision"] == 1.0 and m["adjacency_recall"] == 1.0 and m["skeleton_jaccard"] == 1.0
    assert m["arrowhead_recall"] is not None and math.isnan(m["arrowhead_recall"])  # chain CPDAG has no arrows
    assert m["arrowhead_precision"] == 0.0


def test_meek_compelled_edge_counts() -> None:
    # a -> c <- b, c -> d: c -> d is compelled (Meek R1), so it stays directed in the CPDAG
    nodes = ["a", "b", "c", "d"]
    g = dag(nodes, [("a", "c"), ("b", "c"), ("c", "d")])
    assert to_cpdag(g).edge_set() == {("a", "c", "-->"), ("b", "c", "-->"), ("c", "d", "-->")}
    wrong = ValueGraph(nodes, [("a", "c", TAIL, ARROW), ("b", "c", TAIL, ARROW), ("c", "d", TAIL, TAIL)])
    m = compare_graphs(wrong, g)  # a CPDAG that left c - d undirected
    assert m["shd"] == 1
    assert m["arrowhead_precision"] == 1.0 and m["arrowhead_recall"] == pytest.approx(2 / 3)


def test_adjacency_arrowhead_and_closure_numbers() -> None:
    nodes = ["a", "b", "c", "d"]
    learned = ValueGraph(nodes, [("a", "b", TAIL, ARROW), ("b", "c", TAIL, ARROW), ("a", "d", TAIL, TAIL)])
    ref = ValueGraph(nodes, [("a", "b", TAIL, ARROW), ("c", "b", TAIL, ARROW)])
    m = compare_graphs(learned, ref, equivalence=False)
    assert m["adjacency_tp"] == 2
    assert m["adjacency_precision"] == pytest.approx(2 / 3) and m["adjacency_recall"] == 1.0
    assert m["adjacency_f1"] == pytest.approx(0.8)
    # arrowheads: learned {(a,b), (b,c)}, reference {(a,b), (c,b)}
    assert m["arrowhead_tp"] == 1 and m["arrowhead_precision"] == 0.5 and m["arrowhead_recall"] == 0.5
    assert m["skeleton_jaccard"] == pytest.approx(2 / 3)
    # closures (possible): learned a->{b,c,d}, b->{c}, d->{a,b,c}; ref a->{b}, c->{b}
    assert m["closure_jaccard"] == pytest.approx(1 / 8)
    assert m["shd"] == 2 and m["shared_directed_edges"] == 1


def test_node_mismatch_is_user_error() -> None:
    with pytest.raises(UserError, match="node sets differ"):
        compare_graphs(ValueGraph(["a", "b"]), ValueGraph(["a", "c"]))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=8))
def test_identity_and_symmetry(pairs: list[tuple[int, int]]) -> None:
    nodes = [f"n{i}" for i in range(5)]
    g = ValueGraph(nodes)
    for a, b in pairs:
        if a < b and not g.has_edge(nodes[a], nodes[b]):
            g.add_edge(nodes[a], nodes[b], TAIL, ARROW)
    m = compare_graphs(g, g)
    assert m["shd"] == 0 and m["shd_naive"] == 0 and m["closure_jaccard"] == 1.0
    if g.n_edges:
        assert m["adjacency_f1"] == 1.0
    h = dag(nodes, [(nodes[0], nodes[1])])
    assert compare_graphs(g, h)["shd"] == compare_graphs(h, g)["shd"]
