"""Settings of the graph stage (:func:`lm_eval_values.causal.stage.run_graph`), shared by the study's
``graph:`` section and the ``graph`` command.

Flat keys (the study config section and :meth:`GraphStageSettings.to_dict` use the same names)::

    algo: pc                 # pc | fci | ges
    alpha: 0.05
    indep_test: fisherz
    stable: true             # order-independent PC skeleton
    max_depth: null          # largest conditioning set
    unit: rows               # rows | role_means (one row per role)
    sample_size: effective   # effective | rows | a number | {mode, combine, design, centering}
    jci: steering            # none | steering | roles | all: conditions as JCI context variables
    background: null         # {forbidden: [[u, v]], required: [...], tiers: [[...]]}
    bootstrap: 100           # resamples (0 = none)
    bootstrap_scheme: subsample   # subsample | resample | resample-duplicates
    bootstrap_fraction: 0.5  # share of roles per subsample
    threshold: 0.5           # adjacency frequency of a consensus edge
    orientation_threshold: 0.8    # orientation frequency an arrowhead needs (drawing, consensus); null = off
    policy: possible         # how non-directed edges are read for descendants (directed | possible | study)
    split: train             # rows of this split (null = all)
    keep_steer: null         # steering ids to keep (id = every dose, id@coef = one dose)
    columns: null            # value columns to use
    standardize: false       # z-score the value columns first
    doses: true              # each dose of a setting its own steering id (id@coef)
    seed: 0                  # bootstrap seed (the study's top-level seed)

The defaults are the honest settings (effective sample size with the per-pair design effect,
steering settings as JCI contexts, role subsampling); ``sample_size: rows, jci: none,
bootstrap_scheme: resample-duplicates`` reproduces the reference study's procedure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from lm_eval_values.causal.graph import POLICIES
from lm_eval_values.causal.settings import BootstrapSettings, DiscoverySettings
from lm_eval_values.core.errors import UserError, settings_dict
from lm_eval_values.matrix.selection import RowSelection

#: the one default of every ``policy`` option (graph, side effects, study)
DEFAULT_POLICY = "possible"
_DISCOVERY_KEYS = ("algo", "alpha", "indep_test", "stable", "max_depth", "unit", "sample_size", "jci", "background")
_BOOTSTRAP_KEYS = {"bootstrap": "n_boot", "bootstrap_scheme": "scheme", "bootstrap_fraction": "fraction",
                   "threshold": "threshold", "orientation_threshold": "orientation_threshold"}
_OTHER_KEYS = ("policy", "split", "keep_steer", "columns", "standardize", "doses", "seed")
GRAPH_KEYS: tuple[str, ...] = (*_DISCOVERY_KEYS, *_BOOTSTRAP_KEYS, *_OTHER_KEYS)


def _flat_field(field_name: str) -> str:
    """``bootstrap.scheme`` -> ``graph.bootstrap_scheme``; ``alpha`` -> ``graph.alpha``."""
    name = field_name.split(".", 1)[1] if field_name.startswith(("graph.", "bootstrap.")) else field_name
    if field_name.startswith("bootstrap."):
        name = next((k for k, v in _BOOTSTRAP_KEYS.items() if v == name), name)
    return f"graph.{name}"


@dataclass(frozen=True)
class GraphStageSettings:
    """How the graph stage selects rows, fits, resamples and reads a graph (see the module docstring).

    Attributes:
        discovery: how one graph is fitted (honest by default).
        bootstrap: how its stability is measured (``n_boot = 0``: no resampling).
        rows: which rows of the matrix are used.
        policy: how non-directed edges are read for descendant sets (``descendants.json``,
            descendant probabilities over resamples).
        columns: value columns to use (None: all).
        standardize: z-score the value columns first.
        doses: relabel steered rows ``<id>@<coefficient>`` (each dose its own JCI context).
    """

    discovery: DiscoverySettings = field(default_factory=DiscoverySettings)
    bootstrap: BootstrapSettings = field(default_factory=lambda: BootstrapSettings(n_boot=100))
    rows: RowSelection = field(default_factory=RowSelection)
    policy: str = DEFAULT_POLICY
    columns: tuple[str, ...] | None = None
    standardize: bool = False
    doses: bool = True

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise UserError("graph.policy", f"unknown policy {self.policy!r}", f"use one of: {', '.join(POLICIES)}")
        if self.policy == "study" and self.discovery.algo == "fci":
            raise UserError("graph.policy", "the study policy reads CPDAGs only, FCI gives a PAG",
                            "use policy possible or directed with FCI")
        for name in ("standardize", "doses"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"graph.{name}", f"{getattr(self, name)!r} is not true/false", "use true or false")
        if self.columns is not None:
            if isinstance(self.columns, str) or not all(isinstance(c, str) for c in self.columns):
                raise UserError("graph.columns", f"must be a list of value names, got {self.columns!r}",
                                "e.g. [Power, Achievement]")
            object.__setattr__(self, "columns", tuple(self.columns))

    @classmethod
    def study(cls, **changes: Any) -> "GraphStageSettings":
        """The reference study's procedure: every row counted, no contexts, roles resampled with duplicates."""
        base = cls(discovery=DiscoverySettings.study(), bootstrap=BootstrapSettings.study(100))
        return replace(base, **changes)

    @property
    def seed(self) -> int:
        """The bootstrap seed."""
        return self.bootstrap.seed

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict with the study config's keys (round-trips through :meth:`from_dict`)."""
        d = self.discovery.to_dict()
        d["jci"] = self.discovery.jci.contexts
        b = self.bootstrap
        d.update({"bootstrap": int(b.n_boot), "bootstrap_scheme": b.scheme, "bootstrap_fraction": b.fraction,
                  "threshold": b.threshold, "orientation_threshold": b.orientation_threshold, "seed": int(b.seed),
                  "policy": self.policy, "columns": None if self.columns is None else list(self.columns),
                  "standardize": self.standardize, "doses": self.doses, **self.rows.to_dict()})
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base: "GraphStageSettings | None" = None) -> "GraphStageSettings":
        """Settings from flat keys; keys not given keep ``base``'s values (default: the honest defaults).
        Unknown keys and bad values raise :class:`UserError` naming ``graph.<key>``."""
        merged = {**(base or cls()).to_dict(), **settings_dict(d, GRAPH_KEYS, "graph")}
        try:
            discovery = DiscoverySettings.from_dict({k: merged[k] for k in _DISCOVERY_KEYS})
            boot_kw = {v: merged[k] for k, v in _BOOTSTRAP_KEYS.items()}
            seed = merged["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise UserError("graph.seed", f"{seed!r} is not a whole number >= 0", "e.g. 0")
            n_boot = boot_kw["n_boot"]
            if isinstance(n_boot, bool) or not isinstance(n_boot, int):
                raise UserError("graph.bootstrap", f"{n_boot!r} is not a whole number", "use 0 (none) or e.g. 100")
            bootstrap = BootstrapSettings(seed=seed, descendant_policy=merged["policy"]
                                          if merged["policy"] in POLICIES else "possible", **boot_kw)
            rows = RowSelection.from_dict(merged, "graph.")
            return cls(discovery, bootstrap, rows, merged["policy"], merged["columns"], merged["standardize"],
                       merged["doses"])
        except UserError as exc:
            if exc.field.startswith("graph.") and exc.field.split(".", 1)[1] in GRAPH_KEYS:
                raise
            raise UserError(_flat_field(exc.field), exc.problem, exc.fix) from None
        except (TypeError, ValueError) as exc:
            raise UserError("graph", f"bad setting ({exc})", "check the graph settings") from None


__all__ = ["DEFAULT_POLICY", "GRAPH_KEYS", "GraphStageSettings"]
