"""Causal discovery on a value matrix through causal-learn: PC, FCI, GES -> :class:`ValueGraph`.

Defaults follow the study (Kang et al. 2025): PC, Fisher-z, alpha 0.05, stable skeleton.
Background knowledge (forbidden / required edges, tiers) is passed to causal-learn (PC and FCI).
With ``exogenous_knobs=True`` the condition knobs (role one-hot, steering indicators) become
extra nodes in tier 0: values cannot cause knobs, knobs are not linked to each other, and the
graph says which values a knob hits directly (joint causal inference style).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING
from lm_eval_values.matrix.value_matrix import ValueMatrix

ALGOS = ("pc", "fci", "ges")
INDEP_TESTS = ("fisherz", "kci", "fastkci", "rcit", "chisq", "gsq", "mv_fisherz")
GES_SCORES = ("local_score_BIC", "local_score_BDeu", "local_score_CV_general", "local_score_marginal_general")

KNOB_ROLE_PREFIX = "role="
KNOB_STEER_PREFIX = "steer="


@dataclass
class Background:
    """Background knowledge in node names.

    Attributes:
        forbidden: ``(u, v)`` pairs: no edge u -> v.
        required: ``(u, v)`` pairs: edge u -> v must be present.
        tiers: list of lists of node names; a node in a later tier cannot cause one in an earlier tier.
        forbid_within_tiers: tier indices whose members may not be adjacent to each other.
    """

    forbidden: list[tuple[str, str]] = field(default_factory=list)
    required: list[tuple[str, str]] = field(default_factory=list)
    tiers: list[list[str]] = field(default_factory=list)
    forbid_within_tiers: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], field_name: str = "background") -> "Background":
        """From ``{"forbidden": [[u, v], ...], "required": [...], "tiers": [[...], ...]}``."""
        if not isinstance(d, Mapping):
            raise UserError(field_name, "must be an object with forbidden / required / tiers",
                            'e.g. {"forbidden": [["Economic", "Religious"]], "tiers": [["Religious"], ["Economic"]]}')
        unknown = set(d) - {"forbidden", "required", "tiers", "forbid_within_tiers"}
        if unknown:
            raise UserError(field_name, f"unknown key(s) {sorted(unknown)}", "use forbidden, required, tiers, forbid_within_tiers")

        def pairs(key: str) -> list[tuple[str, str]]:
            out = []
            for p in d.get(key, []) or []:
                if not (isinstance(p, (list, tuple)) and len(p) == 2):
                    raise UserError(f"{field_name}.{key}", f"{p!r} is not a [from, to] pair", "give [from, to] name pairs")
                out.append((str(p[0]), str(p[1])))
            return out

        tiers = d.get("tiers", []) or []
        if not all(isinstance(t, (list, tuple)) for t in tiers):
            raise UserError(f"{field_name}.tiers", "must be a list of lists of node names", 'e.g. [["A"], ["B", "C"]]')
        return cls(pairs("forbidden"), pairs("required"), [[str(x) for x in t] for t in tiers],
                   [int(i) for i in d.get("forbid_within_tiers", []) or []])

    def names(self) -> set[str]:
        """Every node name mentioned."""
        s = {x for p in self.forbidden + self.required for x in p}
        s |= {x for t in self.tiers for x in t}
        return s

    def is_empty(self) -> bool:
        """True when no constraint is given."""
        return not (self.forbidden or self.required or self.tiers)

    def to_causallearn(self, nodes: Sequence[str]) -> Any:
        """A causal-learn ``BackgroundKnowledge`` over ``nodes`` (unknown names -> UserError)."""
        from causallearn.graph.GraphNode import GraphNode
        from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

        unknown = sorted(self.names() - set(nodes))
        if unknown:
            raise UserError("background", f"unknown node name(s) {unknown}", f"use some of: {', '.join(nodes)}")
        clash = set(self.forbidden) & set(self.required)
        if clash:
            raise UserError("background", f"edge(s) both forbidden and required: {sorted(clash)}", "keep one")
        bk = BackgroundKnowledge()
        for u, v in self.forbidden:
            bk.add_forbidden_by_node(GraphNode(u), GraphNode(v))
        for u, v in self.required:
            bk.add_required_by_node(GraphNode(u), GraphNode(v))
        seen: set[str] = set()
        for t, members in enumerate(self.tiers):
            for m in members:
                if m in seen:
                    raise UserError("background.tiers", f"{m!r} is in more than one tier", "put each node in one tier")
                seen.add(m)
                bk.add_node_to_tier(GraphNode(m), t)
        for t in self.forbid_within_tiers:
            bk.forbid_within_tier(t)
        return bk


KNOB_KINDS = ("all", "steering", "roles")


def _knob_columns(vm: ValueMatrix, which: str = "all") -> pd.DataFrame:
    """Indicator columns for roles (reference level dropped) and steering settings (vs none).

    ``which``: ``"all"``, ``"steering"`` or ``"roles"``.
    """
    if which not in KNOB_KINDS:
        raise UserError("exogenous_knobs", f"unknown knob set {which!r}", f"use one of: {', '.join(KNOB_KINDS)}")
    cols: dict[str, np.ndarray] = {}
    roles = vm.role_ids
    if len(roles) >= 2 and which in ("all", "roles"):
        ref = NO_ROLE if NO_ROLE in roles else roles[0]
        for r in roles:
            if r != ref:
                cols[f"{KNOB_ROLE_PREFIX}{r}"] = (vm.meta["role_id"].astype(str) == r).to_numpy(float)
    steers = vm.steering_ids
    if len(steers) >= 2 and which in ("all", "steering"):
        ref = NO_STEERING if NO_STEERING in steers else steers[0]
        for s in steers:
            if s != ref:
                cols[f"{KNOB_STEER_PREFIX}{s}"] = (vm.meta["steering_id"].astype(str) == s).to_numpy(float)
    return pd.DataFrame(cols, index=vm.scores.index)


def _as_frame(data: ValueMatrix | pd.DataFrame, columns: Sequence[str] | None) -> tuple[pd.DataFrame, ValueMatrix | None]:
    if isinstance(data, ValueMatrix):
        vm = data.filter(columns=columns) if columns is not None else data
        return vm.scores, vm
    if isinstance(data, pd.DataFrame):
        df = data
        if columns is not None:
            unknown = [c for c in columns if c not in df.columns]
            if unknown:
                raise UserError("columns", f"unknown column(s) {unknown}", f"use some of: {', '.join(map(str, df.columns))}")
            df = df[list(columns)]
        return df, None
    raise TypeError("data must be a ValueMatrix or a pandas DataFrame")


def discover(data: ValueMatrix | pd.DataFrame, algo: str = "pc", alpha: float = 0.05,
             indep_test: str = "fisherz", background: Background | Mapping[str, Any] | None = None,
             exogenous_knobs: bool | str = False, columns: Sequence[str] | None = None,
             standardize: bool = False, stable: bool = True, score_func: str = "local_score_BIC",
             max_depth: int | None = None, test_kwargs: Mapping[str, Any] | None = None) -> ValueGraph:
    """Learn a causal value graph with causal-learn.

    Args:
        data: a :class:`ValueMatrix` (rows = conditions) or a numeric DataFrame (columns = nodes).
        algo: ``"pc"`` (CPDAG), ``"fci"`` (PAG) or ``"ges"`` (CPDAG, score based).
        alpha: significance level of the independence tests (PC, FCI).
        indep_test: causal-learn test name: fisherz (default), kci, fastkci, rcit, chisq, gsq, mv_fisherz.
        background: :class:`Background` or its dict form (PC and FCI only).
        exogenous_knobs: add condition knobs as tier-0 nodes (needs a ValueMatrix): ``True`` or
            ``"all"`` = role one-hot and steering indicators; ``"steering"`` or ``"roles"`` = one kind.
        columns: value columns to use (default all).
        standardize: z-score columns first (does not change Fisher-z results; helps KCI/GES).
        stable: order-independent PC skeleton (causal-learn ``stable=True``).
        score_func: GES score (``local_score_BIC`` default).
        max_depth: maximum conditioning-set size (PC ``max_k`` / FCI ``depth``); None = unlimited.
        test_kwargs: extra keyword arguments for the independence test (e.g. KCI kernels).

    Returns:
        A :class:`ValueGraph`; ``meta`` records algorithm, parameters, rows used and rows dropped.

    Raises:
        UserError: unknown algorithm / test, invalid alpha, background with GES or unknown names,
            constant columns, too few rows.
    """
    if algo not in ALGOS:
        raise UserError("algo", f"unknown algorithm {algo!r}", f"use one of: {', '.join(ALGOS)}")
    if algo != "ges" and indep_test not in INDEP_TESTS:
        raise UserError("indep_test", f"unknown independence test {indep_test!r}", f"use one of: {', '.join(INDEP_TESTS)}")
    if algo == "ges" and score_func not in GES_SCORES:
        raise UserError("score_func", f"unknown GES score {score_func!r}", f"use one of: {', '.join(GES_SCORES)}")
    if not (0.0 < float(alpha) < 1.0):
        raise UserError("alpha", f"{alpha} is not in (0, 1)", "use e.g. 0.05")
    if isinstance(background, Mapping):
        background = Background.from_dict(background)
    if algo == "ges" and background is not None and not background.is_empty():
        raise UserError("background", "causal-learn's GES takes no background knowledge", "use --algo pc or fci")

    df, vm = _as_frame(data, columns)
    if vm is not None:
        vm.filter(columns=list(df.columns)).check("matrix")
    values = [str(c) for c in df.columns]
    node_kinds = {v: "value" for v in values}
    frame = df.apply(pd.to_numeric, errors="coerce").astype(float)
    if exogenous_knobs:
        if vm is None:
            raise UserError("exogenous_knobs", "needs a ValueMatrix with role and steering ids", "pass a ValueMatrix")
        which = "all" if exogenous_knobs is True else str(exogenous_knobs)
        knobs = _knob_columns(vm, which)
        if knobs.shape[1] == 0:
            raise UserError("exogenous_knobs", f"no {which} knobs: the matrix has a single role and a single "
                            "steering setting", "drop --exogenous-knobs or include more conditions")
        clash = set(knobs.columns) & set(values)
        if clash:
            raise UserError("exogenous_knobs", f"knob names clash with value names: {sorted(clash)}", "rename the values")
        frame = pd.concat([frame, knobs], axis=1)
        node_kinds.update({k: "knob" for k in knobs.columns})
        knob_names = list(knobs.columns)
        base = background or Background()
        forb = list(base.forbidden) + [(a, b) for a in knob_names for b in knob_names if a != b]
        tiers = [knob_names + (base.tiers[0] if base.tiers else [])] + (base.tiers[1:] if base.tiers else [])
        placed = {x for t in tiers for x in t}
        rest = [v for v in values if v not in placed]
        if len(tiers) == 1:
            tiers.append(rest)
        else:
            tiers[-1] = tiers[-1] + rest
        background = Background(forb, list(base.required), tiers, list(base.forbid_within_tiers))

    n_before = len(frame)
    frame = frame.dropna(axis=0, how="any")
    n_dropped = n_before - len(frame)
    if len(frame) <= frame.shape[1]:
        raise UserError("matrix", f"{len(frame)} complete rows for {frame.shape[1]} nodes",
                        "causal discovery needs more rows than nodes")
    const = [c for c in frame.columns if frame[c].nunique() < 2]
    if const:
        raise UserError("matrix", f"constant column(s) after dropping incomplete rows: {const}",
                        "drop them with --columns")
    if standardize:
        frame = (frame - frame.mean()) / frame.std(ddof=1)
    X = frame.to_numpy(dtype=float)
    names = [str(c) for c in frame.columns]
    if algo == "ges" or indep_test in ("fisherz", "mv_fisherz"):
        eig = np.linalg.eigvalsh(np.corrcoef(X.T))
        if eig.min() < 1e-10 * max(eig.max(), 1.0):
            raise UserError("matrix", "the correlation matrix is singular (a column is a linear combination of "
                            "others, e.g. ipsative or one-hot columns)", "drop redundant columns with --columns")
    bk = background.to_causallearn(names) if background is not None and not background.is_empty() else None
    kw = dict(test_kwargs or {})

    meta: dict[str, Any] = {"algo": algo, "alpha": float(alpha), "n_rows": int(X.shape[0]),
                            "n_rows_dropped_nan": int(n_dropped), "stable": bool(stable),
                            "standardize": bool(standardize),
                            "exogenous_knobs": ("all" if exogenous_knobs is True else exogenous_knobs) or False}
    if algo == "ges":
        meta["score_func"] = score_func
    else:
        meta["indep_test"] = indep_test
    if background is not None and not background.is_empty():
        meta["background"] = {"forbidden": len(background.forbidden), "required": len(background.required),
                              "tiers": len(background.tiers)}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            if algo == "pc":
                from causallearn.search.ConstraintBased.PC import pc

                res = pc(X, alpha, indep_test, stable=stable, background_knowledge=bk, show_progress=False,
                         node_names=names, max_k=max_depth, **kw)
            elif algo == "fci":
                from causallearn.search.ConstraintBased.FCI import fci

                res, _ = fci(X, indep_test, alpha, depth=-1 if max_depth is None else int(max_depth),
                             background_knowledge=bk, show_progress=False, node_names=names, **kw)
            else:
                from causallearn.search.ScoreBased.GES import ges

                res = ges(X, score_func=score_func, node_names=names)
    except ValueError as exc:
        if "singular" in str(exc).lower():
            raise UserError("matrix", "the correlation matrix is singular (a column is a linear combination of others)",
                            "drop redundant columns with --columns") from None
        raise
    return ValueGraph.from_causallearn(res, names, meta=meta, node_kinds=node_kinds)


# ---------------------------------------------------------------------- PC from a correlation matrix
_CORR_TEST = "lm_eval_values_corr_fisherz"


def _register_corr_test() -> None:
    from causallearn.utils import cit

    if _CORR_TEST in getattr(cit, "_custom_ci_tests", {}):
        return

    class CorrFisherZ(cit.FisherZ):
        """Fisher-z test on a given correlation matrix and sample size (no raw data needed)."""

        def __init__(self, data: np.ndarray, correlation: np.ndarray | None = None,
                     sample_size: int | None = None, **kwargs: Any) -> None:
            cit.CIT_Base.__init__(self, data, **kwargs)
            self.check_cache_method_consistent(_CORR_TEST, cit.NO_SPECIFIED_PARAMETERS_MSG)
            self.correlation_matrix = np.asarray(correlation, dtype=float)
            self.sample_size = int(sample_size)  # type: ignore[arg-type]

    cit.register_ci_test(_CORR_TEST, CorrFisherZ)


def pc_from_correlation(corr: pd.DataFrame, n: int, alpha: float = 0.05, stable: bool = True,
                        background: Background | Mapping[str, Any] | None = None) -> ValueGraph:
    """PC with Fisher-z from a correlation matrix and the sample size alone.

    Fisher-z depends on the data only through the correlation matrix and ``n``, so this equals
    :func:`discover` on any data set with that correlation matrix and ``n`` rows.

    Args:
        corr: square, symmetric correlation matrix with node names as index and columns.
        n: sample size the correlations were computed from.
        alpha: significance level.
        stable: order-independent skeleton.
        background: optional background knowledge (as for :func:`discover`).
    """
    if not isinstance(corr, pd.DataFrame) or corr.shape[0] != corr.shape[1] or list(corr.index) != list(corr.columns):
        raise UserError("corr", "must be a square DataFrame with the same names as index and columns",
                        "pass e.g. df.corr()")
    C = corr.to_numpy(dtype=float)
    p = C.shape[0]
    if p < 2:
        raise UserError("corr", "needs at least 2 variables", "pass a larger correlation matrix")
    if not np.all(np.isfinite(C)) or not np.allclose(C, C.T, atol=1e-8) or not np.allclose(np.diag(C), 1.0, atol=1e-6):
        raise UserError("corr", "is not a finite symmetric matrix with a unit diagonal", "pass a correlation matrix")
    if np.any(np.abs(C) > 1 + 1e-9):
        raise UserError("corr", "has entries outside [-1, 1]", "pass correlations, not covariances")
    if np.linalg.eigvalsh(C).min() <= 1e-10:
        raise UserError("corr", "is not positive definite (singular)", "drop redundant variables")
    if int(n) <= p + 3:
        raise UserError("n", f"sample size {n} is too small for {p} variables", "Fisher-z needs n > p + 3")
    if not (0.0 < float(alpha) < 1.0):
        raise UserError("alpha", f"{alpha} is not in (0, 1)", "use e.g. 0.05")
    if isinstance(background, Mapping):
        background = Background.from_dict(background)
    names = [str(c) for c in corr.columns]
    bk = background.to_causallearn(names) if background is not None and not background.is_empty() else None
    _register_corr_test()
    from causallearn.search.ConstraintBased.PC import pc

    dummy = np.zeros((int(n), p))
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        res = pc(dummy, float(alpha), _CORR_TEST, stable=stable, background_knowledge=bk, show_progress=False,
                 node_names=names, correlation=C, sample_size=int(n))
    meta = {"algo": "pc", "alpha": float(alpha), "indep_test": "fisherz", "n_rows": int(n),
            "stable": bool(stable), "from_correlation": True}
    return ValueGraph.from_causallearn(res, names, meta=meta)


def parse_background(obj: Any) -> Background | None:
    """None, a :class:`Background`, or its dict form -> Background."""
    if obj is None or isinstance(obj, Background):
        return obj
    return Background.from_dict(obj)


__all__ = ["ALGOS", "INDEP_TESTS", "Background", "discover", "pc_from_correlation", "parse_background"]
