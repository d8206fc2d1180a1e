"""``reliability.json``: is there value signal in a sweep, or only response bias (``lm-eval-values reliability``)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.core.files import RELIABILITY_FILE
from lm_eval_values.results.records import optional_float, read_json_object

RELIABILITY_FORMAT = "lm-eval-values/reliability"


@dataclass(frozen=True)
class ProfileRecord:
    """One value's mean over the unsteered respondents with its intervals (``values.<V>.profile``).

    Attributes:
        mean: mean keyed score over the respondents' answered items.
        ci_lo, ci_hi: the interval with item AND role sampling (two-way bootstrap).
        vc_lo, vc_hi: the variance-component interval (also roles and items).
        roles_only_lo, roles_only_hi: the t interval over role means with the items fixed (too narrow; for comparison).
        n_roles, n_items: respondents and items of the value.
        item_sampling: ``included``, or why item sampling could not be included.
    """

    mean: float | None
    ci_lo: float | None
    ci_hi: float | None
    vc_lo: float | None = None
    vc_hi: float | None = None
    roles_only_lo: float | None = None
    roles_only_hi: float | None = None
    n_roles: int = 0
    n_items: int = 0
    item_sampling: str = ""

    @property
    def includes_items(self) -> bool:
        """True when the interval includes item sampling."""
        return self.item_sampling == "included"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ProfileRecord":
        """From one value's ``profile`` entry."""
        f = {k: optional_float(d.get(k)) for k in ("mean", "ci_lo", "ci_hi", "vc_lo", "vc_hi", "roles_only_lo",
                                                     "roles_only_hi")}
        return cls(**f, n_roles=int(d.get("n_roles") or 0), n_items=int(d.get("n_items") or 0),
                   item_sampling=str(d.get("item_sampling") or ""))


