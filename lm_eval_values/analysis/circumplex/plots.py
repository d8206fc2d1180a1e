"""The plots of a comparison with the human Schwartz structure (PNG bytes, deterministic, nothing written).

``distance_curve.png`` (mean correlation by circular distance, humans vs the model), ``mds.png``
(2-D MDS configurations rotated onto the theoretical circle) and ``correlations.png`` (human, model
and difference heatmaps in circle order).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lm_eval_values.analysis.circumplex.compare import HumanComparison, p_text
from lm_eval_values.analysis.circumplex.mds import MDSConfiguration
from lm_eval_values.core.png import figure_png

PLOT_NAMES = ("distance_curve.png", "mds.png", "correlations.png")

#: Higher-order group colours for plots (Schwartz 1992).
GROUP_COLOURS: dict[str, str] = {
    "Self-Direction": "#e69f00", "Stimulation": "#e69f00", "Hedonism": "#cc79a7",
    "Achievement": "#d55e00", "Power": "#d55e00",
    "Security": "#0072b2", "Conformity": "#0072b2", "Tradition": "#0072b2",
    "Benevolence": "#009e73", "Universalism": "#009e73",
}
GROUP_LEGEND = (("Openness to change", "#e69f00"), ("Hedonism (shared)", "#cc79a7"),
                ("Self-enhancement", "#d55e00"), ("Conservation", "#0072b2"), ("Self-transcendence", "#009e73"))


def _png(fig: Any) -> bytes:
    return figure_png(fig, dpi=130)


def plot_distance_curves(res: HumanComparison) -> bytes:
    """PNG: mean correlation by circular distance, humans vs the model."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.6, 4.3))
    xs = sorted(res.human_distance_curve)
    ax.axhline(0, color="0.75", lw=0.8)
    ax.plot(xs, [res.human_distance_curve[x] for x in xs], "o-", color="black", lw=2,
            label=f"humans (PVQ-40, n = 151): CI = {res.human_rthor.ci:.3f}, p = {p_text(res.human_rthor.p_value)}")
    boot = res.bootstrap or {}
    interval = f" [{boot['ci'][0]:.2f}, {boot['ci'][1]:.2f}]" if boot.get("ci") else ""
    ax.plot(xs, [res.distance_curve[x] for x in xs], "s-", color="#d55e00", lw=2,
            label=f"model ({res.n_rows} rows): CI = {res.rthor.ci:.3f}{interval}, p = {p_text(res.rthor.p_value)}")
    if boot.get("distance_curve"):
        band = np.array([boot["distance_curve"][str(x)] for x in xs])
        ax.fill_between(xs, band[:, 0], band[:, 1], color="#d55e00", alpha=0.15, lw=0,
                        label=f"model {100 * boot['level']:.0f}% bootstrap band ({boot['n_boot']} resamples of rows)")
    notes = {0: "\nTR/CO wedge", 1: "\nneighbours", max(xs): "\nopposite"}
    ax.set_xticks(xs, [f"{x}{notes.get(x, '')}" for x in xs])
    ax.set_xlabel("distance on the Schwartz circle")
    ax.set_ylabel("mean correlation")
    centering = "MRAT-centered" if res.centering == "mrat" else "uncentered"
    ax.set_title(f"Correlation by circular distance ({centering})")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def _mds_panel(ax: Any, conf: MDSConfiguration, title: str, abbrev: dict[str, str]) -> None:
    fitted = conf.circle["rotated"]  # rotated onto the circle, unit norm like the circle itself
    target_r = float(np.sqrt(1.0 / len(conf.values)))  # radius of the unit-norm standardized circle
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(target_r * np.cos(t), target_r * np.sin(t), ls="--", color="0.7", lw=1)
    loop = np.vstack([fitted, fitted[:1]])
    ax.plot(loop[:, 0], loop[:, 1], color="0.6", lw=0.8)
    for name, (x, y) in zip(conf.values, fitted):
        ax.scatter([x], [y], s=60, color=GROUP_COLOURS.get(name, "black"), zorder=3)
        ax.annotate(f"{name} ({abbrev.get(name, '')})", (x, y), xytext=(6 * np.sign(x or 1), 4),
                    textcoords="offset points", ha="left" if x >= 0 else "right", fontsize=8)
    lim = max(0.55, float(np.abs(fitted).max()) * 1.35)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    c = conf.circle
    ax.set_title(f"{title}\nstress-1 {conf.stress1:.3f}, circle disparity {c['disparity']:.3f}, "
                 f"order {'kept' if c['cyclic_order_matches'] else 'broken'}", fontsize=9)


