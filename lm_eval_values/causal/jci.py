"""Joint Causal Inference (JCI) with context variables for steering settings and roles.

Mooij, Magliacane & Claassen (2020), "Joint Causal Inference from Multiple Contexts", JMLR
21(99). Rows measured under different conditions (steering settings, roles) are pooled and the
condition is added as **context variables** next to the **system variables** (the values):
one 0/1 indicator per steering setting (reference: unsteered) and, optionally, per role
(reference: the no-role condition, else the first role). Causal discovery then runs on values
and contexts together; a context adjacent to a value is a direct target of that condition.

Assumptions (as numbered in the paper), and how they are enforced here:

1. **Exogeneity** -- no system variable causes a context variable. Enforced with causal-learn
   ``BackgroundKnowledge``: the contexts form tier 0, the values later tiers (and every value
   not placed in a user tier is forbidden to point into a context), so every context-value
   edge is oriented context -> value, before collider detection.
2. **Randomised context** -- no latent confounder between a context and a value. Holds by design
   when every role is run under every steering setting (crossed sweep); assumed for roles.
   Under 1 + 2 every value adjacent to a context is a direct target of it.
3. **Generic context** -- the context variables are one block whose internal structure is not
   estimated: one-hot indicators of one categorical condition are dependent by construction
   (mutually exclusive), so no independence between contexts is ever tested and no edge among
   them is oriented or reported (``meta["context_block"]`` lists the block).

The block is handled by conditioning, not by adjacency: contexts are kept out of each other's
adjacency search, and EVERY test (value-value and context-value) conditions on all context
variables other than the two tested. This is sound under 1-3: contexts are non-descendants of
every value, so for any non-adjacent pair one endpoint's parents plus all (remaining) contexts
d-separate it (local Markov property, weak union), and for adjacent pairs no set does; with
an independence oracle the skeleton and the orientations therefore equal those of PC/FCI run
with a fully connected, untested context block, at the cost of a plain PC run instead of one
whose conditioning sets
range over every subset of the block (exponential in the number of contexts in causal-learn).
A context-value test given all other contexts compares that setting with the reference
condition within the remaining rows, which is the question "does this setting hit this value".
Arrowheads from contexts into values are fixed by assumption 1 before collider detection, so a
triple ``c1 -> v <- c2`` adds no orientation and cannot create a spurious collider at ``v``; the
removed option that forbade context-context adjacencies without conditioning on the block
treated mutually exclusive indicators as independent.

Causal sufficiency of the system (no latent confounders among values) is assumed by PC, not
by FCI. Fisher-z additionally assumes linear-Gaussian relations; 0/1 contexts enter it as
numbers (a mean shift of a value under a setting is a linear effect of the indicator).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from causallearn.utils import cit

from lm_eval_values.causal.background import Background
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING
from lm_eval_values.matrix.value_matrix import ValueMatrix

#: which context variables to add (``"all"`` = steering settings and roles)
CONTEXT_KINDS = ("steering", "roles", "all")
ROLE_PREFIX = "role="
STEER_PREFIX = "steer="
#: node kind of context variables in a :class:`ValueGraph`
CONTEXT_NODE_KIND = "knob"
BLOCK_TEST = "lm_eval_values_context_block"


def context_columns(vm: ValueMatrix, which: str = "steering") -> pd.DataFrame:
    """0/1 context indicators: per steering setting (vs unsteered) and/or per role (vs reference).

    ``which``: ``"steering"``, ``"roles"`` or ``"all"``. Columns are named ``steer=<id>`` and
    ``role=<id>``; the reference level (unsteered / no role, else the first seen) is dropped.
    """
    if which not in CONTEXT_KINDS:
        raise UserError("exogenous_knobs", f"unknown context set {which!r}", f"use one of: {', '.join(CONTEXT_KINDS)}")
    cols: dict[str, np.ndarray] = {}
    roles = vm.role_ids
    if len(roles) >= 2 and which in ("all", "roles"):
        ref = NO_ROLE if NO_ROLE in roles else roles[0]
        for r in roles:
            if r != ref:
                cols[f"{ROLE_PREFIX}{r}"] = (vm.meta["role_id"].astype(str) == r).to_numpy(float)
    steers = vm.steering_ids
    if len(steers) >= 2 and which in ("all", "steering"):
        ref = NO_STEERING if NO_STEERING in steers else steers[0]
        for s in steers:
            if s != ref:
                cols[f"{STEER_PREFIX}{s}"] = (vm.meta["steering_id"].astype(str) == s).to_numpy(float)
    return pd.DataFrame(cols, index=vm.scores.index)


def jci_background(contexts: Sequence[str], values: Sequence[str], base: Background | None = None) -> Background:
    """Background knowledge for JCI: contexts in tier 0 (exogenous, kept out of each other's
    adjacency search), values after them.

    User tiers of ``base`` move one tier down; values outside every user tier get explicit
    forbidden ``value -> context`` pairs.
    """
    base = base or Background()
    clash = set(contexts) & base.names()
    if clash:
        raise UserError("background", f"context variables cannot take background knowledge: {sorted(clash)}",
                        "constrain value nodes only")
    tiers = [list(contexts)] + [list(t) for t in base.tiers]
    placed = {x for t in base.tiers for x in t}
    forbidden = list(base.forbidden) + [(v, c) for v in values if v not in placed for c in contexts]
    return Background(forbidden, list(base.required), tiers, [0] + [t + 1 for t in base.forbid_within_tiers])


class ContextBlockTest(cit.CIT_Base):
    """Wraps any causal-learn test so that every test also conditions on ``condition_block``."""

    def __init__(self, data: np.ndarray, inner_method: str = "fisherz", condition_block: Iterable[int] = (),
                 inner_kwargs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.check_cache_method_consistent(BLOCK_TEST, cit.NO_SPECIFIED_PARAMETERS_MSG)
        self.inner = cit.CIT(data, inner_method, **dict(inner_kwargs or {}))
        self.condition_block = frozenset(int(i) for i in condition_block)

    def __call__(self, X: Any, Y: Any, condition_set: Iterable[Any] | None = None) -> float:
        if int(X) in self.condition_block and int(Y) in self.condition_block:
            return 0.0  # never tested: the adjacency is banned by the JCI background knowledge
        cond = {int(s) for s in condition_set} if condition_set is not None else set()
        cond |= self.condition_block - {int(X), int(Y)}
        return self.inner(X, Y, sorted(cond))


def block_test_kwargs(inner_method: str, condition_block: Iterable[int],
                      inner_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``pc``/``fci`` that wrap causal-learn's ``inner_method`` in :class:`ContextBlockTest`."""
    if cit._custom_ci_tests.get(BLOCK_TEST) is not ContextBlockTest:
        cit.register_ci_test(BLOCK_TEST, ContextBlockTest)
    return {"indep_test": BLOCK_TEST, "inner_method": inner_method, "condition_block": tuple(condition_block),
            "inner_kwargs": dict(inner_kwargs or {})}


