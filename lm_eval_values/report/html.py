"""The report page: self-contained HTML (inline CSS, no scripts, no external assets), deterministic for
the same run folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.metrics import compare_graphs
from lm_eval_values.core.files import STAGES
from lm_eval_values.report.markup import PLANNED_FILES, esc as _e, exists as _exists, link as _link
from lm_eval_values.report.markup import table as _table
from lm_eval_values.report.sections import graph_section, human_section, side_effects_section
from lm_eval_values.report.summary import fmt_number, fmt_p
from lm_eval_values.report.validity import gate_note, manipulation_section, profile_section, reliability_section
from lm_eval_values.results.study import StudyRecord


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


#: endpoint marks of an edge kind
_MARKS = {"-->": ("tail", "arrow"), "<--": ("arrow", "tail"), "---": ("tail", "tail"), "<->": ("arrow", "arrow"),
          "o->": ("circle", "arrow"), "<-o": ("arrow", "circle"), "o-o": ("circle", "circle"),
          "--o": ("tail", "circle"), "o--": ("circle", "tail")}


def model_section(run: Path, d: dict[str, Any], figs: dict[str, str]) -> str:
    mid, lab = d["id"], d["label"]
    out = [f"<h2 id='{_e(mid)}'>{_e(lab)}</h2>"]
    if "missing" in d:
        return "".join(out) + f"<p class='caveat'>{_e(d['missing'])}</p>"
    sw = d["sweep"]
    out.append(f"<p class='sub'>Model args <code>{_e(json.dumps(sw['model_args']))}</code>; tasks "
               f"<code>{_e(', '.join(sw['tasks'] or []))}</code>; {sw['n_conditions']} conditions, "
               f"{sw['items_total']} item answers; steering settings: <code>{_e(', '.join(sw['steering_ids']))}</code>.</p>")
    out.append(reliability_section(d))
    out.append(profile_section(d, figs.get(f"{mid}_profile")))
    out.append(human_section(run, d))
    out.append(graph_section(run, d))
    out.append(manipulation_section(d, figs.get(f"{mid}_dose")))
    side = side_effects_section(d)
    head = side.find("</h3>") + len("</h3>") if "</h3>" in side else 0
    out.append(side[:head] + gate_note(d, "side_effects") + side[head:])  # the gate's note under the heading
    files = [x for x in (f"{mid}/sweep/matrix.csv", f"{mid}/sweep/items.csv", f"{mid}/sweep/manifest.json",
                         f"data/{mid}_value_profile.csv", f"data/{mid}_dose_response.csv",
                         f"{mid}/reliability/reliability.json", f"{mid}/graph/graph.json",
                         f"{mid}/graph/bootstrap.csv", f"{mid}/graph/descendant_probabilities.csv", f"{mid}/human/compare_human.json",
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
        h, g, se = d.get("human"), d.get("graph"), d.get("side_effects")
        learned = se.heldout.predictor("learned graph") if se is not None and se.heldout is not None else {}
        rel = d.get("reliability")
        rows.append({"model": d["label"], "conditions": d["sweep"]["n_conditions"],
                     "signal": f"{rel.n_signal} of {len(rel.values)}" if rel is not None else "n/a",
                     "gate": d["gate"].status,
                     "ci": h.rthor_model.get("ci") if h is not None else None,
                     "p": fmt_p(h.rthor_model.get("p_value")) if h is not None else "n/a",
                     "r": h.similarity.get("r_offdiag") if h is not None else None,
                     "edges": g.n_edges if g is not None else None,
                     "edges_rows": g.n_edges_at("rows") if g is not None else None, "auroc": learned.get("auroc")})
    out = ["<h2 id='compare'>Models side by side</h2>",
           _table(rows, [("model", "model"), ("conditions", "conditions"), ("signal", "values with signal"),
                         ("gate", "measurement gate"),
                         ("ci", "correspondence index"), ("p", "p"), ("r", "r with humans"),
                         ("edges", "graph edges"), ("edges_rows", "edges, every row counted"),
                         ("auroc", "held-out AUROC (learned graph)")], ("model", "signal", "gate"))]
    gs = [d for d in models if d.get("graph") is not None and not d["graph"].skipped]
    if len(gs) >= 2:
        def vg(d: dict[str, Any]) -> ValueGraph:
            g = ValueGraph(d["graph"].values)
            for e in d["graph"].edges:
                g.add_edge(e.u, e.v, *_MARKS[e.kind])
            return g

        a, b = gs[0], gs[1]
        if a["graph"].values == b["graph"].values:
            m = compare_graphs(vg(a), vg(b))
            out.append(f"<p>Graph of {_e(a['label'])} against {_e(b['label'])} as reference: SHD {m['shd']}, adjacency F1 "
                       f"{fmt_number(m['adjacency_f1'])}, skeleton Jaccard {fmt_number(m.get('skeleton_jaccard'))}.</p>")
    return "".join(out)


def render_html(run: Path, study: StudyRecord, models: list[dict[str, Any]], summary: list[str],
                figs: dict[str, str]) -> str:
    """The report page (deterministic for the same inputs)."""
    title = study.name
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
             "log-likelihood of yes/no answers); each role condition is one synthetic persona; intervals include the "
             "sampling of roles AND items; the measurement gate (section 0) says whether the scores carry value "
             "signal at all. "
             "Causal graphs from a few hundred observational rows are fragile: the bootstrap frequencies say how much.</p>"]
    parts += [model_section(run, d, figs) for d in models]
    parts.append(comparison_section(models))
    parts.append(methods_section(run, study, models))
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def methods_section(run: Path, study: StudyRecord, models: list[dict[str, Any]]) -> str:
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
            elif st == "graph" and d.get("graph") is not None and d["graph"].bootstrap:
                b = d["graph"].bootstrap
                extra = f"bootstrap {b['n_ok']}/{b['n_boot']} {b['scheme']} role resamples"
            rows.append({"model": d["label"], "stage": st, "seconds": info.get("elapsed_s"), "notes": extra})
    out.append("<h3>Timings (seconds of the run that computed each stage)</h3>")
    out.append(_table(rows, [("model", "model"), ("stage", "stage"), ("seconds", "seconds"), ("notes", "notes")],
                      ("model", "stage", "notes")))
    if study.run_s is not None:
        out.append(f"<p class='muted'>Last study invocation: {fmt_number(study.run_s, 1)} s before the report (stages "
                   f"skipped on resume take no time).</p>")
    vers = study.versions
    out.append("<h3>Versions</h3>" + _table([{"package": k, "version": v} for k, v in vers.items()],
                                            [("package", "package"), ("version", "version")], ("package", "version")))
    cfg = yaml_dump(dict(study.config))
    out.append(f"<h3>Config</h3><p>{_link(run, 'config.yaml')}</p><pre>{_e(cfg)}</pre>")
    out.append(f"<p class='muted'>All numbers of this page: {_link(run, 'data/report_data.json')}. "
               "Every number above is read from the files of this run folder by "
               "<code>lm-eval-values report</code>; running it again gives the same page.</p>")
    return "".join(out)


def yaml_dump(obj: Any) -> str:
    """The config as the report shows it."""
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)
