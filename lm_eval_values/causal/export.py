"""Exports of a :class:`ValueGraph`: node-link JSON, GraphML, DOT (all deterministic text).

Every format keeps both endpoint marks (``mark_source``, ``mark_target``) and the edge kind, so
nothing is lost; :func:`lm_eval_values.causal.reference.load_reference` reads the JSON back.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import networkx as nx

from lm_eval_values.causal.graph import ValueGraph

FORMAT = "lm-eval-values/value-graph/v1"


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return None if not math.isfinite(x) else round(x, 6)
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in sorted(x.items())}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (int, str, bool)) or x is None:
        return x
    return str(x)


def to_node_link(graph: ValueGraph) -> dict[str, Any]:
    """Node-link dict: ``{"format", "graph": meta, "nodes": [{id, kind}], "edges": [{source, target,
    mark_source, mark_target, kind, type, ...attrs}]}``."""
    edges = []
    for e in graph.edges():
        d = {"source": e.u, "target": e.v, "mark_source": e.mark_u, "mark_target": e.mark_v,
             "kind": e.kind, "type": e.kind_name}
        d.update({k: _clean(v) for k, v in sorted(graph.edge_attrs(e.u, e.v).items())})
        edges.append(d)
    return {
        "format": FORMAT,
        "graph": _clean(graph.meta),
        "counts": graph.count_by_kind(),
        "nodes": [{"id": n, "kind": k} for n, k in graph.node_kinds.items()],
        "edges": edges,
    }


def to_json_text(graph: ValueGraph) -> str:
    """Node-link JSON text (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(to_node_link(graph), indent=2, sort_keys=True) + "\n"


def to_graphml_text(graph: ValueGraph) -> str:
    """GraphML text. Written as a directed graph: each adjacency is one ``<edge>`` from
    ``source`` to ``target`` (canonical orientation) with ``mark_source``, ``mark_target``,
    ``kind`` and ``type`` attributes; readers must use the marks, not the direction alone."""
    dg = nx.DiGraph()
    for n, k in graph.node_kinds.items():
        dg.add_node(n, kind=k)
    for e in graph.edges():
        attrs: dict[str, Any] = {"mark_source": e.mark_u, "mark_target": e.mark_v, "kind": e.kind, "type": e.kind_name}
        for k, v in sorted(graph.edge_attrs(e.u, e.v).items()):
            if isinstance(v, (int, float, str, bool)):
                attrs[k] = float(v) if isinstance(v, float) else v
        dg.add_edge(e.u, e.v, **attrs)
    for k, v in sorted(graph.meta.items()):
        if isinstance(v, (int, float, str, bool)):
            dg.graph[k] = v
    buf = io.BytesIO()
    nx.write_graphml(dg, buf, encoding="utf-8", prettyprint=True)
    return buf.getvalue().decode("utf-8")


def _dot_id(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_DOT_HEAD = {"tail": "none", "arrow": "normal", "circle": "odot"}


def to_dot_text(graph: ValueGraph, name: str = "values") -> str:
    """Graphviz DOT text: ``dir=both`` with per-end ``arrowhead``/``arrowtail`` (none, normal, odot)."""
    lines = [f"digraph {_dot_id(name)} {{", '  graph [layout=circo, overlap=false];',
             '  node [shape=ellipse, fontname="Helvetica"];']
    for n, k in graph.node_kinds.items():
        shape = ', shape=box' if k == "knob" else ""
        lines.append(f"  {_dot_id(n)} [label={_dot_id(n)}{shape}];")
    for e in graph.edges():
        attrs = ["dir=both", f"arrowtail={_DOT_HEAD[e.mark_u]}", f"arrowhead={_DOT_HEAD[e.mark_v]}",
                 f'kind="{e.kind}"']
        if e.kind == "<->":
            attrs.append("style=dashed")
        freq = graph.edge_attrs(e.u, e.v).get("freq")
        if isinstance(freq, (int, float)) and math.isfinite(freq):
            attrs.append(f"penwidth={0.5 + 3.0 * float(freq):.2f}")
            attrs.append(f'label="{float(freq):.2f}"')
        lines.append(f"  {_dot_id(e.u)} -> {_dot_id(e.v)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
