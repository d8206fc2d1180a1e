"""The report page: self-contained HTML (inline CSS, no scripts, no external assets), deterministic for
the same run folder.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import yaml

from lm_eval_values.causal.bootstrap import _marks_from_kind
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.metrics import compare_graphs
from lm_eval_values.core.files import STAGES
from lm_eval_values.report.summary import centering_note, fmt_number, fmt_p, observed_rule, target_effects


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
                v = fmt_number(v, 3)
            elif v is None:
                v = "n/a"
            cells.append(f"<td class='l'>{_e(v)}</td>" if k in left else f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fig(src: str, caption: str) -> str:
    return f"<figure><img src='{_e(src)}' alt='{_e(caption[:80])}'><figcaption>{caption}</figcaption></figure>"


#: files the report build in progress will write (relative paths): linked even before they exist on disk
PLANNED_FILES: set[str] = set()


def _exists(run: Path, rel: str) -> bool:
    return rel in PLANNED_FILES or (run / rel).exists()


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
                {"metric": "permutation p-value", "model": fmt_p(r["p_value"]), "humans": fmt_p(hr["p_value"])},
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
                       f"resamples: correspondence index [{fmt_number(boot['ci'][0])}, {fmt_number(boot['ci'][1])}], r with humans "
                       f"[{fmt_number(boot['r_offdiag'][0])}, {fmt_number(boot['r_offdiag'][1])}].</p>")
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
                       f"{fmt_number(c.get('adjacency_f1'))}, SHD {c.get('shd', 'n/a')}.</p>")
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
                   f"FDR {p['q']}{centering_note(p)}. {ho['n_significant']} of {ho['n_tests']} (setting, value) "
                   f"changes {_e(observed_rule(p))}.</p>")
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
                     "p": fmt_p((h.get("rthor") or {}).get("model", {}).get("p_value")) if h else "n/a",
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
        def vg(d: dict[str, Any]) -> ValueGraph:
            g = ValueGraph(d["graph"]["values"])
            for e in d["graph"]["edges"]:
                g.add_edge(e["u"], e["v"], *_marks_from_kind(e["kind"]))
            return g

        a, b = gs[0], gs[1]
        if a["graph"]["values"] == b["graph"]["values"]:
            m = compare_graphs(vg(a), vg(b))
            out.append(f"<p>Graph of {_e(a['label'])} against {_e(b['label'])} as reference: SHD {m['shd']}, adjacency F1 "
                       f"{fmt_number(m['adjacency_f1'])}, skeleton Jaccard {fmt_number(m.get('skeleton_jaccard'))}.</p>")
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
        for st in STAGES:
            info = d["stages"].get(st)
            if info is None:
                continue
            extra = ""
            if st == "sweep":
                extra = (f"{info.get('n_run')} conditions computed, {info.get('n_skipped')} reused; "
                         f"{fmt_number(info.get('items_per_s'))} items/s; model load {fmt_number(info.get('load_s'), 1)} s")
            elif st == "graph" and info.get("bootstrap"):
                extra = f"bootstrap {info['bootstrap']['n_ok']}/{info['bootstrap']['n_boot']} in {info['bootstrap']['elapsed_s']} s"
            rows.append({"model": d["label"], "stage": st, "seconds": info.get("elapsed_s"), "notes": extra})
    out.append("<h3>Timings (seconds of the run that computed each stage)</h3>")
    out.append(_table(rows, [("model", "model"), ("stage", "stage"), ("seconds", "seconds"), ("notes", "notes")],
                      ("model", "stage", "notes")))
    if study.get("run_s") is not None:
        out.append(f"<p class='muted'>Last study invocation: {fmt_number(study['run_s'], 1)} s before the report (stages "
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
    """The config as the report shows it."""
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)
