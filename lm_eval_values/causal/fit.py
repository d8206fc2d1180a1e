"""One call per analysis step for the ``graph`` command and the study.

* :func:`fit_graph` -- one graph under :class:`~lm_eval_values.causal.settings.DiscoverySettings`,
  with the sample-size estimate and the JCI intervention targets;
* :func:`bootstrap_graph` -- its stability under
  :class:`~lm_eval_values.causal.settings.BootstrapSettings`;
* :func:`edges_by_sample_size` -- edge counts of the same data at several sample sizes (e.g.
  ``rows`` vs ``effective``), for reports that show both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from lm_eval_values.causal.bootstrap import BootstrapResult, bootstrap
from lm_eval_values.causal.discovery import discover
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.jci import intervention_targets, steering_id_of
from lm_eval_values.causal.sample_size import EffectiveSampleSize, SampleSizeSetting, effective_sample_size, role_means
from lm_eval_values.causal.settings import BootstrapSettings, DiscoverySettings
from lm_eval_values.matrix.value_matrix import ValueMatrix


@dataclass
class GraphFit:
    """Outcome of :func:`fit_graph`.

    Attributes:
        graph: the learned graph (values, plus context nodes ``steer=<id>``/``role=<id>`` under JCI).
        settings: the settings used.
        n_rows: rows of the analysed matrix (roles under ``unit: role_means``).
        n_roles: distinct roles.
        effective: the effective-sample-size estimate (None for ``rows`` or a given number).
        targets: ``{steering id: [values it hits directly]}`` under JCI (empty otherwise).
        notes: what was adapted (e.g. JCI skipped for a single steering setting).
        elapsed_s: seconds spent fitting (not part of :meth:`to_dict`).
    """

    graph: ValueGraph
    settings: DiscoverySettings
    n_rows: int
    n_roles: int
    effective: EffectiveSampleSize | None = None
    targets: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def value_graph(self) -> ValueGraph:
        """The graph restricted to the value nodes (context nodes and their edges removed)."""
        return self.graph.subgraph([n for n, k in self.graph.node_kinds.items() if k == "value"])

    def to_dict(self) -> dict[str, Any]:
        """Deterministic JSON-ready summary (graph counts, sample size, targets, settings)."""
        values = self.value_graph()
        return {"settings": self.settings.to_dict(), "n_rows": self.n_rows, "n_roles": self.n_roles,
                "n_edges": self.graph.n_edges, "counts": self.graph.count_by_kind(),
                "n_value_edges": values.n_edges, "value_counts": values.count_by_kind(),
                "sample_size": self.graph.meta.get("sample_size"),
                "effective": None if self.effective is None else self.effective.to_dict(),
                "targets": self.targets, "notes": list(self.notes)}


def _prepare(vm: ValueMatrix, settings: DiscoverySettings) -> tuple[ValueMatrix, bool, list[str]]:
    """The matrix to analyse and whether contexts are used, with notes on what was adapted."""
    notes: list[str] = []
    data = vm
    if settings.unit == "role_means":
        data = role_means(vm)
        if settings.jci.enabled:
            notes.append("jci skipped: role means average over the steering settings")
        return data, False, notes
    use_contexts = settings.jci.enabled
    if use_contexts:
        kinds = settings.jci.contexts
        has_steer = len(vm.steering_ids) >= 2
        has_roles = len(vm.role_ids) >= 2
        if (kinds == "steering" and not has_steer) or (kinds == "roles" and not has_roles) or \
                (kinds == "all" and not (has_steer or has_roles)):
            notes.append(f"jci skipped: no {kinds} contexts (a single condition of that kind)")
            use_contexts = False
    return data, use_contexts, notes


def fit_graph(vm: ValueMatrix, settings: DiscoverySettings | None = None) -> GraphFit:
    """Fit one graph (see :class:`DiscoverySettings`; default: the honest settings)."""
    settings = settings or DiscoverySettings()
    data, use_contexts, notes = _prepare(vm, settings)
    size = settings.sample_size
    if size.mode == "effective" and not data.has_roles():
        notes.append("sample size: a single role, every row counted")
        size = SampleSizeSetting("rows")
        settings = replace(settings, sample_size=size)
    t0 = time.perf_counter()
    graph = discover(data, **settings.discover_kwargs(use_contexts))
    elapsed = time.perf_counter() - t0
    effective = None
    if size.mode == "effective":
        steering_contexts = use_contexts and settings.jci.contexts in ("steering", "all")
        effective = effective_sample_size(data, size.combine, size.design, size.centering_for(steering_contexts))
    targets = {steering_id_of(c): vs for c, vs in intervention_targets(graph).items() if c.startswith("steer=")}
    return GraphFit(graph, settings, data.n_rows, len(vm.role_ids), effective, targets, notes, elapsed)


def bootstrap_graph(vm: ValueMatrix, settings: DiscoverySettings | None = None,
                    boot: BootstrapSettings | None = None) -> BootstrapResult:
    """Resample ``vm`` under ``boot`` and refit each resample under ``settings``."""
    settings = settings or DiscoverySettings()
    boot = boot or BootstrapSettings()
    data, use_contexts, _ = _prepare(vm, settings)
    kw = settings.discover_kwargs(use_contexts)
    if settings.sample_size.mode == "effective" and not data.has_roles():
        kw["sample_size"] = "rows"
    return bootstrap(data, n_boot=max(1, boot.n_boot), seed=boot.seed, n_jobs=boot.n_jobs,
                     unit="role" if data.has_roles() and settings.unit == "rows" else "row",
                     scheme=boot.scheme, fraction=boot.fraction, **kw)


def edges_by_sample_size(vm: ValueMatrix, settings: DiscoverySettings | None = None,
                         sizes: Sequence[SampleSizeSetting | str | float] = ("rows", "effective")) -> dict[str, Any]:
    """``{label: {"n", "n_value_edges", "value_counts", "targets"}}`` per sample size, other settings unchanged."""
    settings = settings or DiscoverySettings()
    out: dict[str, Any] = {}
    for s in sizes:
        setting = SampleSizeSetting.parse(s)
        fit = fit_graph(vm, replace(settings, sample_size=setting))
        label = setting.mode if isinstance(setting.mode, str) else f"n={setting.mode:g}"
        if setting.mode == "effective":
            label = f"effective ({setting.design})"
        values = fit.value_graph()
        out[label] = {"n": fit.graph.meta.get("sample_size", {}).get("n"), "n_value_edges": values.n_edges,
                      "value_counts": values.count_by_kind(), "targets": fit.targets}
    return out


__all__ = ["GraphFit", "bootstrap_graph", "edges_by_sample_size", "fit_graph"]
