"""Bootstrap stability of a causal value graph: adjacency and orientation frequencies, descendant
probabilities, consensus graph.

Rows of a role x steering matrix are not independent (one role answers under every steering
setting), so whole ROLES are drawn (rows when no roles are known). The default scheme is
subsampling half the roles WITHOUT replacement, so that no row is duplicated inside an
independence test (Politis & Romano 1994; Meinshausen & Bühlmann 2010); the with-replacement
cluster bootstrap is available de-duplicated (``scheme="resample"``) and, to reproduce earlier
results only, with duplicated rows counted (``scheme="resample-duplicates"``). See
:mod:`lm_eval_values.causal.resample`.

Resample ``b`` uses the ``b``-th child of ``numpy.random.SeedSequence(seed)``, so the result does
not depend on the number of worker processes. Work is spread over a process pool.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.causal.graph import ARROW, POLICIES, TAIL, ValueGraph
from lm_eval_values.causal.jci import CONTEXT_NODE_KIND
from lm_eval_values.causal.resample import EdgeList, ResamplePlan, Worker, build_plan
from lm_eval_values.causal.sample_size import SampleSizeSetting
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.progress import track
from lm_eval_values.matrix.value_matrix import ValueMatrix

#: kind of an edge read from u to v (u before v in node order) -> table column
_KIND_COLUMNS = {"-->": "freq_u_to_v", "<--": "freq_v_to_u", "---": "freq_undirected", "<->": "freq_bidirected"}


@dataclass
class BootstrapResult:
    """Outcome of :func:`bootstrap`.

    Attributes:
        nodes: node names (graph order).
        n_boot: resamples requested.
        n_ok: resamples whose discovery succeeded (frequencies are over these).
        seed: the seed.
        unit: ``"role"`` (cluster bootstrap) or ``"row"``.
        kinds: per unordered pair (u before v in node order), Counter of edge kinds read from u to v.
        params: discovery parameters used.
        elapsed_s: wall time in seconds (not part of :meth:`to_json`, which is deterministic).
        scheme: ``subsample``, ``resample`` or ``resample-duplicates``.
        fraction: share of units per subsample (None for the other schemes).
        design_effect: the full data's design effect used for ``sample_size="effective"`` (1 otherwise).
        node_kinds: ``{node: "value" | "knob"}``.
        resamples: per resample, its edges ``(u, v, kind)`` (None where the fit failed).
    """

    nodes: list[str]
    n_boot: int
    n_ok: int
    seed: int
    unit: str
    kinds: dict[tuple[str, str], Counter] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    scheme: str = "resample-duplicates"
    fraction: float | None = None
    design_effect: float = 1.0
    node_kinds: dict[str, str] = field(default_factory=dict)
    resamples: list[EdgeList | None] = field(default_factory=list)

    def orientation_table(self) -> pd.DataFrame:
        """Adjacency and orientation reported separately, one row per pair seen at least once.

        Columns: ``u, v, adjacency`` (share of resamples with u and v adjacent), ``u_to_v``,
        ``v_to_u``, ``undirected``, ``other`` (shares of ALL resamples), and
        ``u_to_v_if_adjacent``, ``v_to_u_if_adjacent`` (shares among the resamples where the
        pair is adjacent: the orientation stability of an edge that is there). Sorted by
        decreasing adjacency, then node order.
        """
        t = self.table()
        out = pd.DataFrame({"u": t["u"], "v": t["v"], "adjacency": t["freq"], "u_to_v": t["freq_u_to_v"],
                            "v_to_u": t["freq_v_to_u"], "undirected": t["freq_undirected"],
                            "other": t["freq_bidirected"] + t["freq_other"]})
        adj = out["adjacency"].where(out["adjacency"] > 0)
        out["u_to_v_if_adjacent"] = (out["u_to_v"] / adj).fillna(0.0)
        out["v_to_u_if_adjacent"] = (out["v_to_u"] / adj).fillna(0.0)
        return out

    def descendant_probabilities(self, policy: str = "possible") -> pd.DataFrame:
        """``P[source, target]``: share of resamples in which ``target`` is a descendant of ``source``.

        Each resample's graph is read with ``policy`` (see
        :data:`lm_eval_values.causal.graph.POLICIES`; ``possible`` follows undirected edges both
        ways). Use it as the side-effect predictor score of steering ``source``. With context
        nodes (JCI), rows ``steer=<id>`` give the probability that a steering setting reaches a value.
        """
        if policy not in POLICIES:
            raise UserError("policy", f"unknown policy {policy!r}", f"use one of: {', '.join(POLICIES)}")
        counts = pd.DataFrame(0.0, index=self.nodes, columns=self.nodes)
        ok = 0
        for edges in self.resamples:
            if edges is None:
                continue
            ok += 1
            g = ValueGraph(self.nodes, node_kinds=self.node_kinds)
            for u, v, k in edges:
                mu, mv = _marks_from_kind(k)
                g.add_edge(u, v, mu, mv)
            for src, ds in g.descendant_sets(policy=policy).items():
                if ds:
                    counts.loc[src, sorted(ds)] += 1.0
        return counts / max(ok, 1)

    def table(self) -> pd.DataFrame:
        """One row per pair seen at least once: ``u, v, freq`` (adjacency frequency),
        ``freq_u_to_v, freq_v_to_u, freq_undirected, freq_bidirected, freq_other`` (fractions of
        resamples) and ``modal_kind``; sorted by decreasing ``freq``, then node order."""
        order = {n: i for i, n in enumerate(self.nodes)}
        rows = []
        den = max(self.n_ok, 1)
        for (u, v), c in self.kinds.items():
            total = sum(c.values())
            row: dict[str, Any] = {"u": u, "v": v, "freq": total / den}
            for k, col in _KIND_COLUMNS.items():
                row[col] = c.get(k, 0) / den
            row["freq_other"] = sum(n for k, n in c.items() if k not in _KIND_COLUMNS) / den
            row["modal_kind"] = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            rows.append(row)
        cols = ["u", "v", "freq", *_KIND_COLUMNS.values(), "freq_other", "modal_kind"]
        df = pd.DataFrame(rows, columns=cols)
        if len(df):
            df["_a"] = df["u"].map(order)
            df["_b"] = df["v"].map(order)
            df = df.sort_values(["freq", "_a", "_b"], ascending=[False, True, True]).drop(columns=["_a", "_b"])
        return df.reset_index(drop=True)

    def edge_freq(self, u: str, v: str) -> float:
        """Fraction of resamples in which u and v are adjacent."""
        c = self.kinds.get((u, v)) or self.kinds.get((v, u))
        return (sum(c.values()) / max(self.n_ok, 1)) if c else 0.0

    def consensus(self, threshold: float = 0.5, orientation_threshold: float | None = None) -> ValueGraph:
        """Graph of the adjacencies present in at least ``threshold`` of the resamples.

        Each kept edge takes its most frequent kind (ties: node-order tie break on the kind
        symbol) and carries ``freq`` (adjacency) and ``orient_freq`` (share of the modal kind
        among all resamples) attributes. With ``orientation_threshold``, an edge whose modal kind
        holds in fewer than that share of the resamples where the pair is adjacent is written
        undirected (``---``, attribute ``orientation_stable=False``): no arrowhead is drawn or
        followed that the resamples do not support.
        """
        if not (0.0 < threshold <= 1.0):
            raise UserError("threshold", f"{threshold} is not in (0, 1]", "use e.g. 0.5")
        if orientation_threshold is not None and not (0.0 < orientation_threshold <= 1.0):
            raise UserError("orientation_threshold", f"{orientation_threshold} is not in (0, 1]", "use e.g. 0.8")
        g = ValueGraph(self.nodes, meta={"consensus_threshold": threshold, "n_boot": self.n_boot,
                                         "n_ok": self.n_ok, "seed": self.seed, "unit": self.unit, **self.params,
                                         **({} if orientation_threshold is None
                                            else {"orientation_threshold": orientation_threshold})},
                       node_kinds=self.node_kinds or None)
        den = max(self.n_ok, 1)
        for (u, v), c in self.kinds.items():
            total = sum(c.values())
            if total / den + 1e-12 < threshold:
                continue
            kind, n = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]
            attrs: dict[str, Any] = {"freq": total / den, "orient_freq": n / den}
            if orientation_threshold is not None:
                stable = kind == "---" or n / total + 1e-12 >= orientation_threshold
                attrs["orientation_stable"] = stable
                if not stable:
                    kind = "---"
            mu, mv = _marks_from_kind(kind)
            g.add_edge(u, v, mu, mv, **attrs)
        return g

    def annotate(self, graph: ValueGraph) -> ValueGraph:
        """A copy of ``graph`` whose edges carry ``freq`` and ``orient_freq`` (share of resamples
        with the same kind as in ``graph``)."""
        out = graph.copy()
        den = max(self.n_ok, 1)
        for e in out.edges():
            u, v = (e.u, e.v) if (e.u, e.v) in self.kinds else (e.v, e.u)
            c = self.kinds.get((u, v), Counter())
            kind = out.edge_kind(u, v)
            out.set_edge_attrs(e.u, e.v, freq=sum(c.values()) / den, orient_freq=c.get(kind, 0) / den)
        return out

    def to_json(self) -> dict[str, Any]:
        """Deterministic, JSON-ready summary (no timings)."""
        return {"n_boot": self.n_boot, "n_ok": self.n_ok, "seed": self.seed, "unit": self.unit,
                "scheme": self.scheme, "fraction": self.fraction, "design_effect": self.design_effect,
                "params": self.params, "nodes": self.nodes,
                "edges": self.table().to_dict(orient="records")}


_MARK_CHAR_L = {"-": TAIL, "<": ARROW, "o": "circle"}
_MARK_CHAR_R = {"-": TAIL, ">": ARROW, "o": "circle"}


def _marks_from_kind(kind: str) -> tuple[str, str]:
    return _MARK_CHAR_L[kind[0]], _MARK_CHAR_R[kind[-1]]


# ---------------------------------------------------------------------- workers
_WORKER: list[Worker] = []


def _init_worker(plan: ResamplePlan) -> None:
    _WORKER[:] = [Worker(plan)]


def _one(seed_seq: np.random.SeedSequence) -> EdgeList | None:
    return _WORKER[0].run(seed_seq)


def _params(discover_kwargs: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for k, v in sorted(discover_kwargs.items()):
        if k == "background":
            continue
        params[k] = v.to_dict() if isinstance(v, SampleSizeSetting) else v
    params.setdefault("algo", "pc")
    params.setdefault("alpha", 0.05)
    return params


def bootstrap(data: ValueMatrix, n_boot: int = 200, seed: int = 0, n_jobs: int | None = None,
              unit: str = "auto", scheme: str = "subsample", fraction: float = 0.5,
              **discover_kwargs: Any) -> BootstrapResult:
    """Resample, rediscover, count edges.

    Args:
        data: the value matrix (already filtered to the rows/columns to use).
        n_boot: number of resamples.
        seed: master seed (resample b uses ``SeedSequence(seed).spawn(n_boot)[b]``).
        n_jobs: worker processes (default: all cores; 1 = in this process).
        unit: ``"role"`` (draw roles; needs >= 2 role ids), ``"row"``, or ``"auto"``
            (roles when known, rows otherwise).
        scheme: ``"subsample"`` (default: ``fraction`` of the units without replacement),
            ``"resample"`` (with replacement, each drawn unit once) or ``"resample-duplicates"``
            (with replacement, duplicates counted: the earlier behaviour, inflates n).
        fraction: share of units per subsample (``subsample`` only; default one half).
        **discover_kwargs: passed to :func:`lm_eval_values.causal.discovery.discover`
            (including ``sample_size``; see :mod:`lm_eval_values.causal.resample` for how it is
            applied per resample).
    """
    if not isinstance(data, ValueMatrix):
        raise TypeError("bootstrap needs a ValueMatrix")
    if int(n_boot) < 1:
        raise UserError("bootstrap", f"{n_boot} resamples", "use a positive number, e.g. 200")
    if unit not in ("auto", "role", "row"):
        raise UserError("unit", f"unknown resampling unit {unit!r}", "use auto, role or row")
    if unit == "role" and not data.has_roles():
        raise UserError("unit", "role resampling needs at least two role ids", "use unit='row'")
    use_roles = unit == "role" or (unit == "auto" and data.has_roles())
    columns = discover_kwargs.pop("columns", None)
    if columns is not None:
        data = data.filter(columns=columns)
    data.check("matrix")
    plan = build_plan(data, use_roles, scheme, fraction, dict(discover_kwargs))
    children = np.random.SeedSequence(int(seed)).spawn(int(n_boot))
    jobs = n_jobs if n_jobs is not None else (os.cpu_count() or 1)
    jobs = max(1, min(int(jobs), int(n_boot)))
    t0 = time.perf_counter()
    if jobs == 1:
        worker = Worker(plan)
        results = [worker.run(c) for c in track(children, "graph bootstrap", int(n_boot), "resamples")]
    else:
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(plan,)) as ex:
            results = list(track(ex.map(_one, children, chunksize=max(1, int(n_boot) // (4 * jobs))),
                                 "graph bootstrap", int(n_boot), "resamples"))
    elapsed = time.perf_counter() - t0
    nodes = list(plan.names)
    seen = [n for r in results if r for e in r for n in e[:2]]
    nodes += [n for n in dict.fromkeys(seen) if n not in nodes]  # role contexts vary with the resample
    kinds: dict[tuple[str, str], Counter] = {}
    n_ok = 0
    for r in results:
        if r is None:
            continue
        n_ok += 1
        for u, v, k in r:
            kinds.setdefault((u, v), Counter())[k] += 1
    node_kinds = {n: plan.node_kinds.get(n, CONTEXT_NODE_KIND if n not in data.values else "value") for n in nodes}
    return BootstrapResult([str(n) for n in nodes], int(n_boot), n_ok, int(seed), "role" if use_roles else "row",
                           kinds, _params(discover_kwargs), elapsed, scheme=scheme,
                           fraction=float(fraction) if scheme == "subsample" else None,
                           design_effect=plan.design_effect, node_kinds=node_kinds, resamples=results)


def frequency_matrix(result: BootstrapResult, nodes: Sequence[str] | None = None) -> pd.DataFrame:
    """Symmetric node x node matrix of adjacency frequencies."""
    nodes = list(nodes or result.nodes)
    m = pd.DataFrame(0.0, index=nodes, columns=nodes)
    for (u, v) in result.kinds:
        if u in m.index and v in m.index:
            f = result.edge_freq(u, v)
            m.loc[u, v] = m.loc[v, u] = f
    return m
