"""The study report: ``report.html`` drawn from a study run folder's saved files only (no model).

``lm-eval-values report RUN_DIR`` (re)writes::

    RUN/report.html                 # self-contained: inline CSS, no scripts, no external assets
    RUN/figures/<model>_profile.png, <model>_dose_response.png
    RUN/data/<model>_value_profile.csv, <model>_dose_response.csv
    RUN/data/report_data.json       # every number the report shows

and links the figures and data files the stages wrote (``<model>/graph/graph.png``,
``<model>/human/*.png``, ``<model>/sweep/matrix.csv`` ...) by relative paths. The same run folder
always gives the same bytes: the study calls :func:`build_report` at its end, and running
``report`` later reproduces it exactly.
"""

from __future__ import annotations

import html
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lm_eval_values.core.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from lm_eval_values.core.errors import ArgumentParser, UserError

REPORT_FILE = "report.html"
STAGE_ORDER = ("vectors", "sweep", "graph", "human", "side_effects")


@dataclass
class ReportResult:
    """What :func:`build_report` wrote."""

    html_path: Path
    summary: list[str]
    data: dict[str, Any]


# ----------------------------------------------------------------------------- reading
def _read_json(p: Path) -> Any:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return None if not math.isfinite(x) else round(x, 6)
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and callable(x.item):
        return _clean(x.item())
    return x


def collect_model(run: Path, mid: str, label: str) -> dict[str, Any]:
    """Everything the report shows for one model, read from ``run/<mid>/``."""
    from lm_eval_values.report_figures import dose_response, value_profile
    from lm_eval_values.matrix.reading import read_value_matrix

    mdir = run / mid
    d: dict[str, Any] = {"id": mid, "label": label, "stages": {}}
    for st in STAGE_ORDER:
        info = _read_json(mdir / st / "stage.json")
        if info is not None:
            d["stages"][st] = info
    matrix = mdir / "sweep" / "matrix.csv"
    if not matrix.is_file():
        d["missing"] = "no sweep matrix"
        return d
    vm = read_value_matrix(matrix, check=False, field="matrix.csv")
    manifest = _read_json(mdir / "sweep" / "manifest.json") or {}
    meta = vm.meta
    d["sweep"] = {
        "n_conditions": vm.n_rows,
        "n_roles": {s: int(meta.loc[meta["split"] == s, "role_id"].nunique()) for s in sorted(set(meta["split"]))},
        "steering_ids": vm.steering_ids,
        "n_settings": int(meta[["steering_id", "coefficient"]].astype(str).drop_duplicates().shape[0]),
        "values": vm.values,
        "n_items": [c.get("n_items") for c in manifest.get("conditions", [])],
        "tasks": (manifest.get("resolved") or {}).get("tasks"),
        "model_args": (manifest.get("resolved") or {}).get("model_args"),
        "versions": manifest.get("versions"),
    }
    items = [x for x in d["sweep"]["n_items"] if isinstance(x, int)]
    d["sweep"]["items_total"] = int(sum(items))
    d["sweep"]["items_per_condition"] = sorted(set(items))
    d["profile"] = value_profile(vm)
    d["dose"] = dose_response(vm)
    d["graph"] = d["stages"].get("graph")
    d["human"] = _read_json(mdir / "human" / "compare_human.json")
    d["side_effects"] = d["stages"].get("side_effects")
    return d


# ----------------------------------------------------------------------------- summary text
def _observed_rule(params: dict[str, Any]) -> str:
    """How a held-out change was counted, in words (significance, centring, minimum size)."""
    rule = f"significant at FDR {params['q']:g}"
    if params.get("tol"):
        rule += f" and larger than {params['tol']:g}"
    if params.get("centering", "none") != "none":
        rule += f" after {params['centering']} centring"
    return rule


def _centering_note(params: dict[str, Any]) -> str:
    """HTML sentence part explaining the centring of paired changes, if any."""
    c = params.get("centering", "none")
    if c == "none":
        return ""
    what = "median" if c == "median" else "mean"
    return (f"; every role's paired change vector minus its {what} over the values first (the shift common to all "
            f"values, e.g. a change of the yes/no response bias, is not a side effect)")


