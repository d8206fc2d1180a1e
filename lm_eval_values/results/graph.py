"""The graph stage's record (``result.json`` of ``RUN/<model>/graph/`` or of ``lm-eval-values graph --out``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.core.files import RESULT_FILE
from lm_eval_values.results.records import optional_float, read_json_object

GRAPH_RESULT_FORMAT = "lm-eval-values/graph-result"
GRAPH_RESULT_VERSION = 1


@dataclass(frozen=True)
class GraphEdgeRecord:
    """One value-value edge of the point graph.

    Attributes:
        u, v: endpoints (canonical order); kind: ``-->``, ``---``, ``<->``, ``o->``, ...
        freq: share of bootstrap resamples in which u and v are adjacent (None without bootstrap).
        orient_freq: share of ALL resamples with this edge kind.
        orientation_stability: share of the resamples where the pair is adjacent that give this kind.
        drawn: the kind drawn (``---`` where an arrowhead is not supported by the resamples).
    """

    u: str
    v: str
    kind: str
    freq: float | None = None
    orient_freq: float | None = None
    orientation_stability: float | None = None
    drawn: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"u": self.u, "v": self.v, "kind": self.kind, "freq": self.freq, "orient_freq": self.orient_freq,
                "orientation_stability": self.orientation_stability, "drawn": self.drawn or self.kind}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "GraphEdgeRecord":
        """Inverse of :meth:`to_dict`."""
        return cls(str(d["u"]), str(d["v"]), str(d["kind"]), optional_float(d.get("freq")),
                   optional_float(d.get("orient_freq")), optional_float(d.get("orientation_stability")),
                   d.get("drawn"))


@dataclass(frozen=True)
class GraphResult:
    """What the graph stage found (everything but the graph files themselves).

    Attributes:
        settings: the stage settings (:meth:`GraphStageSettings.to_dict`).
        rows: the rows used: ``split``, ``keep_steer``, ``n_rows``, ``n_roles``, ``steering_ids``.
        values: value names (graph nodes besides contexts).
        matrix_sha256: digest of the analysed rows (meta and scores as CSV).
        n_edges, counts, edges: the value-value edges of the point graph.
        sample_size: Fisher-z n used: ``mode``, ``n`` (the median pair's n for the pairwise design),
            ``n_rows``, ``effective`` (the estimate: ICCs, design effect) or None.
        edges_by_sample_size: ``{"rows": {"n", "n_edges", "counts"}, "effective": {...}}``: the same
            data and settings at both sample sizes.
        targets: JCI intervention targets ``{steering id: [values it hits directly]}``.
        bootstrap: resampling summary (``n_boot``, ``n_ok``, ``scheme``, ``fraction``, ``threshold``,
            ``orientation_threshold``, ...) or None.
        descendants_policy: how ``descendants.json`` reads non-directed edges.
        notes: what was adapted, in words.
        versions: versions of the packages that determine the result.
        skipped_reason: why no graph was fitted (degenerate data), or None.
    """

    settings: Mapping[str, Any]
    rows: Mapping[str, Any]
    values: list[str] = field(default_factory=list)
    matrix_sha256: str | None = None
    n_edges: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    edges: list[GraphEdgeRecord] = field(default_factory=list)
    sample_size: Mapping[str, Any] | None = None
    edges_by_sample_size: Mapping[str, Any] = field(default_factory=dict)
    targets: Mapping[str, list[str]] = field(default_factory=dict)
    bootstrap: Mapping[str, Any] | None = None
    descendants_policy: str | None = None
    notes: list[str] = field(default_factory=list)
    versions: Mapping[str, str] = field(default_factory=dict)
    skipped_reason: str | None = None

    @property
    def skipped(self) -> bool:
        """True when no graph was fitted."""
        return self.skipped_reason is not None

    @property
    def n_rows(self) -> int | None:
        """Rows the graph was fitted on."""
        return self.rows.get("n_rows")

    def n_edges_at(self, sample_size: str) -> int | None:
        """Value edges at ``rows`` or ``effective`` sample size (None when not computed)."""
        entry = self.edges_by_sample_size.get(sample_size) or {}
        return entry.get("n_edges")

    def n_stable_edges(self, threshold: float = 0.5) -> int:
        """Edges present in at least ``threshold`` of the resamples."""
        return sum(1 for e in self.edges if (e.freq or 0.0) >= threshold)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the file's content)."""
        d: dict[str, Any] = {"format": GRAPH_RESULT_FORMAT, "version": GRAPH_RESULT_VERSION, "stage": "graph",
                             "settings": dict(self.settings), "rows": dict(self.rows), "values": list(self.values),
                             "matrix_sha256": self.matrix_sha256, "notes": list(self.notes),
                             "versions": dict(self.versions)}
        if self.skipped_reason is not None:
            return {**d, "skipped_reason": self.skipped_reason}
        return {**d, "n_edges": self.n_edges, "counts": dict(self.counts), "edges": [e.to_dict() for e in self.edges],
                "sample_size": self.sample_size, "edges_by_sample_size": dict(self.edges_by_sample_size),
                "targets": {k: list(v) for k, v in self.targets.items()}, "bootstrap": self.bootstrap,
                "descendants_policy": self.descendants_policy}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "GraphResult":
        """Inverse of :meth:`to_dict`."""
        return cls(settings=dict(d.get("settings") or {}), rows=dict(d.get("rows") or {}),
                   values=[str(v) for v in d.get("values") or []], matrix_sha256=d.get("matrix_sha256"),
                   n_edges=d.get("n_edges"), counts=dict(d.get("counts") or {}),
                   edges=[GraphEdgeRecord.from_dict(e) for e in d.get("edges") or []],
                   sample_size=d.get("sample_size"), edges_by_sample_size=dict(d.get("edges_by_sample_size") or {}),
                   targets={str(k): list(v) for k, v in (d.get("targets") or {}).items()},
                   bootstrap=d.get("bootstrap"), descendants_policy=d.get("descendants_policy"),
                   notes=list(d.get("notes") or []), versions=dict(d.get("versions") or {}),
                   skipped_reason=d.get("skipped_reason"))


def read_graph_result(folder: Path) -> GraphResult | None:
    """The graph record in ``folder`` (a graph stage or ``graph --out`` folder), or None."""
    d = read_json_object(Path(folder) / RESULT_FILE)
    if d is None or d.get("format") != GRAPH_RESULT_FORMAT:
        return None
    return GraphResult.from_dict(d)


__all__ = ["GRAPH_RESULT_FORMAT", "GraphEdgeRecord", "GraphResult", "read_graph_result"]
