"""Causal discovery on a value matrix through causal-learn: PC, FCI, GES -> :class:`ValueGraph`.

Defaults follow the study (Kang et al. 2025): PC, Fisher-z, alpha 0.05, stable skeleton, every
row counted as an observation (``sample_size="rows"``). Honest alternatives:

* ``sample_size="effective"``: Fisher-z uses the design-effect-adjusted n of a matrix whose
  rows repeat roles (:mod:`lm_eval_values.causal.sample_size`); a number is used as given.
* ``exogenous_knobs="steering"`` (or ``"roles"``, ``"all"``/``True``): Joint Causal Inference
  with the conditions as context variables (:mod:`lm_eval_values.causal.jci`).

Fisher-z runs through :class:`lm_eval_values.causal.fast_ci.FastFisherZ` (the same p-values and
graph as causal-learn's ``fisherz``, several times faster); ``fast_fisherz=False`` uses
causal-learn's own test. Background knowledge (forbidden / required edges, tiers) is passed to
causal-learn (PC and FCI).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from causallearn.search.ConstraintBased.FCI import fci
from causallearn.search.ConstraintBased.PC import pc
from causallearn.search.ScoreBased.GES import ges

from lm_eval_values.causal.background import Background, parse_background
from lm_eval_values.causal.fast_ci import fisherz_test_kwargs, placeholder_data
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.jci import (CONTEXT_KINDS, CONTEXT_NODE_KIND, ROLE_PREFIX, STEER_PREFIX, block_test_kwargs,
                                       context_columns, drop_context_block, jci_background)
from lm_eval_values.causal.sample_size import SampleSizeSetting
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.value_matrix import ValueMatrix

ALGOS = ("pc", "fci", "ges")
INDEP_TESTS = ("fisherz", "kci", "fastkci", "rcit", "chisq", "gsq", "mv_fisherz")
GES_SCORES = ("local_score_BIC", "local_score_BDeu", "local_score_CV_general", "local_score_marginal_general")

# names kept for callers of the earlier knob mechanism
KNOB_ROLE_PREFIX = ROLE_PREFIX
KNOB_STEER_PREFIX = STEER_PREFIX
KNOB_KINDS = ("all", "steering", "roles")


def _knob_columns(vm: ValueMatrix, which: str = "all") -> pd.DataFrame:
    """Context indicator columns (see :func:`lm_eval_values.causal.jci.context_columns`)."""
    return context_columns(vm, which)


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


def check_discovery_options(algo: str, alpha: float, indep_test: str, score_func: str = "local_score_BIC") -> None:
    """Raise :class:`UserError` for an unknown algorithm, test or GES score, or alpha outside (0, 1)."""
    if algo not in ALGOS:
        raise UserError("algo", f"unknown algorithm {algo!r}", f"use one of: {', '.join(ALGOS)}")
    if algo != "ges" and indep_test not in INDEP_TESTS:
        raise UserError("indep_test", f"unknown independence test {indep_test!r}", f"use one of: {', '.join(INDEP_TESTS)}")
    if algo == "ges" and score_func not in GES_SCORES:
        raise UserError("score_func", f"unknown GES score {score_func!r}", f"use one of: {', '.join(GES_SCORES)}")
    if not (0.0 < float(alpha) < 1.0):
        raise UserError("alpha", f"{alpha} is not in (0, 1)", "use e.g. 0.05")


def _check_correlation(X: np.ndarray) -> np.ndarray:
    """Correlation matrix of X, or UserError when it is singular."""
    corr = np.corrcoef(X.T)
    eig = np.linalg.eigvalsh(corr)
    if eig.min() < 1e-10 * max(eig.max(), 1.0):
        raise UserError("matrix", "the correlation matrix is singular (a column is a linear combination of "
                        "others, e.g. ipsative or one-hot columns)", "drop redundant columns with --columns")
    return corr


def discover(data: ValueMatrix | pd.DataFrame, algo: str = "pc", alpha: float = 0.05,
             indep_test: str = "fisherz", background: Background | Mapping[str, Any] | None = None,
             exogenous_knobs: bool | str = False, columns: Sequence[str] | None = None,
             standardize: bool = False, stable: bool = True, score_func: str = "local_score_BIC",
             max_depth: int | None = None, test_kwargs: Mapping[str, Any] | None = None,
             sample_size: SampleSizeSetting | Mapping[str, Any] | str | float | None = "rows",
             fast_fisherz: bool = True) -> ValueGraph:
    """Learn a causal value graph with causal-learn.

    Args:
        data: a :class:`ValueMatrix` (rows = conditions) or a numeric DataFrame (columns = nodes).
        algo: ``"pc"`` (CPDAG), ``"fci"`` (PAG) or ``"ges"`` (CPDAG, score based).
        alpha: significance level of the independence tests (PC, FCI).
        indep_test: causal-learn test name: fisherz (default), kci, fastkci, rcit, chisq, gsq, mv_fisherz.
        background: :class:`Background` or its dict form (PC and FCI only).
        exogenous_knobs: Joint Causal Inference context variables (needs a ValueMatrix):
            ``"steering"`` (one indicator per steering setting), ``"roles"``, or ``True``/``"all"``
            (both). Contexts are exogenous (tier 0), never tested against each other, and every
            test conditions on them; see :mod:`lm_eval_values.causal.jci` for the assumptions.
        columns: value columns to use (default all).
        standardize: z-score columns first (does not change Fisher-z results; helps KCI/GES).
        stable: order-independent PC skeleton (causal-learn ``stable=True``).
        score_func: GES score (``local_score_BIC`` default).
        max_depth: maximum conditioning-set size (PC ``max_k`` / FCI ``depth``); None = unlimited.
        test_kwargs: extra keyword arguments for the independence test (e.g. KCI kernels).
        sample_size: n of the Fisher-z tests: ``"rows"`` (default; the study), ``"effective"``
            (rows / design effect of the role clusters; needs a ValueMatrix), a positive number,
            or a :class:`SampleSizeSetting` (or its dict form).
        fast_fisherz: compute Fisher-z with :class:`~lm_eval_values.causal.fast_ci.FastFisherZ`
            (same results); False = causal-learn's test (``sample_size`` must then be ``"rows"``).

    Returns:
        A :class:`ValueGraph`; ``meta`` records algorithm, parameters, rows used and dropped,
        the sample size used (and its estimate) and the JCI context block.

    Raises:
        UserError: unknown algorithm / test, invalid alpha, background with GES or unknown names,
            constant columns, too few rows, a sample size the test cannot use.
    """
    check_discovery_options(algo, alpha, indep_test, score_func)
    background = parse_background(background)
    if algo == "ges" and background is not None and not background.is_empty():
        raise UserError("background", "causal-learn's GES takes no background knowledge", "use --algo pc or fci")
    size = SampleSizeSetting.parse(sample_size)
    uses_fisherz = algo != "ges" and indep_test == "fisherz"
    if size.mode != "rows" and not uses_fisherz:
        raise UserError("sample_size", f"only Fisher-z tests take a sample size ({algo}/{indep_test} was asked)",
                        "use sample_size='rows' with this test, or indep_test='fisherz'")
    if size.mode != "rows" and not fast_fisherz:
        raise UserError("sample_size", "causal-learn's own fisherz test counts rows", "use fast_fisherz=True")

    df, vm = _as_frame(data, columns)
    if vm is not None:
        vm.filter(columns=list(df.columns)).check("matrix")
    values = [str(c) for c in df.columns]
    node_kinds = {v: "value" for v in values}
    frame = df.apply(pd.to_numeric, errors="coerce").astype(float)
    contexts: list[str] = []
    if exogenous_knobs:
        if algo == "ges":
            raise UserError("exogenous_knobs", "context variables need background knowledge, which GES does not take",
                            "use --algo pc or fci")
        if vm is None:
            raise UserError("exogenous_knobs", "needs a ValueMatrix with role and steering ids", "pass a ValueMatrix")
        which = "all" if exogenous_knobs is True else str(exogenous_knobs)
        if which not in CONTEXT_KINDS:
            raise UserError("exogenous_knobs", f"unknown context set {which!r}", f"use one of: {', '.join(CONTEXT_KINDS)}")
        knobs = context_columns(vm, which)
        if knobs.shape[1] == 0:
            raise UserError("exogenous_knobs", f"no {which} knobs: the matrix has a single role and a single "
                            "steering setting", "drop --exogenous-knobs or include more conditions")
        clash = set(knobs.columns) & set(values)
        if clash:
            raise UserError("exogenous_knobs", f"knob names clash with value names: {sorted(clash)}", "rename the values")
        frame = pd.concat([frame, knobs], axis=1)
        contexts = list(knobs.columns)
        node_kinds.update({k: CONTEXT_NODE_KIND for k in contexts})
        background = jci_background(contexts, values, background)

    n_before = len(frame)
    complete = frame.notna().all(axis=1)
    frame = frame[complete]
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
    corr = _check_correlation(X) if (algo == "ges" or indep_test in ("fisherz", "mv_fisherz")) else None
    n_used, estimate = size.resolve(frame, None if vm is None else vm.meta.loc[frame.index], values)
    bk = background.to_causallearn(names) if background is not None and not background.is_empty() else None
    block = [names.index(c) for c in contexts]
    kw = dict(test_kwargs or {})
    if uses_fisherz and fast_fisherz:
        assert corr is not None
        test = fisherz_test_kwargs(corr, n_used, block)
        data_arg = placeholder_data(X.shape[1])
    elif block:
        test = block_test_kwargs(indep_test, block, kw)
        kw, data_arg = {}, X
    else:
        test, data_arg = {"indep_test": indep_test}, X
    test.update(kw)

    meta: dict[str, Any] = {"algo": algo, "alpha": float(alpha), "n_rows": int(X.shape[0]),
                            "n_rows_dropped_nan": int(n_dropped), "stable": bool(stable),
                            "standardize": bool(standardize),
                            "exogenous_knobs": ("all" if exogenous_knobs is True else exogenous_knobs) or False}
    if algo == "ges":
        meta["score_func"] = score_func
    else:
        meta["indep_test"] = indep_test
        if uses_fisherz:
            n_meta = float(n_used) if np.ndim(n_used) == 0 else float(estimate.n_effective)  # type: ignore[union-attr]
            meta["sample_size"] = {"mode": size.mode, "n": n_meta,
                                   **({"estimate": estimate.to_dict()} if estimate is not None else {})}
    if contexts:
        meta["context_block"] = list(contexts)
    if background is not None and not background.is_empty():
        meta["background"] = {"forbidden": len(background.forbidden), "required": len(background.required),
                              "tiers": len(background.tiers)}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            if algo == "pc":
                method = test.pop("indep_test")
                res = pc(data_arg, alpha, method, stable=stable, background_knowledge=bk, show_progress=False,
                         node_names=names, max_k=max_depth, **test)
            elif algo == "fci":
                method = test.pop("indep_test")
                res, _ = fci(data_arg, method, alpha, depth=-1 if max_depth is None else int(max_depth),
                             background_knowledge=bk, show_progress=False, node_names=names, **test)
            else:
                res = ges(X, score_func=score_func, node_names=names)
    except ValueError as exc:
        if "singular" in str(exc).lower():
            raise UserError("matrix", "the correlation matrix is singular (a column is a linear combination of others)",
                            "drop redundant columns with --columns") from None
        raise
    graph = ValueGraph.from_causallearn(res, names, meta=meta, node_kinds=node_kinds)
    return drop_context_block(graph, contexts) if contexts else graph


def pc_from_correlation(corr: pd.DataFrame, n: float, alpha: float = 0.05, stable: bool = True,
                        background: Background | Mapping[str, Any] | None = None) -> ValueGraph:
    """PC with Fisher-z from a correlation matrix and the sample size alone.

    Fisher-z depends on the data only through the correlation matrix and ``n``, so this equals
    :func:`discover` on any data set with that correlation matrix and ``n`` rows.

    Args:
        corr: square, symmetric correlation matrix with node names as index and columns.
        n: sample size the correlations were computed from (may be an effective n).
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
    if float(n) <= p + 3:
        raise UserError("n", f"sample size {n} is too small for {p} variables", "Fisher-z needs n > p + 3")
    if not (0.0 < float(alpha) < 1.0):
        raise UserError("alpha", f"{alpha} is not in (0, 1)", "use e.g. 0.05")
    background = parse_background(background)
    names = [str(c) for c in corr.columns]
    bk = background.to_causallearn(names) if background is not None and not background.is_empty() else None
    test = fisherz_test_kwargs(C, float(n))
    method = test.pop("indep_test")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        res = pc(placeholder_data(p), float(alpha), method, stable=stable, background_knowledge=bk,
                 show_progress=False, node_names=names, **test)
    meta = {"algo": "pc", "alpha": float(alpha), "indep_test": "fisherz", "n_rows": float(n) if float(n) % 1 else int(n),
            "stable": bool(stable), "from_correlation": True}
    return ValueGraph.from_causallearn(res, names, meta=meta)


__all__ = ["ALGOS", "GES_SCORES", "INDEP_TESTS", "Background", "check_discovery_options", "discover", "parse_background",
           "pc_from_correlation"]
