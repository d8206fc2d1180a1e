"""The graph stage's files, built in memory from a fitted graph and its bootstrap.

* :func:`annotate_stability` -- the point graph's edges with ``freq`` (adjacency over resamples),
  ``orient_freq`` (the same kind over all resamples) and ``orientation_stability`` (the same kind
  among the resamples where the pair is adjacent);
* :func:`drawn_graph` -- the graph as drawn: an arrowhead only where ``orientation_stability``
  reaches the threshold, else an undirected line marked ``orientation_unstable``;
* :func:`descendants_document` -- ``descendants.json``;
* :func:`graph_files` -- every file of the stage (``name -> bytes``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping

from lm_eval_values.causal.bootstrap import BootstrapResult
from lm_eval_values.causal.draw import render_png
from lm_eval_values.causal.export import to_dot_text, to_graphml_text, to_json_text
from lm_eval_values.causal.graph import POLICIES, TAIL, ValueGraph
from lm_eval_values.causal.jci import CONTEXT_NODE_KIND
from lm_eval_values.causal.metrics import compare_graphs, json_safe
from lm_eval_values.core.files import GRAPH_FILE
from lm_eval_values.results.records import json_bytes

#: the value graph with its JCI context nodes (written only when contexts were used)
GRAPH_CONTEXTS_FILE = "graph_contexts.json"
DESCENDANTS_FILE = "descendants.json"
DESCENDANT_PROBABILITIES_FILE = "descendant_probabilities.csv"


def annotate_stability(graph: ValueGraph, boot: BootstrapResult) -> ValueGraph:
    """A copy of ``graph`` whose edges carry ``freq``, ``orient_freq`` and ``orientation_stability``."""
    out = boot.annotate(graph)
    for e in out.edges():
        pair = (e.u, e.v) if (e.u, e.v) in boot.kinds else (e.v, e.u)
        counts = boot.kinds.get(pair, Counter())
        adjacent = sum(counts.values())
        same = counts.get(out.edge_kind(*pair), 0) if pair in boot.kinds else 0
        out.set_edge_attrs(e.u, e.v, orientation_stability=(same / adjacent) if adjacent else None)
    return out


def drawn_graph(graph: ValueGraph, orientation_threshold: float | None) -> ValueGraph:
    """``graph`` with every arrowhead whose ``orientation_stability`` is below the threshold (or undefined:
    the pair was never adjacent in a resample) removed: the edge becomes ``---`` with
    ``orientation_unstable=True``. Edges of JCI context nodes keep their arrowhead (oriented by the
    exogeneity assumption, not by the data). Unchanged without a threshold."""
    if orientation_threshold is None:
        return graph
    out = graph.copy()
    kinds = graph.node_kinds
    for e in graph.edges():
        attrs = dict(graph.edge_attrs(e.u, e.v))
        stability = attrs.get("orientation_stability")
        if e.kind == "---" or CONTEXT_NODE_KIND in (kinds.get(e.u), kinds.get(e.v)):
            continue
        if stability is not None and stability + 1e-12 >= orientation_threshold:
            continue
        out.remove_edge(e.u, e.v)
        out.add_edge(e.u, e.v, TAIL, TAIL, **attrs, orientation_unstable=True)
    return out


def drawn_kind(graph: ValueGraph, drawn: ValueGraph, u: str, v: str) -> str:
    """The kind an edge is drawn with (``---`` where its orientation is not stable)."""
    return str(drawn.edge_kind(u, v) if drawn.has_edge(u, v) else graph.edge_kind(u, v))


def descendants_document(graph: ValueGraph, policy: str) -> dict[str, Any]:
    """``{"policy", "policy_meaning", "descendants": {node: [descendants in node order]}}``."""
    ds = graph.descendant_sets(policy=policy)
    order = {n: i for i, n in enumerate(graph.nodes)}
    return {"policy": policy, "policy_meaning": POLICIES[policy],
            "descendants": {n: sorted(ds[n], key=order.__getitem__) for n in graph.nodes}}


def graph_files(full: ValueGraph, values: ValueGraph, policy: str, title: str, notes: list[str],
                boot: BootstrapResult | None, threshold: float, orientation_threshold: float | None,
                references: Mapping[str, ValueGraph]) -> dict[str, bytes]:
    """Every file of the graph stage except ``result.json`` (see :func:`lm_eval_values.causal.stage.run_graph`)."""
    has_contexts = full.nodes != values.nodes
    files: dict[str, bytes] = {GRAPH_FILE: to_json_text(values).encode(),
                               "graph.graphml": to_graphml_text(values).encode(),
                               "graph.dot": to_dot_text(values).encode()}
    if has_contexts:
        files[GRAPH_CONTEXTS_FILE] = to_json_text(full).encode()
    drawn = drawn_graph(full, orientation_threshold if boot is not None else None)
    files["graph.png"] = render_png(drawn, title=title, notes=notes)
    files[DESCENDANTS_FILE] = json_bytes(descendants_document(full, policy))
    if policy == "study":
        sd = values.study_digraph()
        files["study_edges.json"] = json_bytes({"policy": "study", "n_edges": sd.number_of_edges(),
                                                "edges": [[u, v] for u, v in sd.edges()]})
    if boot is not None:
        files["bootstrap.csv"] = boot.table().to_csv(index=False, float_format="%.4f").encode()
        files["bootstrap.json"] = json_bytes(json_safe(boot.to_json()))
        files["consensus.json"] = to_json_text(boot.consensus(threshold, orientation_threshold)).encode()
        probs = boot.descendant_probabilities(policy)
        files[DESCENDANT_PROBABILITIES_FILE] = probs.rename_axis("source").to_csv(float_format="%.4f").encode()
    if references:
        metrics: dict[str, Any] = {}
        for name, ref in references.items():
            m = compare_graphs(values, ref, policy=policy)
            d_l, d_r = values.descendant_sets(policy=policy), ref.descendant_sets(policy=policy)
            m["descendant_sets_equal"] = d_l == d_r
            m["descendant_sets_equal_count"] = sum(d_l[n] == d_r[n] for n in values.nodes)
            if policy == "study":
                sd_l, sd_r = set(values.study_digraph().edges()), set(ref.study_digraph().edges())
                m["study_edges_equal"] = sd_l == sd_r
                m["study_edges"] = {"learned": len(sd_l), "reference": len(sd_r), "shared": len(sd_l & sd_r)}
            metrics[name] = m
        files["metrics.json"] = json_bytes(json_safe(metrics))
    return files


__all__ = ["DESCENDANTS_FILE", "DESCENDANT_PROBABILITIES_FILE", "GRAPH_CONTEXTS_FILE", "annotate_stability",
           "descendants_document", "drawn_graph", "drawn_kind", "graph_files"]
