"""Load reference graphs from edge lists (JSON or CSV) into :class:`ValueGraph`.

Accepted sources (``spec`` = ``PATH`` or ``PATH:KEY``):

* the study's ``value_graph_gemma.json``: ``{"nodes": [...], "edges": {"gemma": [[u, v, w, "single-arrow"], ...],
  "human1": ...}}``; pick a graph with ``:edges.gemma`` or just ``:gemma`` / ``:human1``;
* this project's node-link JSON (from :mod:`lm_eval_values.causal.export`), with marks;
* a JSON list of edges: ``[u, v]``, ``[u, v, type]``, ``[u, v, weight, type]`` or objects with
  ``source``/``target`` (or ``from``/``to``) and an optional ``type``;
* a CSV with ``source,target[,type]`` (or ``from,to[,type]``) columns.

Edge types: ``-->`` (also ``->``, ``directed``, ``single-arrow``), ``---`` (``undirected``, ``--``),
``<->`` (``bidirected``, ``double-arrow``), ``o->``, ``o-o``, ``--o``. A pair given as two opposite
single arrows is read as ONE undirected edge (the study's convention for doubled undirected edges),
unless ``two_way="bidirected"`` or ``"error"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from lm_eval_values.causal.graph import ARROW, CIRCLE, TAIL, ValueGraph
from lm_eval_values.core.errors import UserError

_TYPES: dict[str, tuple[str, str]] = {}
for _names, _marks in (
    (("-->", "->", "directed", "single-arrow", "arrow"), (TAIL, ARROW)),
    (("<--", "<-"), (ARROW, TAIL)),
    (("---", "--", "-", "undirected", "no-arrow", "line"), (TAIL, TAIL)),
    (("<->", "bidirected", "double-arrow"), (ARROW, ARROW)),
    (("o->", "partially_directed"), (CIRCLE, ARROW)),
    (("<-o",), (ARROW, CIRCLE)),
    (("o-o", "nondirected"), (CIRCLE, CIRCLE)),
    (("--o", "-o", "partially_undirected"), (TAIL, CIRCLE)),
    (("o--", "o-"), (CIRCLE, TAIL)),
):
    for _n in _names:
        _TYPES[_n] = _marks


def split_spec(spec: str | Path) -> tuple[Path, str | None]:
    """``"file.json:edges.gemma"`` -> (Path("file.json"), "edges.gemma"); a plain existing path -> (path, None)."""
    s = str(spec)
    p = Path(s)
    if p.exists() or ":" not in s:
        return p, None
    left, key = s.rsplit(":", 1)
    return Path(left), key or None


def _marks_of(t: Any, where: str) -> tuple[str, str]:
    if t is None:
        return TAIL, ARROW
    key = str(t).strip()
    if key in _TYPES:
        return _TYPES[key]
    if key.lower() in _TYPES:
        return _TYPES[key.lower()]
    raise UserError("reference", f"unknown edge type {t!r} in {where}",
                    "use -->, ---, <->, o->, o-o, --o (or directed, undirected, bidirected, single-arrow)")


def _parse_edge(e: Any, where: str) -> tuple[str, str, str, str]:
    if isinstance(e, dict):
        u = e.get("source", e.get("from"))
        v = e.get("target", e.get("to"))
        if u is None or v is None:
            raise UserError("reference", f"edge {e!r} in {where} lacks source/target", "give source and target")
        if "mark_source" in e and "mark_target" in e:
            return str(u), str(v), str(e["mark_source"]), str(e["mark_target"])
        mu, mv = _marks_of(e.get("type", e.get("kind")), where)
        return str(u), str(v), mu, mv
    if isinstance(e, (list, tuple)) and len(e) >= 2:
        t = None
        if len(e) >= 3:
            t = e[-1] if isinstance(e[-1], str) else None
        mu, mv = _marks_of(t, where)
        return str(e[0]), str(e[1]), mu, mv
    raise UserError("reference", f"cannot read edge {e!r} in {where}", "give [source, target(, type)] or an object")


def _select(obj: Any, key: str | None, where: str) -> tuple[Any, list[str] | None]:
    """Pick the edge list inside a JSON document; returns (edges, node list or None)."""
    nodes = None
    if isinstance(obj, dict) and isinstance(obj.get("nodes"), list):
        nodes = [n["id"] if isinstance(n, dict) else n for n in obj["nodes"]]
        nodes = [str(n) for n in nodes]
    if key is not None:
        cur: Any = obj
        for part in key.split("."):
            if isinstance(cur, dict) and part in cur:
                cur = cur[part]
            else:
                cur = None
                break
        if cur is None and isinstance(obj, dict) and isinstance(obj.get("edges"), dict) and key in obj["edges"]:
            cur = obj["edges"][key]
        if cur is None:
            avail = sorted(obj["edges"]) if isinstance(obj, dict) and isinstance(obj.get("edges"), dict) else []
            raise UserError("reference", f"no graph {key!r} in {where}",
                            f"use one of: {', '.join(avail)}" if avail else "check the key")
        return cur, nodes
    if isinstance(obj, list):
        return obj, nodes
    if isinstance(obj, dict):
        for k in ("edges", "links"):
            if isinstance(obj.get(k), list):
                return obj[k], nodes
        if isinstance(obj.get("edges"), dict):
            raise UserError("reference", f"{where} holds several graphs: {', '.join(sorted(obj['edges']))}",
                            f"pick one as {where}:NAME, e.g. {where}:{sorted(obj['edges'])[0]}")
    raise UserError("reference", f"no edge list found in {where}", "give a JSON edge list, node-link JSON or a CSV")


def read_edge_list(spec: str | Path) -> tuple[list[tuple[str, str, str, str]], list[str] | None]:
    """Read ``(u, v, mark_u, mark_v)`` edges (and the file's node list, if any) from ``spec``."""
    path, key = split_spec(spec)
    where = str(path)
    if not path.is_file():
        raise UserError("reference", f"{path} does not exist", "give an edge-list JSON or CSV (FILE or FILE:NAME)")
    if path.suffix.lower() == ".csv":
        try:
            df = pd.read_csv(path, dtype=str)
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise UserError("reference", f"{path} is not a readable CSV ({str(exc).splitlines()[0]})", "fix the file") from None
        cols = {c.lower(): c for c in df.columns}
        s = cols.get("source", cols.get("from"))
        t = cols.get("target", cols.get("to"))
        if s is None or t is None:
            raise UserError("reference", f"{path} needs source,target (or from,to) columns", "rename the columns")
        typ = cols.get("type", cols.get("kind"))
        edges = [(str(r[s]).strip(), str(r[t]).strip(), *_marks_of(r[typ] if typ and pd.notna(r[typ]) else None, where))
                 for _, r in df.iterrows()]
        return edges, None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError("reference", f"{path} is not valid JSON ({exc})", "fix the file") from None
    raw, nodes = _select(obj, key, where if key is None else f"{where}:{key}")
    if not isinstance(raw, list):
        raise UserError("reference", f"{where}:{key} is not an edge list", "pick a list of edges")
    return [_parse_edge(e, where) for e in raw], nodes


def load_reference(spec: str | Path, nodes: Sequence[str] | None = None, two_way: str = "undirected") -> ValueGraph:
    """Load a reference graph.

    Args:
        spec: ``PATH`` or ``PATH:KEY`` (see module docstring).
        nodes: the node set to use (e.g. the matrix's value columns). Edge endpoints outside it
            raise :class:`UserError`. Default: the file's node list, else the endpoints in order.
        two_way: how to read a pair of opposite single arrows: ``"undirected"``, ``"bidirected"``, ``"error"``.
    """
    if two_way not in ("undirected", "bidirected", "error"):
        raise UserError("two_way", f"unknown value {two_way!r}", "use undirected, bidirected or error")
    edges, file_nodes = read_edge_list(spec)
    if nodes is None:
        order = list(file_nodes or [])
        for u, v, _, _ in edges:
            for n in (u, v):
                if n not in order:
                    order.append(n)
        nodes = order
    known = set(nodes)
    unknown = sorted({n for u, v, _, _ in edges for n in (u, v)} - known)
    if unknown:
        raise UserError("reference", f"unknown node name(s) {unknown} in {spec}",
                        f"use the value names: {', '.join(nodes)}")
    g = ValueGraph(list(nodes), meta={"source": str(spec)})
    # oriented arrows first to detect two-way pairs
    arrows: dict[tuple[str, str], int] = {}
    for u, v, mu, mv in edges:
        if (mu, mv) == (ARROW, TAIL):
            u, v, mu, mv = v, u, TAIL, ARROW
        if (mu, mv) == (TAIL, ARROW):
            arrows[(u, v)] = 1
    for u, v, mu, mv in edges:
        if (mu, mv) == (ARROW, TAIL):
            u, v, mu, mv = v, u, TAIL, ARROW
        if u == v:
            raise UserError("reference", f"self-loop on {u!r} in {spec}", "remove it")
        if (mu, mv) == (TAIL, ARROW) and (v, u) in arrows:
            if two_way == "error":
                raise UserError("reference", f"{u} -> {v} is given in both directions in {spec}",
                                "give each edge once or use two_way='undirected'")
            m = TAIL if two_way == "undirected" else ARROW
            g.add_edge(u, v, m, m)
            continue
        if g.has_edge(u, v):
            prev = (g.mark(u, v), g.mark(v, u))
            if prev != (mu, mv):
                raise UserError("reference", f"conflicting edges between {u!r} and {v!r} in {spec}", "keep one")
        g.add_edge(u, v, mu, mv)
    return g
