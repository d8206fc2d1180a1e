"""One graph type for causal value graphs: :class:`ValueGraph` (networkx underneath).

Every adjacency keeps BOTH endpoint marks, as causal-learn reports them: ``tail``, ``arrow``
or ``circle`` (PAG "o"). Edge kinds, written from ``u`` to ``v``:

======  ==================  =============================================
kind    marks (at u, at v)  meaning
======  ==================  =============================================
``-->`` tail, arrow         directed u -> v
``---`` tail, tail          undirected (CPDAG: orientation not identified)
``<->`` arrow, arrow        bidirected (PAG: latent confounder)
``o->`` circle, arrow       PAG partially directed
``o-o`` circle, circle      PAG nondirected
``--o`` tail, circle        PAG partially undirected
======  ==================  =============================================

Reachability (descendants, ancestors, closures) depends on how non-directed edges are read,
so every query takes an explicit ``policy`` (see :data:`POLICIES`); nothing is doubled or
reduced silently. The study's post-processing (Kang et al. 2025: undirected -> two arrows, then
a transitive reduction) is :meth:`ValueGraph.study_digraph` and ``policy="study"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import networkx as nx
import numpy as np

from lm_eval_values.core.errors import UserError

TAIL, ARROW, CIRCLE = "tail", "arrow", "circle"
MARKS = (TAIL, ARROW, CIRCLE)

#: causal-learn endpoint codes (``GeneralGraph.graph[i, j]`` is the mark at ``i`` on edge i-j).
_CL_MARK = {-1: TAIL, 1: ARROW, 2: CIRCLE}

#: kind symbol for canonical (mark_u, mark_v)
_KIND = {
    (TAIL, ARROW): "-->", (TAIL, TAIL): "---", (ARROW, ARROW): "<->",
    (CIRCLE, ARROW): "o->", (CIRCLE, CIRCLE): "o-o", (TAIL, CIRCLE): "--o",
}
#: readable kind names
KIND_NAMES = {"-->": "directed", "---": "undirected", "<->": "bidirected",
              "o->": "partially_directed", "o-o": "nondirected", "--o": "partially_undirected"}

#: Reachability policies for :meth:`ValueGraph.descendants` and friends.
POLICIES: dict[str, str] = {
    "directed": "follow only definite directed edges u --> v",
    "possible": "follow every edge that some member of the equivalence class orients u -> v "
                "(-->, ---, o->, o-o, --o; never <->): possible descendants",
    "study": "Kang et al.: directed edges, undirected edges in both directions (then a transitive "
             "reduction, which keeps reachability); other marks are refused",
}


@dataclass(frozen=True)
class Edge:
    """One adjacency with its two endpoint marks, in canonical orientation (see :attr:`kind`)."""

    u: str
    v: str
    mark_u: str
    mark_v: str

    @property
    def kind(self) -> str:
        """``-->``, ``---``, ``<->``, ``o->``, ``o-o`` or ``--o``."""
        return _KIND[(self.mark_u, self.mark_v)]

    @property
    def kind_name(self) -> str:
        """Readable kind: ``directed``, ``undirected``, ``bidirected``, ..."""
        return KIND_NAMES[self.kind]

    def __str__(self) -> str:
        return f"{self.u} {self.kind} {self.v}"


def _canonical(u: str, v: str, mu: str, mv: str, order: Mapping[str, int]) -> tuple[str, str, str, str]:
    """Orient so that (mark_u, mark_v) is a key of _KIND; symmetric kinds follow node order."""
    if (mu, mv) in _KIND and (mv, mu) not in _KIND:
        return u, v, mu, mv
    if (mv, mu) in _KIND and (mu, mv) not in _KIND:
        return v, u, mv, mu
    # symmetric (same marks at both ends)
    if order.get(u, 0) <= order.get(v, 0):
        return u, v, mu, mv
    return v, u, mv, mu


class ValueGraph:
    """A mixed graph over value (and optional knob) nodes with faithful endpoint marks.

    Args:
        nodes: node names, in display order (the order used for ties and drawings).
        edges: optional ``(u, v, mark_u, mark_v)`` tuples or :class:`Edge` objects.
        meta: free-form provenance (algorithm, alpha, n, ...), kept in exports.
        node_kinds: optional ``{node: "value" | "knob"}``; default ``"value"``.
    """

    def __init__(self, nodes: Iterable[str], edges: Iterable[Edge | Sequence[str]] = (),
                 meta: Mapping[str, Any] | None = None,
                 node_kinds: Mapping[str, str] | None = None) -> None:
        self._g = nx.Graph()
        for n in nodes:
            n = str(n)
            if n in self._g:
                raise UserError("nodes", f"duplicate node {n!r}", "give each value once")
            self._g.add_node(n, kind=(node_kinds or {}).get(n, "value"))
        self._order = {n: i for i, n in enumerate(self._g.nodes)}
        self.meta: dict[str, Any] = dict(meta or {})
        for e in edges:
            if isinstance(e, Edge):
                self.add_edge(e.u, e.v, e.mark_u, e.mark_v)
            else:
                self.add_edge(*e)

    # ------------------------------------------------------------------ building
    def add_edge(self, u: str, v: str, mark_u: str = TAIL, mark_v: str = ARROW, **attrs: Any) -> None:
        """Add (or replace) the adjacency u - v with the given endpoint marks and attributes."""
        for n in (u, v):
            if n not in self._g:
                raise UserError("edge", f"unknown node {n!r}", f"use one of: {', '.join(self.nodes)}")
        if u == v:
            raise UserError("edge", f"self-loop on {u!r}", "remove it")
        if mark_u not in MARKS or mark_v not in MARKS:
            raise UserError("edge", f"unknown mark in {u!r} {mark_u} - {mark_v} {v!r}", f"use {MARKS}")
        if (mark_u, mark_v) not in _KIND and (mark_v, mark_u) not in _KIND:
            raise UserError("edge", f"unsupported mark pair {mark_u}/{mark_v}", "use a PAG/CPDAG edge")
        self._g.add_edge(u, v, marks={u: mark_u, v: mark_v}, **attrs)

    def remove_edge(self, u: str, v: str) -> None:
        """Remove the adjacency u - v."""
        self._g.remove_edge(u, v)

    def copy(self) -> "ValueGraph":
        """A deep-enough copy (marks and attributes copied)."""
        g = ValueGraph(self.nodes, meta=dict(self.meta), node_kinds=self.node_kinds)
        for u, v, d in self._g.edges(data=True):
            attrs = {k: val for k, val in d.items() if k != "marks"}
            g.add_edge(u, v, d["marks"][u], d["marks"][v], **attrs)
        return g

    # ------------------------------------------------------------------ inspection
    @property
    def nodes(self) -> list[str]:
        """Node names in display order."""
        return list(self._g.nodes)

    @property
    def node_kinds(self) -> dict[str, str]:
        """``{node: "value" | "knob"}``."""
        return {n: d.get("kind", "value") for n, d in self._g.nodes(data=True)}

    @property
    def nx_graph(self) -> nx.Graph:
        """The underlying networkx graph (edge attribute ``marks`` = ``{node: mark}``). Read only."""
        return self._g

    def edges(self) -> list[Edge]:
        """All adjacencies in canonical orientation, sorted by node order."""
        out = []
        for u, v, d in self._g.edges(data=True):
            cu, cv, mu, mv = _canonical(u, v, d["marks"][u], d["marks"][v], self._order)
            out.append(Edge(cu, cv, mu, mv))
        out.sort(key=lambda e: (self._order[e.u], self._order[e.v]))
        return out

    def edge_attrs(self, u: str, v: str) -> dict[str, Any]:
        """Attributes of adjacency u - v other than the marks (e.g. bootstrap ``freq``)."""
        return {k: val for k, val in self._g.edges[u, v].items() if k != "marks"}

    def set_edge_attrs(self, u: str, v: str, **attrs: Any) -> None:
        """Set attributes (e.g. ``freq``) on an existing adjacency."""
        self._g.edges[u, v].update(attrs)

    @property
    def n_edges(self) -> int:
        """Number of adjacencies."""
        return int(self._g.number_of_edges())

    def has_edge(self, u: str, v: str) -> bool:
        """True when u and v are adjacent (any marks)."""
        return bool(self._g.has_edge(u, v))

    def mark(self, at: str, other: str) -> str | None:
        """Mark at node ``at`` on the edge ``at - other`` (None if not adjacent)."""
        if not self._g.has_edge(at, other):
            return None
        return self._g.edges[at, other]["marks"][at]

    def edge_kind(self, u: str, v: str) -> str | None:
        """Kind of the edge read from u to v (``-->``, ``<--``, ``---``, ``<->``, ``o->``, ``<-o``, ...)."""
        if not self._g.has_edge(u, v):
            return None
        left = {TAIL: "-", ARROW: "<", CIRCLE: "o"}[self.mark(u, v)]
        right = {TAIL: "-", ARROW: ">", CIRCLE: "o"}[self.mark(v, u)]
        return f"{left}-{right}"

    def count_by_kind(self) -> dict[str, int]:
        """Number of edges per readable kind (``directed``, ``undirected``, ...); zeros omitted."""
        out: dict[str, int] = {}
        for e in self.edges():
            out[e.kind_name] = out.get(e.kind_name, 0) + 1
        return dict(sorted(out.items()))

    def skeleton(self) -> set[frozenset[str]]:
        """Unordered adjacent pairs."""
        return {frozenset((u, v)) for u, v in self._g.edges()}

    def arrowheads(self) -> set[tuple[str, str]]:
        """``(u, v)`` for every arrowhead at ``v`` on an edge u - v."""
        out = set()
        for u, v, d in self._g.edges(data=True):
            if d["marks"][v] == ARROW:
                out.add((u, v))
            if d["marks"][u] == ARROW:
                out.add((v, u))
        return out

    def edge_set(self) -> set[tuple[str, str, str]]:
        """``{(u, v, kind)}`` in canonical orientation (for equality checks)."""
        return {(e.u, e.v, e.kind) for e in self.edges()}

    def is_dag(self) -> bool:
        """True when every edge is directed and there is no directed cycle."""
        if any(e.kind != "-->" for e in self.edges()):
            return False
        return nx.is_directed_acyclic_graph(self.to_digraph("directed"))

    def subgraph(self, nodes: Iterable[str]) -> "ValueGraph":
        """The induced subgraph on ``nodes`` (kept in this graph's order)."""
        keep = set(nodes)
        unknown = keep - set(self.nodes)
        if unknown:
            raise UserError("nodes", f"unknown node(s) {sorted(unknown)}", f"use some of: {', '.join(self.nodes)}")
        g = ValueGraph([n for n in self.nodes if n in keep], meta=dict(self.meta),
                       node_kinds={n: k for n, k in self.node_kinds.items() if n in keep})
        for u, v, d in self._g.edges(data=True):
            if u in keep and v in keep:
                g.add_edge(u, v, d["marks"][u], d["marks"][v], **{k: x for k, x in d.items() if k != "marks"})
        return g

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ValueGraph) and set(self.nodes) == set(other.nodes)
                and self.edge_set() == other.edge_set())

    def __repr__(self) -> str:
        return f"ValueGraph({len(self.nodes)} nodes, {self.n_edges} edges: {self.count_by_kind()})"

    def __iter__(self) -> Iterator[Edge]:
        return iter(self.edges())

    # ------------------------------------------------------------------ reachability
    def _steps(self, policy: str) -> list[tuple[str, str]]:
        if policy not in POLICIES:
            raise UserError("policy", f"unknown policy {policy!r}", f"use one of: {', '.join(POLICIES)}")
        steps: list[tuple[str, str]] = []
        for u, v, d in self._g.edges(data=True):
            for a, b in ((u, v), (v, u)):
                ma, mb = d["marks"][a], d["marks"][b]
                if policy == "directed":
                    ok = ma == TAIL and mb == ARROW
                elif policy == "possible":
                    ok = (ma != ARROW and mb != TAIL) or (ma == TAIL and mb == TAIL)
                else:  # study
                    if (ma, mb) not in ((TAIL, ARROW), (ARROW, TAIL), (TAIL, TAIL)):
                        raise UserError("policy", f"the study policy defines only directed and undirected edges; "
                                        f"{a} {self.edge_kind(a, b)} {b} is neither",
                                        "use policy='possible' or 'directed' for PAGs and bidirected edges")
                    ok = mb == ARROW or (ma == TAIL and mb == TAIL)
                if ok:
                    steps.append((a, b))
        return steps

    def to_digraph(self, policy: str) -> nx.DiGraph:
        """Directed graph of the one-step moves allowed by ``policy`` (undirected -> both ways)."""
        dg = nx.DiGraph()
        dg.add_nodes_from(self.nodes)
        dg.add_edges_from(sorted(self._steps(policy), key=lambda e: (self._order[e[0]], self._order[e[1]])))
        return dg

    def descendants(self, node: str, *, policy: str) -> set[str]:
        """Nodes reachable from ``node`` under ``policy`` (see :data:`POLICIES`), excluding ``node``."""
        self._check_node(node)
        return set(nx.descendants(self.to_digraph(policy), node))

    def ancestors(self, node: str, *, policy: str) -> set[str]:
        """Nodes from which ``node`` is reachable under ``policy``, excluding ``node``."""
        self._check_node(node)
        return set(nx.ancestors(self.to_digraph(policy), node))

    def descendant_sets(self, *, policy: str) -> dict[str, set[str]]:
        """``{node: descendants(node)}`` for every node."""
        dg = self.to_digraph(policy)
        return {n: set(nx.descendants(dg, n)) for n in self.nodes}

    def closure(self, *, policy: str) -> set[tuple[str, str]]:
        """Transitive closure: ``{(u, v) : v in descendants(u)}``."""
        return {(u, v) for u, ds in self.descendant_sets(policy=policy).items() for v in ds}

    def study_digraph(self) -> nx.DiGraph:
        """The study's post-processed graph: undirected -> two arrows, then a transitive reduction.

        The reduction visits edges in node (column) order, source first, and drops an edge when
        its head stays reachable from its tail without it. On a DAG this is the unique transitive
        reduction; inside cycles (from doubled undirected edges) it keeps one representative
        per redundant group, the first in that order (this reproduces ``edges.gemma``).
        Reachability, hence every descendant set, is unchanged.
        """
        return transitive_reduction_ordered(self.to_digraph("study"))

    def _check_node(self, node: str) -> None:
        if node not in self._g:
            raise UserError("node", f"unknown node {node!r}", f"use one of: {', '.join(self.nodes)}")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_causallearn(cls, result: Any, node_names: Sequence[str] | None = None,
                         meta: Mapping[str, Any] | None = None,
                         node_kinds: Mapping[str, str] | None = None) -> "ValueGraph":
        """Convert a causal-learn result (``CausalGraph``, ``GeneralGraph``, GES dict, or endpoint matrix).

        ``graph[i, j]`` is the mark at node i on edge i - j: -1 tail, 1 arrow, 2 circle.
        """
        G = result
        if isinstance(G, dict) and "G" in G:
            G = G["G"]
        if hasattr(G, "G") and hasattr(G.G, "graph"):
            G = G.G
        names = list(node_names) if node_names is not None else None
        if hasattr(G, "graph"):
            if names is None:
                names = [n.get_name() for n in G.get_nodes()]
            M = np.asarray(G.graph)
        else:
            M = np.asarray(G)
            if names is None:
                names = [f"X{i + 1}" for i in range(M.shape[0])]
        if M.shape != (len(names), len(names)):
            raise ValueError(f"endpoint matrix {M.shape} does not match {len(names)} node names")
        g = cls(names, meta=meta, node_kinds=node_kinds)
        n = len(names)
        for i in range(n):
            for j in range(i + 1, n):
                a, b = int(M[i, j]), int(M[j, i])
                if a == 0 and b == 0:
                    continue
                if a not in _CL_MARK or b not in _CL_MARK:
                    raise ValueError(f"unsupported causal-learn endpoint codes ({a}, {b}) for {names[i]} - {names[j]}")
                g.add_edge(names[i], names[j], _CL_MARK[a], _CL_MARK[b])
        return g

    @classmethod
    def from_directed_edges(cls, nodes: Sequence[str], edges: Iterable[tuple[str, str]],
                            two_way: str = "undirected", meta: Mapping[str, Any] | None = None) -> "ValueGraph":
        """Graph from ``(u, v)`` arrows. A pair given both ways becomes ``two_way``:
        ``"undirected"`` (the study's convention for doubled undirected edges), ``"bidirected"``,
        or ``"error"``."""
        arrows = list(dict.fromkeys((str(u), str(v)) for u, v in edges))
        aset = set(arrows)
        g = cls(nodes, meta=meta)
        for u, v in arrows:
            if (v, u) in aset:
                if two_way == "error":
                    raise UserError("edges", f"{u} -> {v} is given in both directions",
                                    "give each edge once or load with two_way='undirected'")
                if g.has_edge(u, v):
                    continue
                m = TAIL if two_way == "undirected" else ARROW
                g.add_edge(u, v, m, m)
            else:
                g.add_edge(u, v, TAIL, ARROW)
        return g


def transitive_reduction_ordered(dg: nx.DiGraph) -> nx.DiGraph:
    """Drop, in edge order, every edge whose head stays reachable from its tail without it.

    Works on graphs with cycles (networkx's ``transitive_reduction`` needs a DAG). Reachability
    is preserved exactly; on a DAG the result is the unique transitive reduction.
    """
    h = dg.copy()
    for u, v in list(dg.edges()):
        h.remove_edge(u, v)
        if not nx.has_path(h, u, v):
            h.add_edge(u, v, **dg.edges[u, v])
    out = nx.DiGraph()
    out.add_nodes_from(dg.nodes(data=True))
    out.add_edges_from((u, v, d) for u, v, d in dg.edges(data=True) if h.has_edge(u, v))
    return out
