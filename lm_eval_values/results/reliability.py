"""``reliability.json``: is there value signal in a sweep, or only response bias (``lm-eval-values reliability``)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.core.files import RELIABILITY_FILE
from lm_eval_values.results.records import optional_float, read_json_object

RELIABILITY_FORMAT = "lm-eval-values/reliability"


@dataclass(frozen=True)
class ValueReliabilityRecord:
    """One value's generalizability: ``g`` (0..1, None when undefined), ``signal`` and the verdict in words."""

    g: float | None
    signal: bool
    verdict: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ValueReliabilityRecord":
        """From one entry of the file's ``values``."""
        return cls(optional_float(d.get("g")), bool(d.get("signal")), str(d.get("verdict") or ""))


@dataclass(frozen=True)
class ReliabilityResult:
    """The parts of ``reliability.json`` other modules read (``raw`` holds the whole document).

    Attributes:
        values: per value, its G coefficient and verdict.
        n_roles: respondents (unsteered role conditions).
        acquiescence: mean unkeyed answer over roles (+1 = yes to everything), or None.
        roles_differ_in_acquiescence: the F test of roles on the unkeyed answers, or None.
        summary: the analysis's own summary lines.
        scoring: the response-bias scoring used.
    """

    values: Mapping[str, ValueReliabilityRecord]
    n_roles: int
    acquiescence: float | None = None
    roles_differ_in_acquiescence: bool | None = None
    summary: list[str] = field(default_factory=list)
    scoring: str = "raw"
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_signal(self) -> int:
        """Values whose between-role variance is above noise."""
        return sum(r.signal for r in self.values.values())

    @property
    def median_g(self) -> float | None:
        """Median G over the values with a defined G."""
        gs = [r.g for r in self.values.values() if r.g is not None]
        return float(statistics.median(gs)) if gs else None

    def signal_values(self) -> list[str]:
        """Names of the values with signal."""
        return [v for v, r in self.values.items() if r.signal]

    def summary_line(self) -> str:
        """One line: how many values have signal, the median G, acquiescence."""
        g = "n/a" if self.median_g is None else f"{self.median_g:.2f}"
        acq = "n/a" if self.acquiescence is None else f"{self.acquiescence:+.2f}"
        return (f"{self.n_signal} of {len(self.values)} values carry between-role signal "
                f"(median G {g} over {self.n_roles} roles, {self.scoring} scoring); acquiescence (mean unkeyed answer, "
                f"+1 = yes to all) {acq}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ReliabilityResult":
        """From the document :func:`lm_eval_values.measurement.run.run_reliability` writes."""
        roles = ((d.get("acquiescence") or {}).get("roles")) or {}
        scoring = d.get("scoring") or {}
        return cls({str(k): ValueReliabilityRecord.from_dict(v) for k, v in (d.get("values") or {}).items()},
                   int(d.get("n_roles") or 0), optional_float(roles.get("mean")), roles.get("roles_differ"),
                   list(d.get("summary") or []),
                   str(scoring.get("name", "raw")) if isinstance(scoring, Mapping) else str(scoring), dict(d))


def read_reliability(folder: Path) -> ReliabilityResult | None:
    """``reliability.json`` in ``folder``, or None."""
    d = read_json_object(Path(folder) / RELIABILITY_FILE)
    if d is None or d.get("format") != RELIABILITY_FORMAT:
        return None
    return ReliabilityResult.from_dict(d)


__all__ = ["RELIABILITY_FORMAT", "ReliabilityResult", "ValueReliabilityRecord", "read_reliability"]
