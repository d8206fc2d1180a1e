"""The stage sections of a study config (``vectors:``, ``graph:``, ``human:``, ``side_effects:``), checked
and completed with their defaults; and the field checks the study config shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lm_eval_values.analysis.circumplex.reference import CENTERINGS as HUMAN_CENTERINGS
from lm_eval_values.analysis.circumplex.reference import CONVENTIONS
from lm_eval_values.analysis.side_effects import CENTERINGS as SIDE_EFFECT_CENTERINGS
from lm_eval_values.causal.discovery import ALGOS, INDEP_TESTS
from lm_eval_values.causal.graph import POLICIES
from lm_eval_values.core.errors import UserError
from lm_eval_values.sweep.fields import as_mapping, check_keys
from lm_eval_values.values.definitions import VALUE_DEFINITIONS

_GRAPH_KEYS = {"algo", "alpha", "indep_test", "bootstrap", "threshold", "policy", "split", "keep_steer", "jobs"}
_HUMAN_KEYS = {"centering", "permutations", "bootstrap", "alpha", "rows", "convention"}
_SIDE_KEYS = {"fdr", "n_random", "policy", "heldout_split", "tol", "centering"}


def study_mapping(x: Any, where: str) -> dict[str, Any]:
    """A mapping (a copy; ``{}`` for None)."""
    return dict(as_mapping(x, where))


def as_whole_number(x: Any, where: str, minimum: int = 0) -> int:
    """An integer >= ``minimum`` (not a bool)."""
    if isinstance(x, bool) or not isinstance(x, int) or x < minimum:
        raise UserError(where, f"must be an integer >= {minimum}, got {x!r}", f"give a whole number >= {minimum}")
    return int(x)


def as_probability(x: Any, where: str, closed: bool = False) -> float:
    """A number in (0, 1), or (0, 1] with ``closed``."""
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and (0 < x < 1 or (closed and x == 1))
    if not ok:
        raise UserError(where, f"must be a number in (0, 1{']' if closed else ')'}, got {x!r}", "e.g. 0.05")
    return float(x)


def as_choice(x: Any, options: tuple[str, ...], where: str) -> str:
    """One of ``options``."""
    if x not in options:
        raise UserError(where, f"unknown value {x!r}", f"use one of: {', '.join(options)}")
    return str(x)


def parse_graph_settings(x: Any) -> dict[str, Any]:
    """The ``graph:`` section with its defaults."""
    d = study_mapping(x, "graph")
    check_keys(d, _GRAPH_KEYS, "graph.")
    keep = d.get("keep_steer")
    if keep is not None and (not isinstance(keep, list) or not all(isinstance(s, (str, int)) for s in keep)):
        raise UserError("graph.keep_steer", f"must be a list of steering ids, got {keep!r}", "e.g. [none, 'prompt:Power']")
    jobs = d.get("jobs")
    return {
        "algo": as_choice(d.get("algo", "pc"), ALGOS, "graph.algo"),
        "alpha": as_probability(d.get("alpha", 0.05), "graph.alpha"),
        "indep_test": as_choice(d.get("indep_test", "fisherz"), INDEP_TESTS, "graph.indep_test"),
        "bootstrap": as_whole_number(d.get("bootstrap", 100), "graph.bootstrap"),
        "threshold": as_probability(d.get("threshold", 0.5), "graph.threshold", closed=True),
        "policy": as_choice(d.get("policy", "study"), tuple(POLICIES), "graph.policy"),
        "split": None if d.get("split", "train") is None else str(d.get("split", "train")),
        "keep_steer": None if keep is None else [str(s) for s in keep],
        "jobs": None if jobs is None else as_whole_number(jobs, "graph.jobs", 1),
    }


def parse_human_settings(x: Any) -> dict[str, Any]:
    """The ``human:`` section with its defaults."""
    d = study_mapping(x, "human")
    check_keys(d, _HUMAN_KEYS, "human.")
    return {
        "centering": as_choice(d.get("centering", "mrat"), HUMAN_CENTERINGS, "human.centering"),
        "permutations": as_whole_number(d.get("permutations", 2000), "human.permutations", 1),
        "bootstrap": as_whole_number(d.get("bootstrap", 500), "human.bootstrap"),
        "alpha": as_probability(d.get("alpha", 0.05), "human.alpha"),
        "rows": as_choice(d.get("rows", "unsteered"), ("unsteered", "all"), "human.rows"),
        "convention": as_choice(d.get("convention", "separate"), CONVENTIONS, "human.convention"),
    }


def parse_side_effects_settings(x: Any) -> dict[str, Any]:
    """The ``side_effects:`` section with its defaults."""
    d = study_mapping(x, "side_effects")
    check_keys(d, _SIDE_KEYS, "side_effects.")
    tol = d.get("tol", 0.0)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or tol < 0:
        raise UserError("side_effects.tol", f"must be a number >= 0, got {tol!r}", "e.g. 0 (the study) or 0.01")
    return {
        "fdr": as_probability(d.get("fdr", 0.05), "side_effects.fdr"),
        "n_random": as_whole_number(d.get("n_random", 100), "side_effects.n_random"),
        "policy": as_choice(d.get("policy", "study"), ("study", "possible", "directed"), "side_effects.policy"),
        "heldout_split": str(d.get("heldout_split", "test")),
        "tol": float(tol),
        "centering": as_choice(d.get("centering", "none"), SIDE_EFFECT_CENTERINGS, "side_effects.centering"),
    }


_VECTOR_KEYS = {"values", "layer", "coefficients", "positions", "texts"}

#: Neutral requests the value-definition prompts are paired with to build steering vectors
#: (written for this project; deliberately not questionnaire items, so no item leaks into a vector).
VECTOR_TEXTS: tuple[str, ...] = (
    "How should I spend my free weekend?",
    "What should I look for in a new job?",
    "A friend asks me for advice about moving to another city. What do I say?",
    "How do I decide what to do with some extra money?",
    "What matters most when choosing where to live?",
    "How should I plan the next five years of my life?",
    "My neighbour needs help on the day I planned to rest. What should I do?",
    "What kind of person do I want to become?",
)


@dataclass
class VectorSpec:
    """Diff-of-means steering vectors built by the study (one per value)."""

    values: list[str]
    layer: int | None
    coefficients: list[float]
    positions: str
    texts: list[str]

    def record(self) -> dict[str, Any]:
        """JSON-able settings (hashed into the stage)."""
        return {"values": self.values, "layer": self.layer, "coefficients": self.coefficients,
                "positions": self.positions, "texts": self.texts}


def parse_vectors(x: Any) -> VectorSpec | None:
    """The ``vectors:`` section (None when it is absent)."""
    if x is None:
        return None
    d = study_mapping(x, "vectors")
    check_keys(d, _VECTOR_KEYS, "vectors.")
    values = d.get("values")
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not values:
        raise UserError("vectors.values", "must be a non-empty list of value names", "e.g. [Power, Universalism]")
    for v in values:
        if v not in VALUE_DEFINITIONS:
            raise UserError("vectors.values", f"no value definition for {v!r}",
                            f"use some of: {', '.join(VALUE_DEFINITIONS)}")
    if len(set(values)) != len(values):
        raise UserError("vectors.values", "has duplicates", "list each value once")
    layer = d.get("layer")
    layer = None if layer is None else as_whole_number(layer, "vectors.layer")
    coefs = d.get("coefficients", [-0.5, 0.5])
    if not isinstance(coefs, list) or not coefs or not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) and c != 0 for c in coefs):
        raise UserError("vectors.coefficients", f"must be a list of non-zero numbers, got {coefs!r}", "e.g. [-0.5, 0.5]")
    positions = d.get("positions", "prompt")
    from steering_hooks.errors import SpecError
    from steering_hooks.spec import parse_positions

    try:
        parse_positions(positions, "vectors.positions")
    except SpecError as exc:
        raise UserError("vectors.positions", exc.problem, exc.fix) from None
    texts = d.get("texts", list(VECTOR_TEXTS))
    if not isinstance(texts, list) or len(texts) < 2 or not all(isinstance(t, str) and t.strip() for t in texts):
        raise UserError("vectors.texts", "must be a list of at least two non-empty strings", "or leave it out")
    return VectorSpec([str(v) for v in values], layer, [float(c) for c in coefs], str(positions), list(texts))
