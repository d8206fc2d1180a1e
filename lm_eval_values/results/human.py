"""The human-comparison stage's files: ``result.json`` (the record) and ``compare_human.json`` (every metric)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.core.files import COMPARE_HUMAN_FILE, RESULT_FILE
from lm_eval_values.results.records import optional_float, read_json_object

HUMAN_RESULT_FORMAT = "lm-eval-values/human-result"
HUMAN_RESULT_VERSION = 1


@dataclass(frozen=True)
class HumanResult:
    """What the human-comparison stage did, in brief.

    Attributes:
        settings: the stage settings (:meth:`HumanStageSettings.to_dict`).
        rows: the rows used: ``split``, ``keep_steer``, ``n_rows`` (respondents after a condition run
            in two splits is counted once), ``n_dropped_incomplete``.
        rthor_ci, rthor_p: the model's RTHOR correspondence index and permutation p-value.
        human_rthor_ci: the human reference's index (same permutations and convention).
        similarity: similarity with the human correlation matrix (``r_offdiag``, ``rmse``, ...).
        notes: what was adapted, in words.
        skipped_reason: why the comparison was not run, or None.
    """

    settings: Mapping[str, Any]
    rows: Mapping[str, Any]
    rthor_ci: float | None = None
    rthor_p: float | None = None
    human_rthor_ci: float | None = None
    similarity: Mapping[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped_reason: str | None = None

    @property
    def n_rows(self) -> int | None:
        """Respondents (rows) compared."""
        return self.rows.get("n_rows")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the file's content)."""
        d: dict[str, Any] = {"format": HUMAN_RESULT_FORMAT, "version": HUMAN_RESULT_VERSION, "stage": "human",
                             "settings": dict(self.settings), "rows": dict(self.rows), "notes": list(self.notes)}
        if self.skipped_reason is not None:
            return {**d, "skipped_reason": self.skipped_reason}
        return {**d, "rthor_ci": self.rthor_ci, "rthor_p": self.rthor_p, "human_rthor_ci": self.human_rthor_ci,
                "similarity": dict(self.similarity)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "HumanResult":
        """Inverse of :meth:`to_dict`."""
        return cls(dict(d.get("settings") or {}), dict(d.get("rows") or {}), optional_float(d.get("rthor_ci")),
                   optional_float(d.get("rthor_p")), optional_float(d.get("human_rthor_ci")),
                   dict(d.get("similarity") or {}), list(d.get("notes") or []), d.get("skipped_reason"))


@dataclass(frozen=True)
class HumanComparisonRecord:
    """``compare_human.json``: the model's structure next to the human reference.

    Attributes:
        n_rows: respondents (rows) of the model's matrix.
        rthor_model, rthor_human: ``{"ci", "p_value", ...}`` of the RTHOR test.
        similarity: ``{"r_offdiag", "rmse", ...}`` against the human correlations.
        raw: the whole document (distance curves, MDS, higher-order contrasts, bootstrap, causal side).
    """

    n_rows: int
    rthor_model: Mapping[str, Any]
    rthor_human: Mapping[str, Any]
    similarity: Mapping[str, Any]
    raw: Mapping[str, Any]

    @property
    def follows_circle(self) -> bool:
        """True when the circular order is significant (p < 0.05, positive index)."""
        p, ci = self.rthor_model.get("p_value"), self.rthor_model.get("ci")
        return p is not None and p < 0.05 and ci is not None and ci > 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "HumanComparisonRecord":
        """From the document :func:`run_compare_human` writes."""
        rthor = d.get("rthor") or {}
        return cls(int(d.get("n_rows") or 0), dict(rthor.get("model") or {}), dict(rthor.get("human") or {}),
                   dict(d.get("similarity_to_human") or {}), dict(d))


def read_human_result(folder: Path) -> HumanResult | None:
    """The human-comparison record in ``folder``, or None."""
    d = read_json_object(Path(folder) / RESULT_FILE)
    if d is None or d.get("format") != HUMAN_RESULT_FORMAT:
        return None
    return HumanResult.from_dict(d)


def read_compare_human(folder: Path) -> HumanComparisonRecord | None:
    """``compare_human.json`` in ``folder``, or None."""
    d = read_json_object(Path(folder) / COMPARE_HUMAN_FILE)
    return None if d is None or "rthor" not in d else HumanComparisonRecord.from_dict(d)


__all__ = ["HUMAN_RESULT_FORMAT", "HumanComparisonRecord", "HumanResult", "read_compare_human", "read_human_result"]