def _f(x: Any, nd: int = 2, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def _p(p: Any) -> str:
    if p is None:
        return "n/a"
    return f"{p:.2g}" if p >= 0.001 else "< 0.001"


def target_effects(dose: pd.DataFrame) -> list[dict[str, Any]]:
    """Per steering id with a named target: the target's mean change at each non-zero coefficient."""
    out = []
    if dose.empty:
        return out
    for sid, g in dose.groupby("steering_id", sort=False):
        t = g["target"].iloc[0]
        if t is None or (isinstance(t, float) and math.isnan(t)):
            continue
        tg = g[(g["value"] == t) & (g["coefficient"] != 0)].sort_values("coefficient")
        others = g[(g["value"] != t) & (g["coefficient"] != 0)]
        for _, r in tg.iterrows():
            o = others[others["coefficient"] == r["coefficient"]]["mean_change"].abs()
            out.append({"steering_id": sid, "target": t, "coefficient": float(r["coefficient"]),
                        "change": r["mean_change"], "ci_lo": r["ci_lo"], "ci_hi": r["ci_hi"],
                        "n_roles": int(r["n_roles"]),
                        "mean_abs_change_others": float(o.mean()) if len(o) else math.nan})
    return out


def model_summary(d: dict[str, Any]) -> list[str]:
    """Plain-language findings for one model (also printed by ``study``)."""
    lab = d["label"]
    if "missing" in d:
        return [f"{lab}: {d['missing']}."]
    lines = []
    sw = d["sweep"]
    roles = ", ".join(f"{n} {s or 'unsplit'}" for s, n in sw["n_roles"].items())
    ipc = sw["items_per_condition"]
    ipc_s = str(ipc[0]) if len(ipc) == 1 else f"{ipc[0]}-{ipc[-1]}" if ipc else "?"
    st = d["stages"].get("sweep", {})
    speed = f", {st['items_per_s']:.2f} items/s" if st.get("items_per_s") and not st.get("n_skipped") else ""
    lines.append(f"{lab}: {sw['n_conditions']} conditions = role conditions ({roles}; no-role counted) x "
                 f"{sw['n_settings']} steering settings ({', '.join(sw['steering_ids'])}; each dose a setting); "
                 f"{ipc_s} items per condition ({sw['items_total']} answers{speed}).")
    p = d["profile"].dropna(subset=["mean"]).sort_values("mean", ascending=False)
    if len(p):
        top = ", ".join(f"{r.value} {_f(r.mean, sign=True)}" for r in p.head(3).itertuples())
        low = ", ".join(f"{r.value} {_f(r.mean, sign=True)}" for r in p.tail(2).itertuples())
        lines.append(f"{lab} values most (unsteered, mean over {int(p['n_roles'].max())} roles): {top}; "
                     f"least: {low}.")
    h = d.get("human")
    if h:
        r, hr = h["rthor"]["model"], h["rthor"]["human"]
        sim = h["similarity_to_human"]
        verdict = ("follows the human circular order of values significantly" if r["p_value"] is not None
                   and r["p_value"] < 0.05 and r["ci"] > 0 else "shows no significant evidence of the human circular order")
        lines.append(f"{lab} {verdict}: correspondence index {_f(r['ci'])} (p {_p(r['p_value'])}; humans "
                     f"{_f(hr['ci'])}), correlation with the human value-correlation matrix r = "
                     f"{_f(sim.get('r_offdiag'))} over {h['n_rows']} roles.")
    elif d["stages"].get("human", {}).get("skipped_reason"):
        lines.append(f"{lab}: human comparison skipped ({d['stages']['human']['skipped_reason']}).")
    g = d.get("graph")
    if g and "n_edges" in g:
        edges = g.get("edges", [])
        stable = sum(1 for e in edges if (e.get("freq") or 0) >= 0.5)
        boot = g.get("bootstrap")
        bt = (f"; {stable} of them in >= 50% of the {boot['n_ok']} usable role-bootstrap resamples "
              f"(of {boot['n_boot']})" if boot else "")
        lines.append(f"{lab} causal graph ({g['settings']['algo'].upper()} on {g['n_rows']} {g['settings']['split'] or 'all'} "
                     f"rows): {g['n_edges']} edges among {len(g['values'])} values{bt}.")
    elif g and g.get("skipped_reason"):
        lines.append(f"{lab}: causal graph skipped ({g['skipped_reason']}).")
    te = target_effects(d["dose"])
    if te:
        parts = []
        for sid in dict.fromkeys(t["steering_id"] for t in te):
            xs = [t for t in te if t["steering_id"] == sid]
            parts.append(f"{sid} " + ", ".join(f"{_f(t['coefficient'], 2, True)}: {_f(t['change'], 2, True)}" for t in xs))
        lines.append(f"{lab} steering, change of the targeted value (coefficient: mean change over roles): "
                     + "; ".join(parts) + ".")
    se = d.get("side_effects") or {}
    ho = se.get("heldout")
    if ho:
        tab = {r["predictor"]: r for r in ho["table"]}
        learned = tab.get("learned graph", {})
        rnd = next((r for k, r in tab.items() if k.startswith("degree-preserving")), {})
        corr = next((r for k, r in tab.items() if k.startswith("correlation graph")), {})
        human = tab.get("human PC graph", {})
        lines.append(f"{lab} held-out side effects: {ho['n_significant']} of {ho['n_tests']} (setting, value) "
                     f"changes {_observed_rule(ho['params'])}; AUROC learned graph {_f(learned.get('auroc'))}, "
                     f"random graphs {_f(rnd.get('auroc'))}, correlation graph {_f(corr.get('auroc'))}, "
                     f"human graph {_f(human.get('auroc'))}.")
    elif se.get("heldout_skipped_reason"):
        lines.append(f"{lab}: held-out side-effect evaluation skipped ({se['heldout_skipped_reason']}).")
    return lines


def study_summary(models: list[dict[str, Any]]) -> list[str]:
    """The short plain-language summary of the whole study."""
    lines = [ln for d in models for ln in model_summary(d)]
    small = [d for d in models if "sweep" in d and max(d["sweep"]["n_roles"].values() or [0]) < 30]
    if small:
        lines.append("Caveat: " + ", ".join(d["label"] for d in small) + " used fewer than 30 roles per split and few "
                     "items per value (sized for a CPU demo); intervals are wide and p-values low-powered, so read the "
                     "numbers as a demonstration of the method, not as a measurement.")
    return lines


# ----------------------------------------------------------------------------- HTML
CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f6f7f9;color:#1b2631;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff;box-shadow:0 0 12px rgba(0,0,0,.06)}
h1{font-size:1.9em;margin:.2em 0 .1em}h2{border-bottom:2px solid #d6eaf8;padding-bottom:4px;margin-top:1.8em}
h3{margin-top:1.4em;color:#1f4e79}.sub{color:#566573;margin-top:0}
.summary{background:#eef6fc;border-left:5px solid #1f4e79;padding:10px 18px;border-radius:4px}
.caveat{background:#fef5e7;border-left:5px solid #d68910;padding:8px 16px;border-radius:4px;font-size:.93em}
figure{margin:14px 0;text-align:center}figure img{max-width:100%;border:1px solid #e5e8e8;border-radius:4px}
figcaption{font-size:.88em;color:#566573;margin-top:4px;text-align:left}
table{border-collapse:collapse;margin:10px 0;font-size:.9em}th,td{border:1px solid #d5d8dc;padding:4px 9px;text-align:right}
th{background:#f2f4f4}td.l,th.l{text-align:left}tr:nth-child(even) td{background:#fbfcfc}
code,pre{font-family:"SFMono-Regular",Consolas,monospace;font-size:.85em}pre{background:#f4f6f6;padding:10px;overflow-x:auto;border-radius:4px}
nav a{margin-right:14px}.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}.muted{color:#7f8c8d}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _table(rows: list[dict[str, Any]], cols: list[tuple[str, str]], left: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th class='l'>{_e(t)}</th>" if k in left else f"<th>{_e(t)}</th>" for k, t in cols)
    body = []
    for r in rows:
        cells = []
        for k, _ in cols:
            v = r.get(k)
            if isinstance(v, float):
                v = _f(v, 3)
            elif v is None:
                v = "n/a"
            cells.append(f"<td class='l'>{_e(v)}</td>" if k in left else f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fig(src: str, caption: str) -> str:
    return f"<figure><img src='{_e(src)}' alt='{_e(caption[:80])}'><figcaption>{caption}</figcaption></figure>"


#: files this build will write (relative paths): linked even before they exist on disk
_PLANNED: set[str] = set()


def _exists(run: Path, rel: str) -> bool:
    return rel in _PLANNED or (run / rel).exists()


def _link(run: Path, rel: str) -> str:
    return f"<a href='{_e(rel)}'>{_e(rel)}</a>" if _exists(run, rel) else ""


def model_section(run: Path, d: dict[str, Any], figs: dict[str, str]) -> str:
    mid, lab = d["id"], d["label"]
    out = [f"<h2 id='{_e(mid)}'>{_e(lab)}</h2>"]
    if "missing" in d:
        return "".join(out) + f"<p class='caveat'>{_e(d['missing'])}</p>"
    sw = d["sweep"]
    out.append(f"<p class='sub'>Model args <code>{_e(json.dumps(sw['model_args']))}</code>; tasks "
               f"<code>{_e(', '.join(sw['tasks'] or []))}</code>; {sw['n_conditions']} conditions, "
               f"{sw['items_total']} item answers; steering settings: <code>{_e(', '.join(sw['steering_ids']))}</code>.</p>")
    # 1 profile
    prof = d["profile"]
    out.append("<h3>1. Value profile</h3>")
    if f"{mid}_profile" in figs:
        out.append(_fig(figs[f"{mid}_profile"], "Mean unsteered value score over roles (bars) with 95% t intervals "
                        "(roles are the units of uncertainty; items within a role are not independent draws); "
                        "diamond: the model without any role."))
    out.append(_table(prof.to_dict(orient="records"), [("value", "value"), ("mean", "mean"), ("ci_lo", "95% lo"),
                                                       ("ci_hi", "95% hi"), ("sd", "SD over roles"),
                                                       ("n_roles", "roles"), ("no_role", "no role")], ("value",)))
    # 2 human
    out.append("<h3>2. Structure compared with humans (Schwartz circumplex)</h3>")
    h = d.get("human")
    if h:
        r, hr = h["rthor"]["model"], h["rthor"]["human"]
        sim = h["similarity_to_human"]
        boot = h.get("bootstrap") or {}
        rows = [{"metric": "RTHOR correspondence index", "model": r["ci"], "humans": hr["ci"]},
                {"metric": "permutation p-value", "model": _p(r["p_value"]), "humans": _p(hr["p_value"])},
                {"metric": "rows (roles / respondents)", "model": h["n_rows"], "humans": 151},
                {"metric": "r with human correlations (off-diagonal)", "model": sim.get("r_offdiag"), "humans": 1.0},
                {"metric": "RMSE vs human correlations", "model": sim.get("rmse"), "humans": 0.0},
                {"metric": "MDS Procrustes disparity to humans", "model": h["mds"]["model_to_human_disparity"],
                 "humans": 0.0}]
        for k, name in (("1", "neighbours"), ("5", "opposite")):
            rows.append({"metric": f"mean correlation at circular distance {k} ({name})",
                         "model": h["distance_curve"]["model"].get(k), "humans": h["distance_curve"]["human"].get(k)})
        for kname, ho in h["higher_order"]["model"].items():
            hh = h["higher_order"]["human"].get(kname, {})
            rows.append({"metric": f"{kname.replace('_', ' ')}: mean r between poles",
                         "model": ho.get("between") if isinstance(ho, dict) else None,
                         "humans": hh.get("between") if isinstance(hh, dict) else None})
        out.append(_table(rows, [("metric", "metric"), ("model", "model"), ("humans", "humans (PVQ-40, n = 151)")],
                          ("metric",)))
        if boot.get("ci"):
            out.append(f"<p class='muted'>{100 * boot['level']:.0f}% bootstrap intervals over {boot['n_boot']} role "
                       f"resamples: correspondence index [{_f(boot['ci'][0])}, {_f(boot['ci'][1])}], r with humans "
                       f"[{_f(boot['r_offdiag'][0])}, {_f(boot['r_offdiag'][1])}].</p>")
        for name, cap in (("correlations.png", "MRAT-centered value correlations: humans, model, difference."),
                          ("distance_curve.png", "Mean correlation by distance on the Schwartz circle; humans fall "
                                                 "monotonically from neighbours to opposites."),
                          ("mds.png", "Metric MDS of the correlations, Procrustes-rotated onto the theoretical circle.")):
            rel = f"{mid}/human/{name}"
            if (run / rel).is_file():
                out.append(_fig(rel, cap))
        causal = h.get("causal", {})
        if "comparison" in causal:
            c = causal["comparison"]
            out.append(f"<p>PC graphs from the uncentered correlations (Fisher-z, alpha {causal['alpha']}): model "
                       f"{causal['model']['n_edges']} edges, humans {causal['human']['n_edges']} edges; adjacency F1 "
                       f"{_f(c.get('adjacency_f1'))}, SHD {c.get('shd', 'n/a')}.</p>")
    else:
        reason = d["stages"].get("human", {}).get("skipped_reason", "not run")
        out.append(f"<p class='caveat'>Skipped: {_e(reason)}</p>")
    # 3 graph
    out.append("<h3>3. Causal value graph</h3>")
    g = d.get("graph")
    if g and "n_edges" in g:
        s = g["settings"]
        boot = g.get("bootstrap")
        out.append(f"<p>{s['algo'].upper()} ({s['indep_test']}, alpha {s['alpha']}) on {g['n_rows']} "
                   f"{_e(s['split'] or 'all')} rows ({g['n_roles']} role conditions x steering settings "
                   f"<code>{_e(', '.join(g['steering_ids']))}</code>), pooled as in the study. "
                   + (f"Edge width = fraction of the {boot['n_ok']} usable role-bootstrap resamples (of "
                      f"{boot['n_boot']}; whole roles resampled; a resample is unusable when discovery fails on it, "
                      f"e.g. a constant column) containing the adjacency." if boot else "No bootstrap.")
                   + " Caveat: steered and unsteered rows are pooled, i.e. interventions are treated as "
                     "observations, as in the study.</p>")
        if (run / mid / "graph" / "graph.png").is_file():
            out.append(_fig(f"{mid}/graph/graph.png", "Causal value graph (values on a circle in the matrix's order)."))
        erows = sorted(g.get("edges", []), key=lambda e: -(e.get("freq") or 0))
        out.append(_table(erows, [("u", "from"), ("kind", "edge"), ("v", "to"), ("freq", "bootstrap adjacency freq"),
                                  ("orient_freq", "same orientation freq")], ("u", "kind", "v")))
    else:
        reason = (g or {}).get("skipped_reason", "not run")
        out.append(f"<p class='caveat'>Skipped: {_e(reason)}</p>")
    # 4 dose-response
    out.append("<h3>4. Steering dose-response</h3>")
    if f"{mid}_dose" in figs:
        out.append(_fig(figs[f"{mid}_dose"], "Mean paired change (role steered minus the same role unsteered) "
                        "against the steering coefficient; black: the targeted value with its 95% t band over roles. "
                        "prompt:X = value-definition prompt (+1 inclined, -1 disinclined); vec:X = diff-of-means vector "
                        "(coefficient x residual norm)."))
        te = target_effects(d["dose"])
        out.append(_table(te, [("steering_id", "setting"), ("coefficient", "coefficient"), ("change", "target change"),
                               ("ci_lo", "95% lo"), ("ci_hi", "95% hi"),
                               ("mean_abs_change_others", "mean |change| of other values"), ("n_roles", "roles")],
                          ("steering_id",)))
    else:
        out.append("<p class='muted'>No steered settings in this sweep.</p>")
    # 5 side effects
    out.append("<h3>5. Side effects: does the graph predict what else moves?</h3>")
    se = d.get("side_effects") or {}
    ho = se.get("heldout")
    if ho:
        p = ho["params"]
        out.append(f"<p>Graph fitted on the training rows; for each held-out steering setting (each dose separately, "
                   f"on {p['n_heldout_roles']} held-out role conditions) the target is the value the setting moved most "
                   f"on the training roles; other values predicted to change are the target's descendants (score 1 / "
                   f"path length). Observed change: Wilcoxon signed-rank across held-out roles, Benjamini-Hochberg "
                   f"FDR {p['q']}{_centering_note(p)}. {ho['n_significant']} of {ho['n_tests']} (setting, value) "
                   f"changes {_e(_observed_rule(p))}.</p>")
        cols = [("predictor", "predictor"), ("n_pairs", "pairs"), ("n_observed", "observed changes"),
                ("n_predicted", "predicted"), ("precision", "precision"), ("recall", "recall"), ("auroc", "AUROC")]
        out.append(_table(ho["table"], cols, ("predictor",)))
        out.append("<p class='muted'>AUROC is undefined (n/a) when no pair, or every pair, changed significantly.</p>")
        if ho["n_significant"] == 0:
            out.append(f"<p class='caveat'>No change was significant: with {p['n_heldout_roles']} held-out role "
                       f"conditions the signed-rank test cannot reach the FDR threshold over {ho['n_tests']} tests. "
                       "The held-out comparison needs more test roles (the study: 25).</p>")
    elif se.get("heldout_skipped_reason"):
        out.append(f"<p class='caveat'>Held-out evaluation skipped: {_e(se['heldout_skipped_reason'])}</p>")
    sm = se.get("study_metric") or {}
    srows = []
    for kind, v in sm.items():
        if "graphs" in v:
            for gname, r in v["graphs"].items():
                srows.append({"changes": kind, "graph": gname, "rows": v["n_rows"], "expected": r.get("expected"),
                              "unexpected": r.get("unexpected")})
    if srows:
        out.append("<p>The study's in-sample metric (frequency with which other values change when a value changes; "
                   "Expected = descendants in the graph, Unexpected = the rest; changes are any non-zero difference, "
                   "as in the study):</p>")
        out.append(_table(srows, [("changes", "changes"), ("graph", "graph"), ("rows", "rows"), ("expected", "Expected"),
                                  ("unexpected", "Unexpected")], ("changes", "graph")))
    files = [x for x in (f"{mid}/sweep/matrix.csv", f"{mid}/sweep/items.csv", f"{mid}/sweep/manifest.json",
                         f"data/{mid}_value_profile.csv", f"data/{mid}_dose_response.csv", f"{mid}/graph/graph.json",
                         f"{mid}/graph/bootstrap.csv", f"{mid}/human/compare_human.json",
                         f"{mid}/side_effects/heldout_auroc.csv", f"{mid}/side_effects/study_metric.json")
             if _exists(run, x)]
    out.append("<p class='muted'>Data: " + " &middot; ".join(_link(run, x) for x in files) + "</p>")
    return "".join(out)


def comparison_section(models: list[dict[str, Any]]) -> str:
    if len(models) < 2:
        return ""
    rows = []
    for d in models:
        if "missing" in d:
            continue
        h = d.get("human") or {}
        g = d.get("graph") or {}
        ho = ((d.get("side_effects") or {}).get("heldout") or {}).get("table", [])
        learned = next((r for r in ho if r["predictor"] == "learned graph"), {})
        rows.append({"model": d["label"], "conditions": d["sweep"]["n_conditions"],
                     "ci": (h.get("rthor") or {}).get("model", {}).get("ci"),
                     "p": _p((h.get("rthor") or {}).get("model", {}).get("p_value")) if h else "n/a",
                     "r": (h.get("similarity_to_human") or {}).get("r_offdiag"),
                     "edges": g.get("n_edges"), "auroc": learned.get("auroc")})
    out = ["<h2 id='compare'>Models side by side</h2>",
           _table(rows, [("model", "model"), ("conditions", "conditions"), ("ci", "correspondence index"),
                         ("p", "p"), ("r", "r with humans"), ("edges", "graph edges"),
                         ("auroc", "held-out AUROC (learned graph)")], ("model",))]
    gs = []
    for d in models:
        gj = (d.get("graph") or {}).get("edges")
        if gj is not None:
            gs.append(d)
    if len(gs) >= 2:
        from lm_eval_values.causal.graph import ValueGraph
        from lm_eval_values.causal.metrics import compare_graphs

        def vg(d: dict[str, Any]) -> ValueGraph:
            g = ValueGraph(d["graph"]["values"])
            for e in d["graph"]["edges"]:
                from lm_eval_values.causal.bootstrap import _marks_from_kind

                g.add_edge(e["u"], e["v"], *_marks_from_kind(e["kind"]))
            return g

        a, b = gs[0], gs[1]
        if a["graph"]["values"] == b["graph"]["values"]:
            m = compare_graphs(vg(a), vg(b))
            out.append(f"<p>Graph of {_e(a['label'])} against {_e(b['label'])} as reference: SHD {m['shd']}, adjacency F1 "
                       f"{_f(m['adjacency_f1'])}, skeleton Jaccard {_f(m.get('skeleton_jaccard'))}.</p>")
    return "".join(out)


def render_html(run: Path, study: dict[str, Any], models: list[dict[str, Any]], summary: list[str],
                figs: dict[str, str]) -> str:
    """The report page (deterministic for the same inputs)."""
    title = study.get("name", "Value study")
    nav = " ".join(f"<a href='#{_e(d['id'])}'>{_e(d['label'])}</a>" for d in models)
    nav += " <a href='#compare'>comparison</a>" if len(models) > 1 else ""
    nav += " <a href='#methods'>methods &amp; provenance</a>"
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>",
             f"<h1>{_e(title)}</h1>",
             "<p class='sub'>Values of language models measured with role prompts and steering, their causal structure, "
             "and how that structure compares with humans (after Kang et al., <i>Are the Values of LLMs Structurally "
             "Aligned with Humans? A Causal Perspective</i>, ACL Findings 2025).</p>",
             f"<nav>{nav}</nav>",
             "<h2>Summary</h2><div class='summary'><ul>" + "".join(f"<li>{_e(s)}</li>" for s in summary) + "</ul></div>",
             "<p class='caveat'>How to read this: value scores are in [-1, 1] (mean keyed item score from the "
             "log-likelihood of yes/no answers); each role condition is one synthetic persona; uncertainty is over roles. "
             "Causal graphs from a few hundred observational rows are fragile: the bootstrap frequencies say how much.</p>"]
    parts += [model_section(run, d, figs) for d in models]
    parts.append(comparison_section(models))
    parts.append(methods_section(run, study, models))
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def methods_section(run: Path, study: dict[str, Any], models: list[dict[str, Any]]) -> str:
    out = ["<h2 id='methods'>Methods &amp; provenance</h2>"]
    rows = []
    for d in models:
        for st in STAGE_ORDER:
            info = d["stages"].get(st)
            if info is None:
                continue
            extra = ""
            if st == "sweep":
                extra = (f"{info.get('n_run')} conditions computed, {info.get('n_skipped')} reused; "
                         f"{_f(info.get('items_per_s'))} items/s; model load {_f(info.get('load_s'), 1)} s")
            elif st == "graph" and info.get("bootstrap"):
                extra = f"bootstrap {info['bootstrap']['n_ok']}/{info['bootstrap']['n_boot']} in {info['bootstrap']['elapsed_s']} s"
            rows.append({"model": d["label"], "stage": st, "seconds": info.get("elapsed_s"), "notes": extra})
    out.append("<h3>Timings (seconds of the run that computed each stage)</h3>")
    out.append(_table(rows, [("model", "model"), ("stage", "stage"), ("seconds", "seconds"), ("notes", "notes")],
                      ("model", "stage", "notes")))
    if study.get("run_s") is not None:
        out.append(f"<p class='muted'>Last study invocation: {_f(study['run_s'], 1)} s before the report (stages "
                   f"skipped on resume take no time).</p>")
    vers = study.get("versions") or {}
    out.append("<h3>Versions</h3>" + _table([{"package": k, "version": v} for k, v in vers.items()],
                                            [("package", "package"), ("version", "version")], ("package", "version")))
    cfg = yaml_dump(study.get("config") or {})
    out.append(f"<h3>Config</h3><p>{_link(run, 'config.yaml')}</p><pre>{_e(cfg)}</pre>")
    out.append(f"<p class='muted'>All numbers of this page: {_link(run, 'data/report_data.json')}. "
               "Every number above is read from the files of this run folder by "
               "<code>lm-eval-values report</code>; running it again gives the same page.</p>")
    return "".join(out)


def yaml_dump(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)


# ----------------------------------------------------------------------------- build
def build_report(run: str | Path) -> ReportResult:
    """Read the run folder, write figures, data files and ``report.html``; returns paths and summary."""
    from lm_eval_values.report_figures import plot_dose_response, plot_profile

    run = Path(run)
    study = _read_json(run / "study.json")
    if not isinstance(study, dict) or study.get("format") != "lm-eval-values/study":
        raise UserError("RUN_DIR", f"{run} has no readable study.json", "give the folder a `study` run wrote")
    models_cfg = (study.get("config") or {}).get("models") or []
    models = []
    for m in models_cfg:
        mid = m.get("id")
        label = (study.get("models") or {}).get(mid, {}).get("label") or m.get("label") or mid
        models.append(collect_model(run, mid, label))
    if not models:
        raise UserError("RUN_DIR", f"{run}/study.json lists no models", "re-run the study")
    # compute everything before writing
    files: dict[str, bytes] = {}
    figs: dict[str, str] = {}
    for d in models:
        if "missing" in d:
            continue
        mid = d["id"]
        files[f"figures/{mid}_profile.png"] = plot_profile(d["profile"], d["label"])
        figs[f"{mid}_profile"] = f"figures/{mid}_profile.png"
        dose_png = plot_dose_response(d["dose"], d["label"])
        if dose_png is not None:
            files[f"figures/{mid}_dose_response.png"] = dose_png
            figs[f"{mid}_dose"] = f"figures/{mid}_dose_response.png"
        files[f"data/{mid}_value_profile.csv"] = d["profile"].to_csv(index=False, float_format="%.6f").encode()
        files[f"data/{mid}_dose_response.csv"] = d["dose"].to_csv(index=False, float_format="%.6f").encode()
    summary = study_summary(models)
    data = _clean({"name": study.get("name"), "summary": summary, "models": [
        {"id": d["id"], "label": d["label"], "sweep": d.get("sweep"),
         "profile": d["profile"].to_dict(orient="records") if "profile" in d else None,
         "target_effects": target_effects(d["dose"]) if "dose" in d else None,
         "graph": d.get("graph"), "human": d.get("human"), "side_effects": d.get("side_effects"),
         "timings": {k: v.get("elapsed_s") for k, v in d["stages"].items()}} for d in models]})
    _PLANNED.clear()
    _PLANNED.update(files)
    _PLANNED.add("data/report_data.json")
    try:
        page = render_html(run, study, models, summary, figs)
    finally:
        _PLANNED.clear()
    for rel, b in files.items():
        atomic_write_bytes(run / rel, b)
    atomic_write_json(run / "data" / "report_data.json", data)
    html_path = atomic_write_text(run / REPORT_FILE, page)
    return ReportResult(html_path, summary, data)


def main(argv: list[str]) -> int:
    """``lm-eval-values report RUN_DIR``: regenerate report.html from saved files (no model)."""
    parser = ArgumentParser(prog="lm-eval-values report",
                            description="Regenerate report.html (figures, data files) of a study run folder "
                                        "from its saved files only; no model is loaded.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `lm-eval-values study`")
    args = parser.parse_args(argv)
    run = Path(args.run_dir)
    if not run.is_dir():
        raise UserError("RUN_DIR", f"{run} is not a folder", "give the --out folder of a study run")
    res = build_report(run)
    print(f"wrote {res.html_path}")
    for line in res.summary:
        print(f"- {line}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
