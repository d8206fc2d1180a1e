"""A study's ``study.json``: the resolved config, package versions, per-model stage status and timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import STUDY_FILE, STUDY_FORMAT
from lm_eval_values.results.gate import MeasurementGate
from lm_eval_values.results.records import optional_float, read_json_object


@dataclass(frozen=True)
class StudyModelRecord:
    """One model of a study: id (folder name), label, model arguments, per-stage ``elapsed_s`` / ``skipped``,
    and the measurement gate (whether the graph, human comparison and side effects describe values; None in
    studies written before the gate existed)."""

    id: str
    label: str
    model_args: Mapping[str, Any] = field(default_factory=dict)
    stages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    gate: MeasurementGate | None = None


@dataclass(frozen=True)
class StudyRecord:
    """``study.json`` (see :func:`lm_eval_values.study.run.run_study`).

    Attributes:
        name: the study's title.
        config: the config the study ran (as parsed YAML).
        models: the models in config order (a model the study has not reached yet has no stages).
        versions: package versions.
        scoring: the response-bias scoring of the value scores every analysis stage read (``name``,
            ``description``, ``value_scores``: where they came from); ``{"name": "raw"}`` in older studies.
        complete: True when every stage of every model finished.
        run_s: seconds of the last invocation.
        raw: the whole document.
    """

    name: str
    config: Mapping[str, Any]
    models: list[StudyModelRecord]
    versions: Mapping[str, str] = field(default_factory=dict)
    scoring: Mapping[str, Any] = field(default_factory=lambda: {"name": "raw"})
    complete: bool = False
    run_s: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def model(self, model_id: str, field_name: str = "--model") -> StudyModelRecord:
        """The model with this id (:class:`UserError` naming ``field_name`` if absent)."""
        for m in self.models:
            if m.id == model_id:
                return m
        raise UserError(field_name, f"no model {model_id!r} in the study", f"use one of: {', '.join(self.model_ids())}")

    @property
    def scoring_name(self) -> str:
        """The scoring's name (``raw``, ``item_centered``, ``acquiescence_residualized``, ``mrat``)."""
        return str(self.scoring.get("name") or "raw")

    def model_ids(self) -> list[str]:
        """Model ids in config order."""
        return [m.id for m in self.models]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "StudyRecord":
        """From the document ``run_study`` writes."""
        config = dict(d.get("config") or {})
        done = d.get("models") or {}
        models = []
        for m in config.get("models") or []:
            if not isinstance(m, Mapping) or not m.get("id"):
                continue
            mid = str(m["id"])
            rec = done.get(mid) or {}
            gate = rec.get("gate")
            models.append(StudyModelRecord(mid, str(rec.get("label") or m.get("label") or mid),
                                           dict(rec.get("model_args") or m.get("model_args") or {}),
                                           dict(rec.get("stages") or {}),
                                           MeasurementGate.from_dict(gate) if isinstance(gate, Mapping) else None))
        scoring = d.get("scoring")
        if not isinstance(scoring, Mapping):
            section = config.get("reliability")
            scoring = {"name": str((section or {}).get("scoring") or "raw") if isinstance(section, Mapping) else "raw"}
        return cls(str(d.get("name") or "Value study"), config, models, dict(d.get("versions") or {}),
                   dict(scoring), bool(d.get("complete")), optional_float(d.get("run_s")), dict(d))


def read_study_record(run: Path, field_name: str = "RUN_DIR") -> StudyRecord:
    """``run/study.json``; :class:`UserError` naming ``field_name`` when it is missing or not a study record."""
    d = read_json_object(Path(run) / STUDY_FILE)
    if d is None or d.get("format") != STUDY_FORMAT:
        raise UserError(field_name, f"{run} has no readable study.json", "give the folder a `study` run wrote")
    return StudyRecord.from_dict(d)


__all__ = ["StudyModelRecord", "StudyRecord", "read_study_record"]
