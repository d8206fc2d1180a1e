"""The analysis parts of a model's report section, each read through the typed stage records
(:mod:`lm_eval_values.results`): human structure, causal graph, side effects (the measurement parts are in
:mod:`lm_eval_values.report.validity`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lm_eval_values.report.markup import esc, figure, table
from lm_eval_values.report.summary import centering_note, fmt_number, fmt_p, observed_rule, sample_size_text
from lm_eval_values.report.validity import gate_note
from lm_eval_values.results.side_effects import auroc_text, power_sentence


def _skipped(reason: str | None) -> str:
    return f"<p class='caveat'>Skipped: {esc(reason or 'not run')}</p>"


def human_section(run: Path, d: dict[str, Any]) -> str:
    """The comparison with the human Schwartz structure."""
    mid = d["id"]
    out = ["<h3>2. Structure compared with humans (Schwartz circumplex)</h3>", gate_note(d, "human")]
    h = d.get("human")
    if h is None:
        hr = d.get("human_result")
        return "".join(out) + _skipped(hr.skipped_reason if hr is not None else None)
    raw = h.raw
    r, hr_ = h.rthor_model, h.rthor_human
    sim = h.similarity
    boot = raw.get("bootstrap") or {}
    rows = [{"metric": "RTHOR correspondence index", "model": r.get("ci"), "humans": hr_.get("ci")},
            {"metric": "permutation p-value", "model": fmt_p(r.get("p_value")), "humans": fmt_p(hr_.get("p_value"))},
            {"metric": "rows (roles / respondents)", "model": h.n_rows, "humans": 151},
            {"metric": "r with human correlations (off-diagonal)", "model": sim.get("r_offdiag"), "humans": 1.0},
            {"metric": "RMSE vs human correlations", "model": sim.get("rmse"), "humans": 0.0},
            {"metric": "MDS Procrustes disparity to humans", "model": raw["mds"]["model_to_human_disparity"],
             "humans": 0.0}]
    for k, name in (("1", "neighbours"), ("5", "opposite")):
        rows.append({"metric": f"mean correlation at circular distance {k} ({name})",
                     "model": raw["distance_curve"]["model"].get(k), "humans": raw["distance_curve"]["human"].get(k)})
    for kname, ho in raw["higher_order"]["model"].items():
        hh = raw["higher_order"]["human"].get(kname, {})
        rows.append({"metric": f"{kname.replace('_', ' ')}: mean r between poles",
                     "model": ho.get("between") if isinstance(ho, dict) else None,
                     "humans": hh.get("between") if isinstance(hh, dict) else None})
    out.append(table(rows, [("metric", "metric"), ("model", "model"), ("humans", "humans (PVQ-40, n = 151)")],
                     ("metric",)))
    if boot.get("ci"):
        out.append(f"<p class='muted'>{100 * boot['level']:.0f}% bootstrap intervals over {boot['n_boot']} role "
                   f"resamples: correspondence index [{fmt_number(boot['ci'][0])}, {fmt_number(boot['ci'][1])}], r with "
                   f"humans [{fmt_number(boot['r_offdiag'][0])}, {fmt_number(boot['r_offdiag'][1])}].</p>")
    for name, cap in (("correlations.png", "MRAT-centered value correlations: humans, model, difference."),
                      ("distance_curve.png", "Mean correlation by distance on the Schwartz circle; humans fall "
                                             "monotonically from neighbours to opposites."),
                      ("mds.png", "Metric MDS of the correlations, Procrustes-rotated onto the theoretical circle.")):
        rel = f"{mid}/human/{name}"
        if (run / rel).is_file():
            out.append(figure(rel, cap))
    causal = raw.get("causal", {})
    if "comparison" in causal:
        c = causal["comparison"]
        out.append(f"<p>PC graphs from the uncentered correlations (Fisher-z, alpha {causal['alpha']}): model "
                   f"{causal['model']['n_edges']} edges, humans {causal['human']['n_edges']} edges; adjacency F1 "
                   f"{fmt_number(c.get('adjacency_f1'))}, SHD {c.get('shd', 'n/a')}.</p>")
    return "".join(out)


def graph_section(run: Path, d: dict[str, Any]) -> str:
    """The causal graph: sample size, both edge counts, JCI targets, bootstrap and orientation stability."""
    mid = d["id"]
    out = ["<h3>3. Causal value graph</h3>", gate_note(d, "graph")]
    g = d.get("graph")
    if g is None or g.skipped:
        return "".join(out) + _skipped(None if g is None else g.skipped_reason)
    s = g.settings
    boot = g.bootstrap
    jci = s.get("jci") not in (None, "none")
    text = (f"{str(s['algo']).upper()} ({s['indep_test']}, alpha {s['alpha']}) on {g.n_rows} "
            f"{esc(s.get('split') or 'all')} rows ({g.rows.get('n_roles')} role conditions x steering settings "
            f"<code>{esc(', '.join(g.rows.get('steering_ids') or []))}</code>); {esc(sample_size_text(g))}. ")
    rows_n, eff_n = g.n_edges_at("rows"), g.n_edges_at("effective")
    if rows_n is not None and eff_n is not None:
        text += (f"The same data give {rows_n} value edges when every row counts as independent and {eff_n} at the "
                 f"effective n: rows of one role share its persona and items, so they are not independent "
                 f"observations (design effect 1 + (m - 1) &rho;<sub>x</sub>&rho;<sub>y</sub>, Scott &amp; Holt "
                 f"1982). ")
    if jci:
        text += ("Steering settings enter as Joint Causal Inference context variables (Mooij, Magliacane &amp; "
                 "Claassen 2020): interventions, not observations; a context adjacent to a value is a direct target. ")
    else:
        text += "Caveat: steered and unsteered rows are pooled, i.e. interventions are treated as observations. "
    if boot:
        text += (f"Edge width = share of the {boot['n_ok']} usable {esc(boot['scheme'])} role resamples (of "
                 f"{boot['n_boot']}) with the adjacency")
        if boot.get("orientation_threshold") is not None:
            text += (f"; an arrowhead is drawn only where at least {boot['orientation_threshold']:.0%} of the resamples "
                     f"with the pair adjacent orient it the same way ({boot['n_orientations_stable']} of "
                     f"{boot['n_oriented_edges']} orientations)")
        text += "."
    out.append(f"<p>{text}</p>")
    if (run / mid / "graph" / "graph.png").is_file():
        out.append(figure(f"{mid}/graph/graph.png", "Causal value graph (values on a circle in the matrix's order; "
                          "JCI context nodes on the outer ring)."))
    if g.targets:
        trows = [{"setting": k, "targets": ", ".join(v) or "none"} for k, v in g.targets.items()]
        out.append("<p>Direct targets of the steering settings (values adjacent to their context node):</p>")
        out.append(table(trows, [("setting", "steering setting"), ("targets", "values hit directly")],
                         ("setting", "targets")))
    gate = d.get("gate")
    erows = sorted(({**e.to_dict(), "gate": (gate.edge_note(e.u, e.v) if gate is not None else "") or "yes"}
                    for e in g.edges), key=lambda e: -(e.get("freq") or 0))
    out.append(table(erows, [("u", "from"), ("kind", "edge"), ("v", "to"), ("freq", "bootstrap adjacency freq"),
                             ("orientation_stability", "same orientation when adjacent"), ("drawn", "drawn as"),
                             ("gate", "interpretable as values")],
                     ("u", "kind", "v", "drawn", "gate")))
    return "".join(out)


def side_effects_section(d: dict[str, Any]) -> str:
    """The held-out prediction (designed targets, power before testing, AUROC intervals) and the study's metric."""
    out = ["<h3>5. Side effects: does the graph predict what else moves?</h3>"]
    se = d.get("side_effects")
    ho = se.heldout if se is not None else None
    if ho is not None:
        p = ho.params
        targets = ", ".join(f"{k} &rarr; {esc(v)} ({esc(ho.target_sources.get(k, ''))})" for k, v in ho.targets.items())
        rule = esc(p.get("target_rule_text", ""))
        out.append(f"<p>Graph fitted on the training rows; for each held-out steering setting (each dose separately, "
                   f"on {p['n_heldout_roles']} held-out role conditions) the target is {rule}: {targets}. Other values predicted to change are the target's descendants (score 1 / path "
                   f"length; descendant probabilities over the graph's resamples when available). Observed change: "
                   f"Wilcoxon signed-rank across held-out roles, Benjamini-Hochberg FDR {p['q']}{centering_note(p)}. "
                   f"{ho.n_significant} of {ho.n_tests} (setting, value) changes {esc(observed_rule(p))}.</p>")
        if ho.unknown_targets:
            out.append("<p class='caveat'>Not evaluated (no designed target, not guessed): " + "; ".join(
                f"{esc(k)}: {esc(v)}" for k, v in ho.unknown_targets.items()) + "</p>")
        if ho.excluded.get("n_rows"):
            roles = esc(", ".join(ho.excluded["roles"]))
            out.append(f"<p class='muted'>{ho.excluded['n_rows']} held-out rows of {roles} were left out: these role "
                       "conditions are also among the training rows.</p>")
        if ho.power:
            cls = "muted" if ho.power.get("informative") else "caveat"
            out.append(f"<p class='{cls}'>{esc(power_sentence(ho.power))}.</p>")
        rows = [{**dict(r), "auroc_ci": auroc_text(r)} for r in ho.table]
        cols = [("predictor", "predictor"), ("n_pairs", "pairs"), ("n_observed", "observed changes"),
                ("n_predicted", "predicted"), ("precision", "precision"), ("recall", "recall"),
                ("auroc_ci", "AUROC [interval]")]
        out.append(table(rows, cols, ("predictor", "auroc_ci")))
        iv = p.get("interval") or {}
        out.append(f"<p class='muted'>Intervals: {100 * iv.get('level', 0.95):.0f}% percentile intervals over "
                   f"{iv.get('n_boot')} replicates resampling {esc(iv.get('resampling', ''))}; every replicate redoes "
                   "the tests and the FDR decisions (conservative in simulation). AUROC is undefined (n/a) when no "
                   "pair, or every pair, changed.</p>")
    elif se is not None and se.heldout_skipped_reason:
        out.append(f"<p class='caveat'>Held-out evaluation skipped: {esc(se.heldout_skipped_reason)}</p>")
    srows, degenerate = [], []
    for kind, v in (se.study_metric if se is not None else {}).items():
        if v.get("degenerate"):
            degenerate.append(f"{kind}: {v.get('degenerate_reason')}")
        for gname, r in (v.get("graphs") or {}).items():
            srows.append({"changes": kind, "graph": gname, "rows": v["n_rows"], "expected": r.get("expected"),
                          "unexpected": r.get("unexpected"), "degenerate": "yes" if v.get("degenerate") else "no"})
    if srows:
        out.append("<p>The study's in-sample metric (frequency with which other values change when a value changes; "
                   "Expected = descendants in the graph, Unexpected = the rest; changes are any difference larger "
                   "than tol, the study: any non-zero difference):</p>")
        out.append(table(srows, [("changes", "changes"), ("graph", "graph"), ("rows", "rows"), ("expected", "Expected"),
                                 ("unexpected", "Unexpected"), ("degenerate", "degenerate")],
                         ("changes", "graph", "degenerate")))
        for line in degenerate:
            out.append(f"<p class='caveat'>Degenerate: {esc(line)}</p>")
    return "".join(out)


__all__ = ["graph_section", "human_section", "side_effects_section"]
