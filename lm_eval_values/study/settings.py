"""The stage sections of a study config (``vectors:``, ``reliability:``, ``graph:``, ``human:``,
``side_effects:``), checked and completed with their defaults; and the field checks the study config shares.

Each analysis section holds the keys of its stage's settings class (the same names as the stage
command's options): :class:`~lm_eval_values.causal.stage_settings.GraphStageSettings`,
:class:`~lm_eval_values.analysis.circumplex.stage.HumanStageSettings`,
:class:`~lm_eval_values.analysis.side_effects_stage.SideEffectsSettings`,
:class:`~lm_eval_values.measurement.run.ReliabilitySettings`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from lm_eval_values.analysis.circumplex.stage import HumanStageSettings
from lm_eval_values.analysis.side_effects_stage import SideEffectsSettings
from lm_eval_values.causal.stage_settings import GraphStageSettings
from lm_eval_values.core.errors import UserError
from lm_eval_values.measurement.run import ReliabilitySettings
from lm_eval_values.sweep.fields import as_mapping, check_keys
from lm_eval_values.values.definitions import VALUE_DEFINITIONS


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


@dataclass(frozen=True)
class AnalysisSettings:
    """The typed settings of a study's analysis stages (the ``reliability:``, ``graph:``, ``human:`` and
    ``side_effects:`` sections with the top-level ``seed``); what a stage command's ``--study`` reads.

    Attributes:
        seed: the study's seed (bootstrap, permutations, random graphs).
        reliability, graph, human, side_effects: each stage's settings.
        graph_jobs: bootstrap worker processes (``graph.jobs``; results do not depend on it).
    """

    seed: int
    reliability: ReliabilitySettings
    graph: GraphStageSettings
    human: HumanStageSettings
    side_effects: SideEffectsSettings
    graph_jobs: int | None = None


def parse_analysis_settings(d: Mapping[str, Any]) -> AnalysisSettings:
    """The analysis sections of a study config, completed with their defaults.

    The graph stage fits the ``train`` split unless ``graph.split`` says otherwise; the side-effect
    stage trains on the graph's split unless ``side_effects.train_split`` says otherwise; every
    stage uses the top-level ``seed``.
    """
    seed = as_whole_number(d.get("seed", 0), "seed")
    sections = {k: study_mapping(d.get(k), k) for k in ("reliability", "graph", "human", "side_effects")}
    for k in ("graph", "human", "side_effects"):
        if "seed" in sections[k]:
            raise UserError(f"{k}.seed", "a study has one seed", "set the top-level seed instead")
    g = sections["graph"]
    jobs = g.pop("jobs", None)
    jobs = None if jobs is None else as_whole_number(jobs, "graph.jobs", 1)
    graph = GraphStageSettings.from_dict({"split": "train", **g, "seed": seed})
    human = HumanStageSettings.from_dict({**sections["human"], "seed": seed})
    side = SideEffectsSettings.from_dict({"train_split": graph.rows.split, **sections["side_effects"], "seed": seed})
    reliability = ReliabilitySettings.from_dict(sections["reliability"])
    return AnalysisSettings(seed, reliability, graph, human, side, jobs)


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
