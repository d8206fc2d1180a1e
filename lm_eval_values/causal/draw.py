"""PNG drawing of a :class:`ValueGraph` with matplotlib (Agg backend, no display needed).

Values sit on a circle (knob nodes on an outer ring); edge style encodes the kind (directed:
solid arrow; undirected: solid line; bidirected: dashed double arrow; PAG circle marks: open
circles at the ends); edge width encodes the bootstrap frequency when edges carry ``freq``. An
edge with the attribute ``orientation_unstable`` (see :func:`lm_eval_values.causal.stage_files.drawn_graph`)
is drawn as a dashed line without arrowhead: the resamples do not support its orientation.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from lm_eval_values.core.png import figure_png
from lm_eval_values.causal.graph import ARROW, CIRCLE, ValueGraph  # noqa: E402

_STYLE = {
    "-->": dict(color="#1f4e79", linestyle="-"),
    "---": dict(color="#d9822b", linestyle="-"),
    "<->": dict(color="#b03a2e", linestyle="--"),
    "o->": dict(color="#6c3483", linestyle="-"),
    "o-o": dict(color="#7f8c8d", linestyle="-"),
    "--o": dict(color="#7f8c8d", linestyle="-"),
}
_LEGEND = {"-->": "directed", "---": "undirected", "<->": "bidirected", "o->": "o-> (PAG)",
           "o-o": "o-o (PAG)", "--o": "--o (PAG)"}
#: style and legend of an edge whose orientation the bootstrap does not support
UNSTABLE = "unstable"
_STYLE[UNSTABLE] = dict(color="#5d6d7e", linestyle="--")
_LEGEND[UNSTABLE] = "orientation not stable (no arrowhead)"


def circle_layout(graph: ValueGraph) -> dict[str, tuple[float, float]]:
    """Values evenly on the unit circle (clockwise from the top, in node order); knobs on radius 1.6."""
    values = [n for n, k in graph.node_kinds.items() if k != "knob"]
    knobs = [n for n, k in graph.node_kinds.items() if k == "knob"]
    pos: dict[str, tuple[float, float]] = {}
    for ring, radius in ((values, 1.0), (knobs, 1.6)):
        for i, n in enumerate(ring):
            a = math.pi / 2 - 2 * math.pi * i / max(len(ring), 1)
            pos[n] = (radius * math.cos(a), radius * math.sin(a))
    return pos


def _style_key(graph: ValueGraph, u: str, v: str, kind: str) -> str:
    return UNSTABLE if graph.edge_attrs(u, v).get("orientation_unstable") else kind


def render_png(graph: ValueGraph, title: str | None = None, size: float = 10.0, dpi: int = 130,
               labels: Mapping[str, str] | None = None, notes: Sequence[str] = ()) -> bytes:
    """Render ``graph`` to PNG bytes (deterministic for the same input and matplotlib version);
    ``notes`` are extra legend lines (e.g. the arrowhead rule)."""
    pos = circle_layout(graph)
    has_knobs = any(k == "knob" for k in graph.node_kinds.values())
    xlim, ylim = (2.1, 1.95) if has_knobs else (1.62, 1.3)
    fig, ax = plt.subplots(figsize=(size, size * ylim / xlim), dpi=dpi)
    ax.set_xlim(-xlim, xlim)
    ax.set_ylim(-ylim, ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    node_r = 0.045
    used_kinds: list[str] = []
    any_freq = False
    for e in graph.edges():
        key = _style_key(graph, e.u, e.v, e.kind)
        st = _STYLE[key]
        if key not in used_kinds:
            used_kinds.append(key)
        freq = graph.edge_attrs(e.u, e.v).get("freq")
        if isinstance(freq, (int, float)) and math.isfinite(freq):
            any_freq = True
            width = 0.4 + 3.6 * float(freq)
            alpha = 0.35 + 0.65 * float(freq)
        else:
            width, alpha = 1.6, 0.85
        head = "-|>" if e.mark_v == ARROW else "-"
        if e.mark_u == ARROW and e.mark_v == ARROW:
            head = "<|-|>"
        elif e.mark_u == ARROW:
            head = "<|-"
        (x1, y1), (x2, y2) = pos[e.u], pos[e.v]
        patch = FancyArrowPatch((x1, y1), (x2, y2), arrowstyle=head, mutation_scale=16,
                                shrinkA=14, shrinkB=14, connectionstyle="arc3,rad=0.06",
                                linewidth=width, alpha=alpha, zorder=1, **st)
        ax.add_patch(patch)
        for end, mark, (xa, ya), (xb, yb) in ((e.u, e.mark_u, (x1, y1), (x2, y2)), (e.v, e.mark_v, (x2, y2), (x1, y1))):
            if mark == CIRCLE:
                d = math.hypot(xb - xa, yb - ya) or 1.0
                t = 0.085 / d
                ax.plot(xa + (xb - xa) * t, ya + (yb - ya) * t, marker="o", markersize=6, markerfacecolor="white",
                        markeredgecolor=st["color"], zorder=3)
    for n, (x, y) in pos.items():
        knob = graph.node_kinds.get(n) == "knob"
        ax.add_patch(plt.Circle((x, y), node_r * (0.7 if knob else 1.0), facecolor="#f5b041" if knob else "#d6eaf8",
                                edgecolor="#1b2631", linewidth=1.2, zorder=4))
        ang = math.atan2(y, x)
        r = math.hypot(x, y) + 0.09
        lx, ly = r * math.cos(ang), r * math.sin(ang)
        ha = "left" if math.cos(ang) > 0.15 else "right" if math.cos(ang) < -0.15 else "center"
        va = "bottom" if math.sin(ang) > 0.5 else "top" if math.sin(ang) < -0.5 else "center"
        ax.text(lx, ly, (labels or {}).get(n, n), ha=ha, va=va, fontsize=11 if not knob else 7,
                color="#1b2631", zorder=5)
    handles = [Line2D([0], [0], color=_STYLE[k]["color"], linestyle=_STYLE[k]["linestyle"], linewidth=2,
                      label=f"{_LEGEND[k]} ({sum(1 for e in graph.edges() if _style_key(graph, e.u, e.v, e.kind) == k)})")
               for k in used_kinds]
    if any_freq:
        for f in (0.25, 0.5, 1.0):
            handles.append(Line2D([0], [0], color="#555555", linewidth=0.4 + 3.6 * f, label=f"bootstrap freq {f:.2f}"))
    handles += [Line2D([0], [0], color="none", label=n) for n in notes]
    if handles:
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(-0.02, -0.02), frameon=False, fontsize=9)
    if title:
        ax.set_title(title, fontsize=13)
    fig.tight_layout()
    return figure_png(fig, dpi=dpi, tight=False)
