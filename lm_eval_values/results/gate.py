"""The measurement gate: are the analyses built on the value scores interpretable as values?

The graph, the human comparison and the side effects all read the value scores. When a value's
scores do not differ between roles beyond role x item noise (no between-role signal in the
reliability analysis, :mod:`lm_eval_values.measurement.reliability`), whatever correlates with it
across roles is response bias or noise, not values. The study still runs every stage, but marks
each one with a status and the reason in words (with the numbers):

* ``not interpretable``: no value carries signal: every stage describes response bias;
* ``partly interpretable``: some values lack signal: the parts that involve them (graph edges with
  such a value at either end, their correlations in the human comparison, side effects predicted
  through them) describe response bias;
* ``interpretable``: every value carries signal;
* ``unchecked``: the reliability analysis did not run (no item table, or it was skipped).

:func:`measurement_gate` builds the gate from the reliability result; the study records it per
model in ``study.json`` (``models.<id>.gate``) and the report shows it next to every stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from lm_eval_values.results.records import optional_float
from lm_eval_values.results.reliability import ReliabilityResult

INTERPRETABLE = "interpretable"
PARTLY = "partly interpretable"
NOT_INTERPRETABLE = "not interpretable"
UNCHECKED = "unchecked"
#: the stages the gate marks, with their names in sentences
GATED_STAGES: dict[str, str] = {"graph": "the graph", "human": "the human comparison",
                                "side_effects": "the side effects"}


@dataclass(frozen=True)
class StageGate:
    """One gated stage: ``status`` (see the module docstring) and the reason in words."""

    status: str
    reason: str

    @property
    def interpretable(self) -> bool:
        """True only when the stage is fully interpretable."""
        return self.status == INTERPRETABLE

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {"status": self.status, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "StageGate":
        """Inverse of :meth:`to_dict`."""
        return cls(str(d.get("status") or UNCHECKED), str(d.get("reason") or ""))


@dataclass(frozen=True)
class MeasurementGate:
    """The gate of one model (see the module docstring).

    Attributes:
        status: overall status (the worst of the stages).
        reason: one sentence with the numbers.
        n_values, n_signal: values measured, values with between-role signal.
        values_without_signal: their names.
        median_g: median G coefficient over the values.
        acquiescence, acquiescence_g, roles_differ_in_acquiescence: the yes/no bias over roles.
        scoring: the response-bias scoring of the value scores.
        stages: per gated stage (``graph``, ``human``, ``side_effects``), its status and reason.
    """

    status: str
    reason: str
    n_values: int = 0
    n_signal: int = 0
    values_without_signal: tuple[str, ...] = ()
    median_g: float | None = None
    acquiescence: float | None = None
    acquiescence_g: float | None = None
    roles_differ_in_acquiescence: bool | None = None
    scoring: str = "raw"
    stages: Mapping[str, StageGate] = field(default_factory=dict)

    @property
    def fires(self) -> bool:
        """True when some stage is not (fully) interpretable because values lack signal."""
        return self.status in (NOT_INTERPRETABLE, PARTLY)

    def stage(self, name: str) -> StageGate:
        """The gate of one stage (``graph``, ``human``, ``side_effects``)."""
        return self.stages.get(name) or StageGate(self.status, self.reason)

    def value_has_signal(self, value: str) -> bool | None:
        """Whether ``value`` carries between-role signal (None when unchecked)."""
        if self.status == UNCHECKED:
            return None
        return value not in self.values_without_signal

    def edge_note(self, u: str, v: str) -> str:
        """``""`` when an edge between ``u`` and ``v`` is interpretable; else why not (ends that are
        measured values without signal; steering-context nodes are not values and never gate)."""
        if self.status == UNCHECKED:
            return ""
        bad = [x for x in (u, v) if x in self.values_without_signal]
        if not bad:
            return ""
        return f"not interpretable: {' and '.join(bad)} {'has' if len(bad) == 1 else 'have'} no between-role signal"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``study.json``: ``models.<id>.gate``)."""
        return {"status": self.status, "reason": self.reason, "n_values": self.n_values, "n_signal": self.n_signal,
                "values_without_signal": list(self.values_without_signal), "median_g": self.median_g,
                "acquiescence": self.acquiescence, "acquiescence_g": self.acquiescence_g,
                "roles_differ_in_acquiescence": self.roles_differ_in_acquiescence, "scoring": self.scoring,
                "stages": {k: s.to_dict() for k, s in self.stages.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MeasurementGate":
        """Inverse of :meth:`to_dict`."""
        differ = d.get("roles_differ_in_acquiescence")
        return cls(str(d.get("status") or UNCHECKED), str(d.get("reason") or ""), int(d.get("n_values") or 0),
                   int(d.get("n_signal") or 0), tuple(str(v) for v in d.get("values_without_signal") or ()),
                   optional_float(d.get("median_g")), optional_float(d.get("acquiescence")),
                   optional_float(d.get("acquiescence_g")), None if differ is None else bool(differ),
                   str(d.get("scoring") or "raw"),
                   {str(k): StageGate.from_dict(v) for k, v in (d.get("stages") or {}).items()
                    if isinstance(v, Mapping)})


def _numbers(rel: ReliabilityResult) -> str:
    g = "n/a" if rel.median_g is None else f"{rel.median_g:.2f}"
    scoring = "" if rel.scoring == "raw" else f", {rel.scoring} scoring"
    return (f"{rel.n_signal} of {len(rel.values)} values carry between-role signal (median G {g}; "
            f"{rel.acquiescence_text()}{scoring})")


def measurement_gate(rel: ReliabilityResult | None, skipped_reason: str | None = None) -> MeasurementGate:
    """The gate of a model from its reliability result (None: the analysis did not run; ``skipped_reason``
    says why)."""
    if rel is None or not rel.values:
        why = skipped_reason or "no reliability.json"
        reason = (f"unchecked: the reliability analysis did not run ({why}); whether the value scores carry value "
                  f"signal or only response bias is unknown")
        return MeasurementGate(UNCHECKED, reason, stages={k: StageGate(UNCHECKED, reason) for k in GATED_STAGES})
    lacking = tuple(rel.values_without_signal())
    common = dict(n_values=len(rel.values), n_signal=rel.n_signal, values_without_signal=lacking,
                  median_g=rel.median_g, acquiescence=rel.acquiescence, acquiescence_g=rel.acquiescence_g,
                  roles_differ_in_acquiescence=rel.roles_differ_in_acquiescence, scoring=rel.scoring)
    numbers = _numbers(rel)
    if not lacking:
        reason = f"{numbers}: the analyses describe values"
        return MeasurementGate(INTERPRETABLE, reason, **common,
                               stages={k: StageGate(INTERPRETABLE, reason) for k in GATED_STAGES})
    if len(lacking) == len(rel.values):
        reason = f"{numbers}: the graph, the human comparison and the side effects describe response bias, not values"
        return MeasurementGate(NOT_INTERPRETABLE, reason, **common,
                               stages={k: StageGate(NOT_INTERPRETABLE, reason) for k in GATED_STAGES})
    names = ", ".join(lacking)
    stages = {
        "graph": StageGate(PARTLY, f"{numbers}: edges with {names} at either end describe response bias, not values"),
        "human": StageGate(PARTLY, f"{numbers}: the correlations of {names} with the other values, and so the "
                                   f"circular order and the similarity to humans, rest partly on response bias"),
        "side_effects": StageGate(PARTLY, f"{numbers}: side effects on or predicted through {names} describe "
                                          f"response bias, not values"),
    }
    reason = f"{numbers}: the parts of the graph, the human comparison and the side effects that involve {names} " \
             f"describe response bias, not values"
    return MeasurementGate(PARTLY, reason, **common, stages=stages)


__all__ = ["GATED_STAGES", "INTERPRETABLE", "MeasurementGate", "NOT_INTERPRETABLE", "PARTLY", "StageGate", "UNCHECKED",
           "measurement_gate"]