def plot_mds(res: HumanComparison, abbrev: dict[str, str]) -> bytes:
    """PNG: 2-D MDS configurations of humans and model, each rotated onto the theoretical circle."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 2, figsize=(11.5, 5.8))
    _mds_panel(axes[0], res.human_mds, "Humans (PVQ-40, n = 151)", abbrev)
    _mds_panel(axes[1], res.mds, f"Model ({res.n_rows} rows); Procrustes to humans "
                                 f"{res.mds_to_human_disparity:.3f}", abbrev)
    handles = [Line2D([], [], marker="o", ls="", color=c, label=n) for n, c in GROUP_LEGEND]
    handles.append(Line2D([], [], ls="--", color="0.7", label="theoretical circle"))
    handles.append(Line2D([], [], color="0.6", lw=0.8, label="values joined in theoretical order"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Metric MDS of value correlations, Procrustes-fitted to the Schwartz circle", fontsize=11)
    fig.subplots_adjust(bottom=0.1, wspace=0.15)
    return _png(fig)


def _heatmap(ax: Any, m: np.ndarray, labels: list[str], title: str, vmax: float) -> Any:
    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.85")
    shown = np.array(m, dtype=float)
    np.fill_diagonal(shown, np.nan)
    im = ax.imshow(shown, cmap=cmap, vmin=-vmax, vmax=vmax)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if i != j:
                ax.text(j, i, f"{m[i, j]:.2f}".replace("0.", ".", 1), ha="center", va="center", fontsize=6,
                        color="white" if abs(m[i, j]) > 0.6 * vmax else "black")
    ax.set_title(title, fontsize=10)
    return im


def plot_correlations(res: HumanComparison, abbrev: dict[str, str]) -> bytes:
    """PNG: human, model and model-minus-human correlation heatmaps (circle order)."""
    import matplotlib.pyplot as plt

    labels = [abbrev.get(v, v) for v in res.values]
    human = res.human_correlation.loc[list(res.values), list(res.values)].to_numpy()
    model = res.correlation.loc[list(res.values), list(res.values)].to_numpy()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.9), layout="constrained")
    _heatmap(axes[0], human, labels, "Humans (PVQ-40, n = 151)", 1.0)
    im = _heatmap(axes[1], model, labels, f"Model ({res.n_rows} rows)", 1.0)
    fig.colorbar(im, ax=axes[1], shrink=0.8, label="r")
    im2 = _heatmap(axes[2], model - human, labels,
                   f"Model - humans (r = {res.similarity['r_offdiag']:.2f}, RMSE = {res.similarity['rmse']:.2f})",
                   max(0.2, float(np.abs(model - human).max())))
    fig.colorbar(im2, ax=axes[2], shrink=0.8, label="difference")
    centering = "MRAT-centered" if res.centering == "mrat" else "uncentered"
    fig.suptitle(f"Value correlations ({centering}), values in circle order", fontsize=11)
    return _png(fig)


def render_plots(res: HumanComparison, abbrev: dict[str, str]) -> dict[str, bytes]:
    """All plots as ``{file name: PNG bytes}`` (matplotlib Agg, nothing written)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    return {"distance_curve.png": plot_distance_curves(res), "mds.png": plot_mds(res, abbrev),
            "correlations.png": plot_correlations(res, abbrev)}
