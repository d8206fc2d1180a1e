"""``lm-eval-values compare-human``: compare a value matrix with human Schwartz PVQ-40 structure.

Usage::

    lm-eval-values compare-human INPUT --out DIR [--centering mrat|none] [--permutations N] [--seed S]

INPUT is a sweep ``matrix.csv`` (or its folder), a study-format CSV, or any CSV whose columns
include the 10 Schwartz values (one row per role or condition; other columns are ignored).
DIR receives ``compare_human.json`` (all metrics, human figures next to the model's),
``model_correlation.csv`` and three plots: ``distance_curve.png``, ``mds.png``,
``correlations.png``. Input is validated and everything is computed before anything is
written; each file is written atomically.

Example (a role sweep with ``values_schwartz``; unsteered rows only)::

    lm-eval-values compare-human runs/smollm2_roles/matrix.csv --out runs/smollm2_roles/human \
        --keep-steer none --permutations 10000 --seed 0

The console summary and ``compare_human.json`` give the model's distance curve, RTHOR
correspondence index with p-value, similarity to the human matrix and bootstrap intervals,
each next to the human figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from lm_eval_values import circumplex as cx
from lm_eval_values.core.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, check_writable_dir
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.png import figure_png

JSON_NAME = "compare_human.json"
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


def build_parser() -> argparse.ArgumentParser:
    """The ``compare-human`` argument parser."""
    p = ArgumentParser(prog="lm-eval-values compare-human", description=__doc__.split("\n\n")[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="matrix.csv, sweep folder, study CSV or CSV with the 10 Schwartz columns")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created; existing files replaced)")
    p.add_argument("--centering", choices=cx.CENTERINGS, default="mrat",
                   help="mrat: subtract each row's mean over all items before correlating (PVQ practice; default)")
    p.add_argument("--permutations", type=int, default=10000, metavar="N", help="RTHOR label permutations (default 10000)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="permutation and bootstrap seed (default 0)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                   help="row (role) bootstrap resamples for intervals of the model's figures (default 1000; 0 = off)")
    p.add_argument("--items-per-value", default="equal", metavar="equal|pvq40|NAME=K,...",
                   help="weights of the value scores in each row's item mean (MRAT): equal (default), the PVQ-40 "
                        "item counts, or explicit counts such as Power=3,Achievement=4,...")
    p.add_argument("--convention", choices=cx.CONVENTIONS, default="separate",
                   help="circle positions: separate (10 positions, as the published figures; default) or shared "
                        "(Tradition and Conformity share one wedge)")
    p.add_argument("--item-mean-column", metavar="COL", help="column holding each row's mean over all items (MRAT)")
    p.add_argument("--keep-steer", action="append", metavar="ID",
                   help="keep only rows with this steering id (repeatable; 'none' = unsteered)")
    p.add_argument("--drop-incomplete", action="store_true", help="drop rows with a missing Schwartz score")
    p.add_argument("--alpha", type=float, default=0.05, help="PC significance level for the causal comparison")
    p.add_argument("--no-causal", action="store_true", help="skip the PC graphs (human and model)")
    p.add_argument("--no-plots", action="store_true", help="write only the JSON and CSV (faster for batches)")
    return p


# ----------------------------------------------------------------------------- input


def _is_plain_table(path: Path) -> bool:
    """True for a CSV that is neither a sweep matrix nor a study CSV (just value columns)."""
    from lm_eval_values.core.conditions import META_COLUMNS

    if path.is_dir() or not path.is_file():
        return False
    try:
        header = set(map(str, pd.read_csv(path, nrows=0).columns))
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return False  # let read_value_matrix report it
    return not (set(META_COLUMNS) <= header or {"steer_dim", "player_name"} <= header)


def read_input(path: str, keep_steer: Sequence[str] | None = None) -> pd.DataFrame:
    """The table of scores to analyse (value columns plus any other numeric columns)."""
    p = Path(path)
    if _is_plain_table(p):
        if keep_steer:
            raise UserError("--keep-steer", f"{p} has no steering_id column", "drop --keep-steer or pass a sweep matrix")
        try:
            return pd.read_csv(p)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise UserError("INPUT", f"{p} is not a readable CSV ({str(exc).splitlines()[0]})", "give a CSV") from None
    from lm_eval_values.matrix.reading import read_value_matrix

    vm = read_value_matrix(p, keep_steering=keep_steer, check=False, field="INPUT")
    return vm.respondent_scores().reset_index(drop=True)   # a condition repeated in two splits counts once


def _select_rows(table: pd.DataFrame, drop_incomplete: bool) -> tuple[pd.DataFrame, int]:
    """Drop rows with a missing Schwartz score when asked; returns (table, rows dropped)."""
    if not drop_incomplete:
        return table, 0
    found = cx.find_schwartz_columns(list(table.columns))
    cols = [found[v] for v in cx.SCHWARTZ_VALUES if v in found]
    numeric = table[cols].apply(pd.to_numeric, errors="coerce")
    keep = np.isfinite(numeric.to_numpy(dtype=float)).all(axis=1)
    return table.loc[keep], int((~keep).sum())


def parse_items_per_value(text: str, ref: cx.HumanReference) -> dict[str, float] | None:
    """``equal`` -> None, ``pvq40`` -> the PVQ-40 counts, ``Power=3,Achievement=4,...`` -> that mapping."""
    if text == "equal":
        return None
    if text == "pvq40":
        return dict(ref.items_per_value)
    by_slug = {cx.slugify(v): v for v in cx.SCHWARTZ_VALUES}
    counts: dict[str, float] = {}
    for part in filter(None, (x.strip() for x in text.split(","))):
        name, sep, num = part.partition("=")
        value = by_slug.get(cx.slugify(name))
        try:
            count = float(num)
        except ValueError:
            count = float("nan")
        if not sep or value is None or not count > 0:
            raise UserError("--items-per-value", f"cannot read {part!r}",
                            "use equal, pvq40 or NAME=COUNT for all 10 values, e.g. Power=3,Achievement=4,...")
        counts[value] = count
    missing = [v for v in cx.SCHWARTZ_VALUES if v not in counts]
    if missing:
        raise UserError("--items-per-value", f"no count for {', '.join(missing)}", "give a count for each of the 10 values")
    return counts


def _item_mean(table: pd.DataFrame, column: str | None) -> pd.Series | None:
    if column is None:
        return None
    if column not in table.columns:
        raise UserError("--item-mean-column", f"no column {column!r} in the input", "name a column of the input")
    values = pd.to_numeric(table[column], errors="coerce")
    if values.isna().any():
        raise UserError("--item-mean-column", f"column {column!r} has missing or non-numeric cells", "fill them")
    return values


# ----------------------------------------------------------------------------- plots


def _png(fig: Any) -> bytes:
    return figure_png(fig, dpi=130)


def _p_text(p: float | None) -> str:
    return "n/a" if p is None else (f"{p:.2g}" if p >= 0.001 else f"{p:.1e}")


def plot_distance_curves(res: cx.HumanComparison) -> bytes:
    """PNG: mean correlation by circular distance, humans vs the model."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.6, 4.3))
    xs = sorted(res.human_distance_curve)
    ax.axhline(0, color="0.75", lw=0.8)
    ax.plot(xs, [res.human_distance_curve[x] for x in xs], "o-", color="black", lw=2,
            label=f"humans (PVQ-40, n = 151): CI = {res.human_rthor.ci:.3f}, p = {_p_text(res.human_rthor.p_value)}")
    boot = res.bootstrap or {}
    interval = f" [{boot['ci'][0]:.2f}, {boot['ci'][1]:.2f}]" if boot.get("ci") else ""
    ax.plot(xs, [res.distance_curve[x] for x in xs], "s-", color="#d55e00", lw=2,
            label=f"model ({res.n_rows} rows): CI = {res.rthor.ci:.3f}{interval}, p = {_p_text(res.rthor.p_value)}")
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


