"""What every stage record shares: JSON bytes, reading a JSON object, ``stage.json``, skip reasons."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import STAGE_FILE
from lm_eval_values.core.jsonable import json_ready

#: Errors an analysis reports as "skipped: <reason>" (data too small or degenerate) instead of failing a study.
ANALYSIS_ERRORS: tuple[type[BaseException], ...] = (UserError, ValueError, ArithmeticError)


def skip_reason(exc: BaseException) -> str:
    """One line describing why an analysis was skipped."""
    if isinstance(exc, UserError):
        return exc.one_line()
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def json_bytes(obj: Any) -> bytes:
    """Deterministic JSON bytes of a record: floats rounded to 6 digits, NaN as null, sorted keys, 2-space
    indent, trailing newline (every stage writes its JSON files this way)."""
    return (json.dumps(json_ready(obj, 6), indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing, unreadable or not an object."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def optional_float(x: Any) -> float | None:
    """``x`` as a float, or None (missing, null, not a number)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x)


@dataclass(frozen=True)
class StageRecord:
    """``stage.json`` of a finished study stage: bookkeeping only (the results are in the stage's files).

    Attributes:
        stage: stage name.
        inputs_hash: hash of the stage's settings and input files (a resumed study skips a stage
            whose hash still matches).
        elapsed_s: seconds the stage took.
        skipped_reason: why the analysis was skipped (degenerate data), or None.
        raw: the whole record (the sweep stage keeps its counters here).
    """

    stage: str
    inputs_hash: str | None = None
    elapsed_s: float | None = None
    skipped_reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {**self.raw, "stage": self.stage, "inputs_hash": self.inputs_hash, "elapsed_s": self.elapsed_s,
                **({"skipped_reason": self.skipped_reason} if self.skipped_reason else {})}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "StageRecord":
        """Inverse of :meth:`to_dict`."""
        return cls(str(d.get("stage", "")), d.get("inputs_hash"), optional_float(d.get("elapsed_s")),
                   d.get("skipped_reason"), dict(d))


def read_stage_record(folder: Path) -> StageRecord | None:
    """The ``stage.json`` of a finished stage folder, or None."""
    d = read_json_object(Path(folder) / STAGE_FILE)
    return None if d is None else StageRecord.from_dict(d)


__all__ = ["ANALYSIS_ERRORS", "StageRecord", "json_bytes", "optional_float", "read_json_object", "read_stage_record",
           "skip_reason"]
