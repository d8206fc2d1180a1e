"""Bootstrap stability of a causal value graph: edge and orientation frequencies, consensus graph.

Rows of a role x steering matrix are not independent (one role answers under every steering
setting), so when role ids are known whole ROLES are resampled with replacement (cluster
bootstrap) and every row of a drawn role comes along; otherwise rows are resampled.

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

from lm_eval_values.causal.graph import ARROW, TAIL, ValueGraph
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import META_COLUMNS
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
    """

    nodes: list[str]
    n_boot: int
    n_ok: int
    seed: int
    unit: str
    kinds: dict[tuple[str, str], Counter] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0

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

    def consensus(self, threshold: float = 0.5) -> ValueGraph:
        """Graph of the adjacencies present in at least ``threshold`` of the resamples.

        Each kept edge takes its most frequent kind (ties: node-order tie break on the kind
        symbol) and carries ``freq`` (adjacency) and ``orient_freq`` (share of the modal kind
        among all resamples) attributes.
        """
        if not (0.0 < threshold <= 1.0):
            raise UserError("threshold", f"{threshold} is not in (0, 1]", "use e.g. 0.5")
        g = ValueGraph(self.nodes, meta={"consensus_threshold": threshold, "n_boot": self.n_boot,
                                         "n_ok": self.n_ok, "seed": self.seed, "unit": self.unit, **self.params})
        den = max(self.n_ok, 1)
        for (u, v), c in self.kinds.items():
            total = sum(c.values())
            if total / den + 1e-12 < threshold:
                continue
            kind, n = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]
            mu, mv = _marks_from_kind(kind)
            g.add_edge(u, v, mu, mv, freq=total / den, orient_freq=n / den)
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
                "params": self.params, "nodes": self.nodes,
                "edges": self.table().to_dict(orient="records")}


_MARK_CHAR_L = {"-": TAIL, "<": ARROW, "o": "circle"}
_MARK_CHAR_R = {"-": TAIL, ">": ARROW, "o": "circle"}


def _marks_from_kind(kind: str) -> tuple[str, str]:
    return _MARK_CHAR_L[kind[0]], _MARK_CHAR_R[kind[-1]]


# ---------------------------------------------------------------------- workers
_STATE: dict[str, Any] = {}


def _init_worker(scores: pd.DataFrame, meta: pd.DataFrame, groups: list[np.ndarray], kwargs: dict[str, Any]) -> None:
    _STATE.update(scores=scores, meta=meta, groups=groups, kwargs=kwargs)


def _one(seed_seq: np.random.SeedSequence) -> list[tuple[str, str, str]] | None:
    from lm_eval_values.causal.discovery import discover

    scores: pd.DataFrame = _STATE["scores"]
    meta: pd.DataFrame = _STATE["meta"]
    groups: list[np.ndarray] = _STATE["groups"]
    rng = np.random.default_rng(seed_seq)
    pick = rng.integers(0, len(groups), size=len(groups))
    idx = np.concatenate([groups[i] for i in pick])
    vm = ValueMatrix(scores.iloc[idx].reset_index(drop=True), meta.iloc[idx].reset_index(drop=True))
    try:
        g = discover(vm, **_STATE["kwargs"])
    except (UserError, ValueError, np.linalg.LinAlgError):
        return None
    order = {n: i for i, n in enumerate(g.nodes)}
    out = []
    for e in g.edges():
        u, v = (e.u, e.v) if order[e.u] < order[e.v] else (e.v, e.u)
        out.append((u, v, g.edge_kind(u, v)))
    return out


def bootstrap(data: ValueMatrix, n_boot: int = 200, seed: int = 0, n_jobs: int | None = None,
              unit: str = "auto", **discover_kwargs: Any) -> BootstrapResult:
    """Resample, rediscover, count edges.

    Args:
        data: the value matrix (already filtered to the rows/columns to use).
        n_boot: number of resamples.
        seed: master seed (resample b uses ``SeedSequence(seed).spawn(n_boot)[b]``).
        n_jobs: worker processes (default: all cores; 1 = in this process).
        unit: ``"role"`` (resample roles; needs >= 2 role ids), ``"row"``, or ``"auto"``
            (roles when known, rows otherwise).
        **discover_kwargs: passed to :func:`lm_eval_values.causal.discovery.discover`.
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
    scores = data.scores.reset_index(drop=True)
    meta = data.meta[list(META_COLUMNS)].reset_index(drop=True)
    if use_roles:
        codes, uniq = pd.factorize(meta["role_id"].astype(str), sort=False)
        groups = [np.flatnonzero(codes == k) for k in range(len(uniq))]
    else:
        groups = [np.array([i]) for i in range(len(scores))]
    children = np.random.SeedSequence(int(seed)).spawn(int(n_boot))
    jobs = n_jobs if n_jobs is not None else (os.cpu_count() or 1)
    jobs = max(1, min(int(jobs), int(n_boot)))
    t0 = time.perf_counter()
    if jobs == 1:
        _init_worker(scores, meta, groups, dict(discover_kwargs))
        try:
            results = [_one(c) for c in children]
        finally:
            _STATE.clear()
    else:
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(scores, meta, groups, dict(discover_kwargs))) as ex:
            results = list(ex.map(_one, children, chunksize=max(1, int(n_boot) // (4 * jobs))))
    elapsed = time.perf_counter() - t0
    nodes = list(scores.columns)
    if discover_kwargs.get("exogenous_knobs"):
        # knob nodes vary with the resample; keep every node seen, values first
        seen = [n for r in results if r for e in r for n in e[:2]]
        nodes += [n for n in dict.fromkeys(seen) if n not in nodes]
    kinds: dict[tuple[str, str], Counter] = {}
    n_ok = 0
    for r in results:
        if r is None:
            continue
        n_ok += 1
        for u, v, k in r:
            kinds.setdefault((u, v), Counter())[k] += 1
    params = {k: v for k, v in sorted(discover_kwargs.items()) if k != "background"}
    params.setdefault("algo", "pc")
    params.setdefault("alpha", 0.05)
    return BootstrapResult([str(n) for n in nodes], int(n_boot), n_ok, int(seed),
                           "role" if use_roles else "row", kinds, params, elapsed)


def frequency_matrix(result: BootstrapResult, nodes: Sequence[str] | None = None) -> pd.DataFrame:
    """Symmetric node x node matrix of adjacency frequencies."""
    nodes = list(nodes or result.nodes)
    m = pd.DataFrame(0.0, index=nodes, columns=nodes)
    for (u, v) in result.kinds:
        if u in m.index and v in m.index:
            f = result.edge_freq(u, v)
            m.loc[u, v] = m.loc[v, u] = f
    return m
