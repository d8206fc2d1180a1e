"""ValueGraph marks and policies, reference loading, exports."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_values.causal.export import to_dot_text, to_graphml_text, to_json_text
from lm_eval_values.causal.graph import ARROW, CIRCLE, TAIL, ValueGraph, transitive_reduction_ordered
from lm_eval_values.causal.reference import load_reference
from lm_eval_values.core.errors import UserError

N = ["A", "B", "C", "D"]


def test_from_causallearn_endpoint_matrix_keeps_all_marks() -> None:
    # graph[i, j] = mark at i on edge i-j: -1 tail, 1 arrow, 2 circle
    M = np.zeros((4, 4), int)
    M[0, 1], M[1, 0] = -1, 1   # A --> B
    M[1, 2], M[2, 1] = -1, -1  # B --- C
    M[2, 3], M[3, 2] = 1, 1    # C <-> D
    M[0, 3], M[3, 0] = 2, 1    # A o-> D
    M[0, 2], M[2, 0] = 2, 2    # A o-o C
    g = ValueGraph.from_causallearn(M, N)
    assert g.edge_set() == {("A", "B", "-->"), ("B", "C", "---"), ("C", "D", "<->"), ("A", "D", "o->"),
                            ("A", "C", "o-o")}
    assert g.edge_kind("B", "A") == "<--" and g.edge_kind("D", "A") == "<-o"
    assert g.count_by_kind() == {"bidirected": 1, "directed": 1, "nondirected": 1, "partially_directed": 1,
                                 "undirected": 1}
    assert g.arrowheads() == {("A", "B"), ("C", "D"), ("D", "C"), ("A", "D")}


def test_policies_are_explicit_and_differ() -> None:
    g = ValueGraph(N, [("A", "B", TAIL, ARROW), ("B", "C", TAIL, TAIL), ("C", "D", CIRCLE, ARROW)])
    assert g.descendants("A", policy="directed") == {"B"}
    assert g.descendants("A", policy="possible") == {"B", "C", "D"}
    assert g.ancestors("D", policy="possible") == {"A", "B", "C"}
    with pytest.raises(UserError, match="study policy defines only directed and undirected"):
        g.descendants("A", policy="study")
    with pytest.raises(UserError, match="unknown policy"):
        g.descendants("A", policy="whatever")
    with pytest.raises(TypeError):
        g.descendants("A")  # type: ignore[call-arg]  # no silent default
    h = ValueGraph(N, [("A", "B", TAIL, ARROW), ("B", "C", TAIL, TAIL), ("C", "D", ARROW, ARROW)])
    with pytest.raises(UserError, match="C <-> D is neither"):  # the whole graph is refused, not just D
        h.descendants("A", policy="study")
    assert h.descendants("D", policy="possible") == set()  # <-> is never causal


def test_study_digraph_doubles_undirected_and_reduces() -> None:
    # A -> B -> C, A -> C (redundant), C --- D
    g = ValueGraph(N, [("A", "B", TAIL, ARROW), ("B", "C", TAIL, ARROW), ("A", "C", TAIL, ARROW),
                       ("C", "D", TAIL, TAIL)])
    sd = g.study_digraph()
    assert set(sd.edges()) == {("A", "B"), ("B", "C"), ("C", "D"), ("D", "C")}
    assert g.descendant_sets(policy="study") == {n: set(nx.descendants(sd, n)) for n in N}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=20))
def test_ordered_reduction_matches_networkx_on_dags_and_keeps_reachability(pairs: list[tuple[int, int]]) -> None:
    dag = nx.DiGraph()
    dag.add_nodes_from(range(7))
    dag.add_edges_from((min(a, b), max(a, b)) for a, b in pairs if a != b)
    red = transitive_reduction_ordered(dag)
    assert set(red.edges()) == set(nx.transitive_reduction(dag).edges())
    cyc = nx.DiGraph()
    cyc.add_nodes_from(range(7))
    cyc.add_edges_from((a, b) for a, b in pairs if a != b)
    red2 = transitive_reduction_ordered(cyc)
    assert all(nx.descendants(red2, n) == nx.descendants(cyc, n) for n in cyc)
    assert set(red2.edges()) <= set(cyc.edges())


def test_bad_edges_are_user_errors() -> None:
    g = ValueGraph(N)
    with pytest.raises(UserError, match="unknown node 'Z'"):
        g.add_edge("A", "Z")
    with pytest.raises(UserError, match="self-loop"):
        g.add_edge("A", "A")
    with pytest.raises(UserError, match="duplicate node"):
        ValueGraph(["A", "A"])


def test_reference_formats(tmp_path: Path) -> None:
    doc = {"nodes": N, "edges": {"g1": [["A", "B", 1, "single-arrow"], ["B", "C", 1, "single-arrow"],
                                        ["C", "B", 1, "single-arrow"]], "g2": [["A", "D"]]}}
    p = tmp_path / "graphs.json"
    p.write_text(json.dumps(doc))
    g = load_reference(f"{p}:edges.g1")
    assert g.edge_set() == {("A", "B", "-->"), ("B", "C", "---")}  # two opposite arrows = undirected
    assert load_reference(f"{p}:g2").edge_set() == {("A", "D", "-->")}
    assert load_reference(f"{p}:g1", two_way="bidirected").edge_kind("B", "C") == "<->"
    with pytest.raises(UserError, match="both directions"):
        load_reference(f"{p}:g1", two_way="error")
    with pytest.raises(UserError, match="several graphs"):
        load_reference(p)
    with pytest.raises(UserError, match="no graph 'g3'.*g1, g2"):
        load_reference(f"{p}:g3")
    with pytest.raises(UserError, match=r"unknown node name\(s\) \['D'\]"):
        load_reference(f"{p}:g2", nodes=["A", "B", "C"])
    csv = tmp_path / "ref.csv"
    csv.write_text("source,target,type\nA,B,-->\nC,D,<->\nB,D,o->\n")
    assert load_reference(csv).edge_set() == {("A", "B", "-->"), ("C", "D", "<->"), ("B", "D", "o->")}
    csv.write_text("source,target,type\nA,B,sideways\n")
    with pytest.raises(UserError, match="unknown edge type 'sideways'"):
        load_reference(csv)
    with pytest.raises(UserError, match="does not exist"):
        load_reference(tmp_path / "missing.json")


def test_exports_roundtrip(tmp_path: Path) -> None:
    g = ValueGraph(N, [("A", "B", TAIL, ARROW), ("B", "C", TAIL, TAIL), ("C", "D", ARROW, ARROW),
                       ("A", "D", CIRCLE, ARROW)], meta={"algo": "pc", "alpha": 0.05})
    g.set_edge_attrs("A", "B", freq=0.75)
    text = to_json_text(g)
    assert text == to_json_text(g.copy())  # deterministic
    p = tmp_path / "g.json"
    p.write_text(text)
    back = load_reference(p)
    assert back == g and back.nodes == g.nodes
    doc = json.loads(text)
    assert doc["edges"][0]["freq"] == 0.75 and doc["graph"]["algo"] == "pc"
    gml = tmp_path / "g.graphml"
    gml.write_text(to_graphml_text(g))
    rg = nx.read_graphml(gml)
    assert rg.edges["C", "D"]["kind"] == "<->" and rg.edges["A", "D"]["mark_source"] == CIRCLE
    assert rg.number_of_edges() == 4
    dot = to_dot_text(g)
    assert '"A" -> "D" [dir=both, arrowtail=odot, arrowhead=normal' in dot
    assert '"C" -> "D" [dir=both, arrowtail=normal, arrowhead=normal' in dot and "style=dashed" in dot
    assert "penwidth=" in dot