@dataclass(frozen=True)
class ValueReliabilityRecord:
    """One value's generalizability: ``g`` (0..1, None when undefined), ``signal``, the verdict in words,
    the F ratio of roles over role x item noise, the keyed vs reverse-keyed correlation across roles
    (near -1: a yes/no bias) and the value's profile (None in older files)."""

    g: float | None
    signal: bool
    verdict: str = ""
    f: float | None = None
    profile: ProfileRecord | None = None
    keyed_reverse_r: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ValueReliabilityRecord":
        """From one entry of the file's ``values``."""
        prof = d.get("profile")
        return cls(optional_float(d.get("g")), bool(d.get("signal")), str(d.get("verdict") or ""),
                   optional_float(d.get("f")), ProfileRecord.from_dict(prof) if isinstance(prof, Mapping) else None,
                   optional_float(d.get("keyed_reverse_r")))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval (two-way bootstrap over roles and items)."""

    estimate: float | None
    lo: float | None
    hi: float | None

    @classmethod
    def from_dict(cls, d: Any) -> "Estimate | None":
        """From ``{"estimate", "lo", "hi"}``; None when absent."""
        if not isinstance(d, Mapping):
            return None
        return cls(optional_float(d.get("estimate")), optional_float(d.get("lo")), optional_float(d.get("hi")))


@dataclass(frozen=True)
class DoseCheck:
    """The manipulation check of one (steering setting, dose).

    Attributes:
        coefficient: the dose.
        target: the designed target value, or None (the setting names no value).
        target_change, specificity, acquiescence_shift: paired changes with intervals (None when not estimable).
        flags: ``ok``, ``wrong-signed``, ``no-effect``, ``non-specific``, ``bias-only``, ``target unknown``, ...
        items_included: whether the target's interval includes item sampling (None without a target).
        n_roles: roles paired steered vs unsteered.
    """

    coefficient: float | None
    target: str | None
    target_change: Estimate | None
    specificity: Estimate | None
    acquiescence_shift: Estimate | None
    flags: tuple[str, ...]
    items_included: bool | None = None
    n_roles: int = 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DoseCheck":
        """From one entry of ``manipulation[i].doses``."""
        target = d.get("target")
        sampling = d.get("item_sampling") or {}
        inc = None if target is None or target not in sampling else sampling[target] == "included"
        return cls(optional_float(d.get("coefficient")), None if target is None else str(target),
                   Estimate.from_dict(d.get("target_change")), Estimate.from_dict(d.get("specificity")),
                   Estimate.from_dict(d.get("acquiescence_shift")), tuple(str(f) for f in d.get("flags") or ()),
                   inc, int(d.get("n_roles") or 0))


@dataclass(frozen=True)
class ManipulationCheck:
    """The manipulation checks of one steering setting (all its doses) and the dose-response summary.

    Attributes:
        steering_id: the setting.
        target: its designed target, or None (``target_source`` says why).
        doses: per dose, in coefficient order.
        spearman_rho, sign_agreement, monotonic: dose-response of the target (unsteered = dose 0).
        flags: across doses (``direction ignored``, ``non-monotonic`` and every dose's flags), or ``ok``.
        words: the check in plain sentences.
    """

    steering_id: str
    target: str | None
    target_source: str
    doses: tuple[DoseCheck, ...]
    spearman_rho: float | None = None
    sign_agreement: float | None = None
    monotonic: bool | None = None
    flags: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @property
    def has_target(self) -> bool:
        """True when the setting has a designed target value."""
        return self.target is not None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ManipulationCheck":
        """From one entry of the file's ``manipulation``."""
        s = d.get("summary") or {}
        mono = s.get("monotonic")
        return cls(str(d.get("steering_id", "")), None if d.get("target") is None else str(d["target"]),
                   str(d.get("target_source") or ""), tuple(DoseCheck.from_dict(x) for x in d.get("doses") or ()),
                   optional_float(s.get("spearman_rho")), optional_float(s.get("sign_agreement")),
                   None if mono is None else bool(mono), tuple(str(f) for f in s.get("flags") or ()),
                   tuple(str(w) for w in d.get("words") or ()))


@dataclass(frozen=True)
class ReliabilityResult:
    """The parts of ``reliability.json`` other modules read (``raw`` holds the whole document).

    Attributes:
        values: per value, its G coefficient, verdict and profile.
        n_roles: respondents (unsteered role conditions).
        acquiescence: mean unkeyed answer over roles (+1 = yes to everything), or None.
        roles_differ_in_acquiescence: the F test of roles on the unkeyed answers, or None.
        summary: the analysis's own summary lines.
        scoring: the response-bias scoring used.
        acquiescence_g: G coefficient of the all-item acquiescence index over roles, or None.
        manipulation: the steering manipulation checks, one per steered setting.
    """

    values: Mapping[str, ValueReliabilityRecord]
    n_roles: int
    acquiescence: float | None = None
    roles_differ_in_acquiescence: bool | None = None
    summary: list[str] = field(default_factory=list)
    scoring: str = "raw"
    raw: Mapping[str, Any] = field(default_factory=dict)
    acquiescence_g: float | None = None
    manipulation: tuple[ManipulationCheck, ...] = ()

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

    def values_without_signal(self) -> list[str]:
        """Names of the values without signal (in the file's order)."""
        return [v for v, r in self.values.items() if not r.signal]

    def acquiescence_roles_text(self) -> str:
        """Whether roles differ in acquiescence, e.g. ``roles differ in it with G 1.00`` (``""`` when unknown)."""
        if self.roles_differ_in_acquiescence is None:
            return ""
        g = "" if self.acquiescence_g is None else f" with G {self.acquiescence_g:.2f}"
        return f"roles differ in it{g}" if self.roles_differ_in_acquiescence else f"roles do not differ in it{g}"

    def acquiescence_text(self) -> str:
        """The acquiescence in words, e.g. ``acquiescence -0.79, roles differ in it with G 1.00``."""
        if self.acquiescence is None or not math.isfinite(self.acquiescence):
            return "acquiescence n/a"
        roles = self.acquiescence_roles_text()
        return f"acquiescence {self.acquiescence:+.2f}" + (f", {roles}" if roles else "")

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
                   str(scoring.get("name", "raw")) if isinstance(scoring, Mapping) else str(scoring), dict(d),
                   optional_float(roles.get("g")),
                   tuple(ManipulationCheck.from_dict(m) for m in d.get("manipulation") or () if isinstance(m, Mapping)))


def read_reliability(folder: Path) -> ReliabilityResult | None:
    """``reliability.json`` in ``folder``, or None."""
    d = read_json_object(Path(folder) / RELIABILITY_FILE)
    if d is None or d.get("format") != RELIABILITY_FORMAT:
        return None
    return ReliabilityResult.from_dict(d)


__all__ = ["DoseCheck", "Estimate", "ManipulationCheck", "ProfileRecord", "RELIABILITY_FORMAT", "ReliabilityResult",
           "ValueReliabilityRecord", "read_reliability"]