def drop_context_block(graph: ValueGraph, contexts: Iterable[str]) -> ValueGraph:
    """A copy of ``graph`` without context-context edges (assumption 3: not estimated; with the
    background of :func:`jci_background` there are none)."""
    ctx = set(contexts)
    out = graph.copy()
    for e in graph.edges():
        if e.u in ctx and e.v in ctx:
            out.remove_edge(e.u, e.v)
    return out


def context_nodes(graph: ValueGraph) -> list[str]:
    """Context nodes of a graph, in node order."""
    return [n for n, k in graph.node_kinds.items() if k == CONTEXT_NODE_KIND]


def intervention_targets(graph: ValueGraph, directed_only: bool = False) -> dict[str, list[str]]:
    """``{context: [values it hits directly]}`` (its adjacent value nodes, in node order).

    Under assumptions 1 and 2 every value adjacent to a context is a child of it. With
    ``directed_only`` only edges read ``context --> value`` count (PC with the JCI background
    orients all of them so; FCI may leave circle marks).
    """
    ctx = context_nodes(graph)
    out: dict[str, list[str]] = {}
    for c in ctx:
        hits = []
        for n in graph.nodes:
            if n in ctx or not graph.has_edge(c, n):
                continue
            if directed_only and graph.edge_kind(c, n) != "-->":
                continue
            hits.append(n)
        out[c] = hits
    return out


def steering_id_of(context: str) -> str:
    """``"steer=1025"`` -> ``"1025"`` (other names unchanged)."""
    return context[len(STEER_PREFIX):] if context.startswith(STEER_PREFIX) else context


@dataclass(frozen=True)
class JCISetting:
    """Which context variables join the values.

    Attributes:
        contexts: ``"none"`` (values only; the study's pooled analysis), ``"steering"`` (one
            indicator per steering setting), ``"roles"`` or ``"all"``.
    """

    contexts: str = "steering"

    def __post_init__(self) -> None:
        if self.contexts not in ("none", *CONTEXT_KINDS):
            raise UserError("jci.contexts", f"unknown context set {self.contexts!r}",
                            f"use one of: none, {', '.join(CONTEXT_KINDS)}")

    @property
    def enabled(self) -> bool:
        """True when contexts are added."""
        return self.contexts != "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "JCISetting":
        """Inverse of :meth:`to_dict` (unknown keys -> UserError)."""
        unknown = set(d) - {"contexts"}
        if unknown:
            raise UserError("jci", f"unknown key(s) {sorted(unknown)}", "use contexts")
        return cls(**dict(d))


__all__ = ["CONTEXT_KINDS", "CONTEXT_NODE_KIND", "ContextBlockTest", "JCISetting", "ROLE_PREFIX", "STEER_PREFIX",
           "block_test_kwargs", "context_columns", "context_nodes", "drop_context_block", "intervention_targets",
           "jci_background", "steering_id_of"]
