"""Typed settings of a causal analysis, shared by the ``graph`` command and the study.

:class:`DiscoverySettings` says how one graph is fitted, :class:`BootstrapSettings` how its
stability is measured. Both have honest defaults (effective sample size, JCI with steering
contexts, role subsampling without replacement) and a ``study()`` constructor with the
reference study's exact procedure (every row counted, steered rows pooled as observations,
roles resampled with replacement and duplicates counted). ``to_dict`` / ``from_dict`` round-trip
through JSON/YAML; unknown keys and bad values raise :class:`~lm_eval_values.core.errors.UserError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from lm_eval_values.causal.background import Background, parse_background
from lm_eval_values.causal.discovery import ALGOS, INDEP_TESTS, check_discovery_options
from lm_eval_values.causal.graph import POLICIES
from lm_eval_values.causal.jci import JCISetting
from lm_eval_values.causal.resample import SCHEMES
from lm_eval_values.causal.sample_size import SampleSizeSetting
from lm_eval_values.core.errors import UserError

#: unit of analysis: every row, or one row per role (mean over its rows)
UNITS = ("rows", "role_means")


def _check_keys(d: Mapping[str, Any], cls: type, where: str) -> None:
    if not isinstance(d, Mapping):
        raise UserError(where, f"must be a mapping, got {type(d).__name__}", "give key: value pairs")
    known = {f.name for f in fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise UserError(where, f"unknown key(s) {sorted(unknown)}", f"use some of: {', '.join(sorted(known))}")


def _prob(x: Any, where: str, closed: bool = False) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise UserError(where, f"{x!r} is not a number", "use e.g. 0.5") from None
    if not (0.0 < v < 1.0 or (closed and v == 1.0)):
        raise UserError(where, f"{v} is not in (0, {'1]' if closed else '1)'}", "use e.g. 0.5")
    return v


@dataclass(frozen=True)
class DiscoverySettings:
    """How one causal graph is fitted.

    Attributes:
        algo: ``pc`` or ``fci`` (``ges`` takes neither sample size nor contexts).
        alpha: significance level of the independence tests.
        indep_test: causal-learn test name (``fisherz`` for the sample-size options).
        stable: order-independent PC skeleton.
        max_depth: largest conditioning set (None = unlimited).
        unit: ``rows`` or ``role_means`` (role-level aggregation; contexts are then dropped).
        sample_size: see :class:`~lm_eval_values.causal.sample_size.SampleSizeSetting`.
        jci: see :class:`~lm_eval_values.causal.jci.JCISetting`; skipped (and recorded) when the
            rows hold a single steering setting.
        background: forbidden / required edges and tiers over value names (PC and FCI), or None.
    """

    algo: str = "pc"
    alpha: float = 0.05
    indep_test: str = "fisherz"
    stable: bool = True
    max_depth: int | None = None
    unit: str = "rows"
    sample_size: SampleSizeSetting = field(default_factory=SampleSizeSetting)
    jci: JCISetting = field(default_factory=JCISetting)
    background: Background | None = None

    def __post_init__(self) -> None:
        if self.background is not None and not isinstance(self.background, Background):
            object.__setattr__(self, "background", parse_background(self.background))
        if self.algo == "ges" and self.background is not None and not self.background.is_empty():
            raise UserError("background", "causal-learn's GES takes no background knowledge", "use --algo pc or fci")
        check_discovery_options(self.algo, self.alpha, self.indep_test)
        if self.unit not in UNITS:
            raise UserError("unit", f"unknown unit {self.unit!r}", f"use one of: {', '.join(UNITS)}")
        if self.max_depth is not None and (isinstance(self.max_depth, bool) or int(self.max_depth) < 0):
            raise UserError("max_depth", f"{self.max_depth}", "use a non-negative integer or null")
        if self.indep_test != "fisherz" and self.sample_size.mode != "rows":
            raise UserError("sample_size", f"only Fisher-z tests take a sample size ({self.indep_test} was asked)",
                            "use sample_size: rows with this test")
        if self.algo == "ges" and (self.jci.enabled or self.sample_size.mode != "rows"):
            raise UserError("algo", "GES takes no context variables and no sample size",
                            "use pc or fci, or jci: none and sample_size: rows")

    @classmethod
    def study(cls) -> "DiscoverySettings":
        """The reference study: PC, Fisher-z, alpha 0.05, every row counted, no contexts."""
        return cls(sample_size=SampleSizeSetting("rows"), jci=JCISetting("none"))

    def discover_kwargs(self, use_contexts: bool = True) -> dict[str, Any]:
        """Keyword arguments of :func:`lm_eval_values.causal.discovery.discover`."""
        kw: dict[str, Any] = {"algo": self.algo, "alpha": self.alpha, "indep_test": self.indep_test,
                              "stable": self.stable, "max_depth": self.max_depth, "sample_size": self.sample_size}
        if use_contexts and self.jci.enabled:
            kw["exogenous_knobs"] = self.jci.contexts
        if self.background is not None and not self.background.is_empty():
            kw["background"] = self.background
        return kw

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"algo": self.algo, "alpha": self.alpha, "indep_test": self.indep_test, "stable": self.stable,
                "max_depth": self.max_depth, "unit": self.unit, "sample_size": self.sample_size.to_dict(),
                "jci": self.jci.to_dict(), "background": None if self.background is None else self.background.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DiscoverySettings":
        """Inverse of :meth:`to_dict`; ``sample_size`` may also be ``effective``/``rows``/a number
        and ``jci`` a context-set name."""
        _check_keys(d, cls, "graph")
        kw = dict(d)
        if "algo" in kw and kw["algo"] not in ALGOS:
            raise UserError("graph.algo", f"unknown algorithm {kw['algo']!r}", f"use one of: {', '.join(ALGOS)}")
        if "indep_test" in kw and kw["indep_test"] not in INDEP_TESTS:
            raise UserError("graph.indep_test", f"unknown test {kw['indep_test']!r}",
                            f"use one of: {', '.join(INDEP_TESTS)}")
        if "alpha" in kw:
            kw["alpha"] = _prob(kw["alpha"], "graph.alpha")
        if "sample_size" in kw:
            kw["sample_size"] = SampleSizeSetting.parse(kw["sample_size"])
        if "jci" in kw:
            j = kw["jci"]
            kw["jci"] = JCISetting(str(j)) if isinstance(j, str) else JCISetting.from_dict(j)
        if kw.get("background") is not None:
            kw["background"] = Background.from_dict(kw["background"], "graph.background")
        if "stable" in kw and not isinstance(kw["stable"], bool):
            raise UserError("graph.stable", f"{kw['stable']!r} is not true/false", "use true or false")
        return cls(**kw)


@dataclass(frozen=True)
class BootstrapSettings:
    """How graph stability is measured (see :func:`lm_eval_values.causal.bootstrap.bootstrap`).

    Attributes:
        n_boot: resamples (0 = none).
        scheme: ``subsample`` (default), ``resample`` or ``resample-duplicates``.
        fraction: share of roles per subsample.
        seed: master seed.
        n_jobs: worker processes (None = all cores).
        threshold: adjacency frequency an edge needs in the consensus graph.
        orientation_threshold: share of its adjacent resamples an orientation needs to keep its
            arrowhead in the consensus graph (None = keep the modal kind).
        descendant_policy: how resample graphs are read for descendant probabilities.
    """

    n_boot: int = 200
    scheme: str = "subsample"
    fraction: float = 0.5
    seed: int = 0
    n_jobs: int | None = None
    threshold: float = 0.5
    orientation_threshold: float | None = 0.8
    descendant_policy: str = "possible"

    def __post_init__(self) -> None:
        if isinstance(self.n_boot, bool) or int(self.n_boot) < 0:
            raise UserError("bootstrap.n_boot", f"{self.n_boot}", "use 0 (none) or a positive number")
        if self.scheme not in SCHEMES:
            raise UserError("bootstrap.scheme", f"unknown scheme {self.scheme!r}", f"use one of: {', '.join(SCHEMES)}")
        _prob(self.fraction, "bootstrap.fraction")
        _prob(self.threshold, "bootstrap.threshold", closed=True)
        if self.orientation_threshold is not None:
            _prob(self.orientation_threshold, "bootstrap.orientation_threshold", closed=True)
        if self.n_jobs is not None and int(self.n_jobs) < 1:
            raise UserError("bootstrap.n_jobs", f"{self.n_jobs}", "use a positive number or null")
        if self.descendant_policy not in POLICIES:
            raise UserError("bootstrap.descendant_policy", f"unknown policy {self.descendant_policy!r}",
                            f"use one of: {', '.join(POLICIES)}")

    @classmethod
    def study(cls, n_boot: int = 200) -> "BootstrapSettings":
        """This tool's earlier bootstrap: roles with replacement, duplicated rows counted."""
        return cls(n_boot=n_boot, scheme="resample-duplicates", orientation_threshold=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BootstrapSettings":
        """Inverse of :meth:`to_dict` (unknown keys -> UserError)."""
        _check_keys(d, cls, "bootstrap")
        return cls(**dict(d))


__all__ = ["BootstrapSettings", "DiscoverySettings", "UNITS"]