def _mds_panel(ax: Any, conf: cx.MDSConfiguration, title: str, abbrev: dict[str, str]) -> None:
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


def plot_mds(res: cx.HumanComparison, abbrev: dict[str, str]) -> bytes:
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


def plot_correlations(res: cx.HumanComparison, abbrev: dict[str, str]) -> bytes:
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


def render_plots(res: cx.HumanComparison, abbrev: dict[str, str]) -> dict[str, bytes]:
    """All plots as ``{file name: PNG bytes}`` (matplotlib Agg, nothing written)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    return {"distance_curve.png": plot_distance_curves(res), "mds.png": plot_mds(res, abbrev),
            "correlations.png": plot_correlations(res, abbrev)}


# ----------------------------------------------------------------------------- main


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _summary(payload: dict[str, Any]) -> str:
    r, h = payload["rthor"]["model"], payload["rthor"]["human"]
    sim = payload["similarity_to_human"]
    curve = payload["distance_curve"]
    lines = [
        f"rows: {payload['n_rows']}  centering: {payload['centering']}",
        f"RTHOR CI model {r['ci']:.3f} (p = {_p_text(r['p_value'])})  humans {h['ci']:.3f} (p = {_p_text(h['p_value'])})",
        "distance curve 1..5 model:  " + " ".join(f"{v:+.3f}" for v in curve["model"].values()),
        "distance curve 1..5 humans: " + " ".join(f"{v:+.3f}" for v in curve["human"].values()),
        f"similarity to humans: r = {_num(sim['r_offdiag'])}, RMSE = {_num(sim['rmse'])}",
    ]
    boot = payload.get("bootstrap")
    if boot and boot.get("ci"):
        lines.append(f"{100 * boot['level']:.0f}% bootstrap intervals ({boot['n_boot']} row resamples): "
                     f"CI [{boot['ci'][0]:.3f}, {boot['ci'][1]:.3f}], r [{boot['r_offdiag'][0]:.3f}, "
                     f"{boot['r_offdiag'][1]:.3f}], RMSE [{boot['rmse'][0]:.3f}, {boot['rmse'][1]:.3f}]")
    causal = payload.get("causal", {})
    if "comparison" in causal:
        lines.append(f"PC edges: model {causal['model']['n_edges']}, humans {causal['human']['n_edges']}")
    elif "model_skipped" in causal:
        lines.append(f"model PC graph skipped: {causal['model_skipped']}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Entry point of ``lm-eval-values compare-human``."""
    args = build_parser().parse_args(argv)
    if args.permutations < 1:
        raise UserError("--permutations", f"{args.permutations}", "use 1 or more (e.g. 10000)")
    if args.bootstrap < 0:
        raise UserError("--bootstrap", f"{args.bootstrap}", "use 0 (off) or a number of resamples, e.g. 1000")
    if not 0.0 < args.alpha < 1.0:
        raise UserError("--alpha", f"{args.alpha} is not in (0, 1)", "use e.g. 0.05")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError("--out", f"{out} is a file", "give a folder")
    ref = cx.load_human_reference()
    table, dropped = _select_rows(read_input(args.input, args.keep_steer), args.drop_incomplete)
    ipv = parse_items_per_value(args.items_per_value, ref)
    res = cx.compare_with_human(table, args.centering, args.permutations, args.seed,
                                item_mean=_item_mean(table, args.item_mean_column), items_per_value=ipv,
                                reference=ref, convention=args.convention, bootstrap=args.bootstrap)
    payload = res.to_dict()
    payload["input"] = {"path": str(args.input), "rows_dropped_incomplete": dropped,
                        "keep_steer": args.keep_steer, "item_mean_column": args.item_mean_column}
    if not args.no_causal:
        raw_corr = cx.value_correlations(table, "none", order=ref.values)
        payload["causal"] = cx.json_ready(cx.compare_causal_with_human(raw_corr, res.n_rows, args.alpha, ref), 6)
    plots = {} if args.no_plots else render_plots(res, ref.abbrev)
    check_writable_dir(out)
    atomic_write_text(out / "model_correlation.csv", res.correlation.round(6).to_csv())
    for name, data in plots.items():
        atomic_write_bytes(out / name, data)
    atomic_write_json(out / JSON_NAME, payload)
    print(_summary(payload))
    print(f"wrote {out / JSON_NAME}" + (f" and {', '.join(plots)}" if plots else ""))
    return 0
