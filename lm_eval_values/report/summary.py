"""What the report says about each model, read from a study run folder's files (no model).

:func:`collect_model` gathers one model's stage records, matrix, profile and dose-response;
:func:`model_summary` / :func:`study_summary` turn them into the plain-language findings the report
and the ``study`` command print.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import MANIFEST_FILE, MATRIX_FILE, STAGES
from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.measurement.scored_matrix import sweep_value_matrix
from lm_eval_values.report.figures import dose_response
from lm_eval_values.report.profile import value_profile, with_item_intervals
from lm_eval_values.results.gate import (INTERPRETABLE, NOT_INTERPRETABLE, PARTLY, UNCHECKED, MeasurementGate,
                                        measurement_gate)
from lm_eval_values.results.graph import GraphResult, read_graph_result
from lm_eval_values.results.human import read_compare_human, read_human_result
from lm_eval_values.results.records import read_json_object, read_stage_record
from lm_eval_values.results.reliability import DoseCheck, Estimate, ManipulationCheck, read_reliability
from lm_eval_values.results.side_effects import auroc_text, read_side_effects_result


def read_json_or_none(p: Path) -> Any:
    """The JSON object in ``p``, or None when it is missing or unreadable."""
    return read_json_object(p)


def json_clean(x: Any) -> Any:
    """``x`` for ``report_data.json``: keys as text, floats rounded to 6 digits, NaN as null."""
    if isinstance(x, float):
        return None if not math.isfinite(x) else round(x, 6)
    if isinstance(x, dict):
        return {str(k): json_clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_clean(v) for v in x]
    if hasattr(x, "item") and callable(x.item):
        return json_clean(x.item())
    return x


def _scored_matrix(sweep: Path, scoring: str, include_no_role: bool) -> tuple[ValueMatrix, str]:
    """The value matrix the study's stages read (see :mod:`lm_eval_values.measurement.scored_matrix`), and a
    note when it had to fall back to the raw matrix."""
    try:
        return sweep_value_matrix(sweep, scoring, include_no_role), ""
    except UserError as exc:
        if scoring == "raw":
            raise
        return (read_value_matrix(sweep / MATRIX_FILE, check=False, field=MATRIX_FILE),
                f"raw scores shown: {exc.problem}")


def collect_model(run: Path, mid: str, label: str, scoring: str = "raw",
                  include_no_role: bool = True) -> dict[str, Any]:
    """Everything the report shows for one model, read from ``run/<mid>/``; ``scoring``: the study's
    ``reliability.scoring`` (the value scores its stages read)."""
    mdir = run / mid
    d: dict[str, Any] = {"id": mid, "label": label, "stages": {}, "scoring": scoring}
    for st in STAGES:
        rec = read_stage_record(mdir / st)
        if rec is not None:
            d["stages"][st] = dict(rec.raw)
    matrix = mdir / "sweep" / MATRIX_FILE
    if not matrix.is_file():
        d["missing"] = "no sweep matrix"
        return d
    vm, d["scoring_note"] = _scored_matrix(mdir / "sweep", scoring, include_no_role)
    manifest = read_json_or_none(mdir / "sweep" / MANIFEST_FILE) or {}
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
    rel = read_reliability(mdir / "reliability")
    d["reliability"] = rel
    d["gate"] = measurement_gate(rel, d["stages"].get("reliability", {}).get("skipped_reason"))
    d["profile"] = value_profile(vm, rel)
    d["dose"] = with_item_intervals(dose_response(vm), rel)
    d["graph"] = read_graph_result(mdir / "graph")
    d["human"] = read_compare_human(mdir / "human")
    d["human_result"] = read_human_result(mdir / "human")
    d["side_effects"] = read_side_effects_result(mdir / "side_effects")
    return d


def observed_rule(params: dict[str, Any]) -> str:
    """How a held-out change was counted, in words (significance, centring, minimum size)."""
    rule = f"significant at FDR {params['q']:g}"
    if params.get("tol"):
        rule += f" and larger than {params['tol']:g}"
    if params.get("centering", "none") != "none":
        rule += f" after {params['centering']} centring"
    return rule


def centering_note(params: dict[str, Any]) -> str:
    """HTML sentence part explaining the centring of paired changes, if any."""
    c = params.get("centering", "none")
    if c == "none":
        return ""
    what = "median" if c == "median" else "mean"
    return (f"; every role's paired change vector minus its {what} over the values first (the shift common to all "
            f"values, e.g. a change of the yes/no response bias, is not a side effect)")


def fmt_number(x: Any, nd: int = 2, sign: bool = False) -> str:
    """``x`` with ``nd`` decimals (``sign``: always signed); ``n/a`` for None or NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def fmt_p(p: Any) -> str:
    """A p-value for prose: two significant digits, ``< 0.001`` below that."""
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
                        "n_roles": int(r["n_roles"]), "interval": r.get("interval", "roles only (items fixed)"),
                        "mean_abs_change_others": float(o.mean()) if len(o) else math.nan})
    return out


def sample_size_text(g: GraphResult) -> str:
    """How the graph's tests counted observations, in words."""
    size = g.sample_size or {}
    if size.get("mode") == "effective" and size.get("n") is not None:
        return f"effective n = {size['n']:.0f} of {g.n_rows} rows (role clusters, per-pair design effect)"
    if size.get("mode") == "rows":
        return f"every one of the {g.n_rows} rows counted as independent"
    return f"n = {fmt_number(size.get('n'), 0)} as given" if size.get("n") is not None else f"{g.n_rows} rows"


def graph_sentence(lab: str, g: GraphResult) -> str:
    """The summary line of a fitted graph: edges at both sample sizes, bootstrap and orientation stability."""
    s = g.settings
    jci = f", JCI {s.get('jci')} contexts" if s.get("jci") not in (None, "none") else ""
    text = (f"{lab} causal graph ({str(s.get('algo', 'pc')).upper()} on {g.n_rows} {s.get('split') or 'all'} rows, "
            f"{sample_size_text(g)}{jci}): {g.n_edges} edges among {len(g.values)} values")
    rows_n, eff_n = g.n_edges_at("rows"), g.n_edges_at("effective")
    if rows_n is not None and eff_n is not None:
        eff = (g.edges_by_sample_size.get("effective") or {}).get("n")
        text += f" ({rows_n} with every row counted, {eff_n} at the effective n = {fmt_number(eff, 0)})"
    boot = g.bootstrap
    if boot:
        text += (f"; {boot['n_edges_above_threshold']} of them in >= {boot['threshold']:.0%} of the {boot['n_ok']} "
                 f"{boot['scheme']} role resamples")
        if boot.get("n_orientations_stable") is not None:
            text += (f"; {boot['n_orientations_stable']} of {boot['n_oriented_edges']} orientations held in >= "
                     f"{boot['orientation_threshold']:.0%} of the resamples with the pair adjacent")
    return text + "."


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
        top = ", ".join(f"{r.value} {fmt_number(r.mean, sign=True)}" for r in p.head(3).itertuples())
        low = ", ".join(f"{r.value} {fmt_number(r.mean, sign=True)}" for r in p.tail(2).itertuples())
        lines.append(f"{lab} values most (unsteered, {d['scoring']} scores, mean over {int(p['n_respondents'].max())} "
                     f"respondents): {top}; least: {low}.")
    rel, gate = d.get("reliability"), d["gate"]
    if rel is not None:
        lines.append(f"{lab} measurement: {rel.summary_line()}.")
    elif d["stages"].get("reliability", {}).get("skipped_reason"):
        lines.append(f"{lab}: reliability analysis skipped ({d['stages']['reliability']['skipped_reason']}).")
    lines.append(gate_line(lab, gate))
    h = d.get("human")
    if h is not None:
        r, hr = h.rthor_model, h.rthor_human
        verdict = ("follows the human circular order of values significantly" if h.follows_circle
                   else "shows no significant evidence of the human circular order")
        lines.append(gated(f"{lab} {verdict}: correspondence index {fmt_number(r.get('ci'))} (p "
                           f"{fmt_p(r.get('p_value'))}; humans {fmt_number(hr.get('ci'))}), correlation with the human "
                           f"value-correlation matrix r = {fmt_number(h.similarity.get('r_offdiag'))} over {h.n_rows} "
                           f"roles.", gate, "human"))
    elif d.get("human_result") is not None and d["human_result"].skipped_reason:
        lines.append(f"{lab}: human comparison skipped ({d['human_result'].skipped_reason}).")
    g = d.get("graph")
    if g is not None and not g.skipped:
        lines.append(gated(graph_sentence(lab, g), gate, "graph"))
    elif g is not None:
        lines.append(f"{lab}: causal graph skipped ({g.skipped_reason}).")
    checks = rel.manipulation if rel is not None else ()
    lines += [manipulation_line(lab, m) for m in checks]
    te = target_effects(d["dose"])
    if te and not checks:
        parts = []
        for sid in dict.fromkeys(t["steering_id"] for t in te):
            xs = [t for t in te if t["steering_id"] == sid]
            parts.append(f"{sid} " + ", ".join(f"{fmt_number(t['coefficient'], 2, True)}: "
                                               f"{fmt_number(t['change'], 2, True)}" for t in xs))
        lines.append(f"{lab} steering, change of the targeted value (coefficient: mean change over roles; no "
                     f"manipulation checks without an item table): " + "; ".join(parts) + ".")
    se = d.get("side_effects")
    ho = se.heldout if se is not None else None
    if ho is not None:
        learned, human = ho.predictor("learned graph"), ho.predictor("human PC graph")
        rnd, corr = ho.predictor("degree-preserving"), ho.predictor("correlation graph")
        power = ("" if not ho.power or ho.power.get("informative")
                 else f" The test is not informative: {ho.power['reason']}.")
        targets = ", ".join(f"{k} -> {v}" for k, v in ho.targets.items())
        lines.append(gated(f"{lab} held-out side effects (targets: {targets}): "
                           f"{ho.n_significant} of {ho.n_tests} (setting, value) changes {observed_rule(ho.params)}; "
                           f"AUROC learned graph {auroc_text(learned)}, random graphs {auroc_text(rnd)}, correlation "
                           f"graph {auroc_text(corr)}, human graph {auroc_text(human) if human else 'n/a'}.{power}",
                           gate, "side_effects"))
    elif se is not None and se.heldout_skipped_reason:
        lines.append(f"{lab}: held-out side-effect evaluation skipped ({se.heldout_skipped_reason}).")
    return lines


def gate_line(lab: str, gate: MeasurementGate) -> str:
    """The measurement gate of a model as a summary line."""
    if gate.status == UNCHECKED:
        return f"{lab} measurement gate {gate.reason}."
    what = {NOT_INTERPRETABLE: "NOT INTERPRETABLE", PARTLY: "PARTLY INTERPRETABLE", INTERPRETABLE: "interpretable"}
    return f"{lab} measurement gate: {what[gate.status]}: {gate.reason}."


def gated(line: str, gate: MeasurementGate, stage: str) -> str:
    """``line`` marked with the stage's gate status when it is not (fully) interpretable."""
    sg = gate.stage(stage)
    if sg.status in (INTERPRETABLE, UNCHECKED):
        return line
    return f"[{sg.status.upper()}: see the measurement gate] {line}"


def _iv(e: Estimate | None, nd: int = 3) -> str:
    if e is None or e.estimate is None:
        return "n/a"
    return f"{e.estimate:+.{nd}f} [{fmt_number(e.lo, nd, True)}, {fmt_number(e.hi, nd, True)}]"


#: the order flags are named in (the most telling first)
FLAG_ORDER = ("wrong-signed", "bias-only", "non-specific", "no-effect", "ok")


def shown_flags(flags: tuple[str, ...]) -> list[str]:
    """A dose's flags in :data:`FLAG_ORDER` (``target unknown`` is said in words instead)."""
    return sorted((f for f in flags if f != "target unknown"),
                  key=lambda f: FLAG_ORDER.index(f) if f in FLAG_ORDER else len(FLAG_ORDER))


def dose_phrase(dc: DoseCheck) -> str:
    """One dose of a manipulation check in words, e.g. ``at +0.5 bias-only, no-effect: it moved the yes-bias
    by +1.163 [+1.130, +1.196] and Power by +0.046 [...] (specificity ...)``."""
    head = f"at {fmt_number(dc.coefficient, 2, True)} {', '.join(shown_flags(dc.flags))}"
    if dc.target is None:
        return f"{head or 'at ' + fmt_number(dc.coefficient, 2, True)}: it moved the yes-bias by " \
               f"{_iv(dc.acquiescence_shift)}"
    if dc.target_change is None:
        return f"{head}: not estimable"
    tgt = f"{dc.target} by {_iv(dc.target_change)} (specificity {_iv(dc.specificity)})"
    if "bias-only" in dc.flags:
        return f"{head}: it moved the yes-bias by {_iv(dc.acquiescence_shift)} and {tgt}"
    return f"{head}: it moved {tgt} and the yes-bias by {_iv(dc.acquiescence_shift)}"


def manipulation_line(lab: str, m: ManipulationCheck) -> str:
    """The manipulation check of one steering setting (all doses) as a summary line."""
    doses = "; ".join(dose_phrase(dc) for dc in m.doses)
    if m.target is None:
        return (f"{lab} manipulation check of {m.steering_id}: no designed target (the setting names no value; name "
                f"one under reliability.manipulation.targets); {doses}.")
    scope = "roles and items" if all(dc.items_included for dc in m.doses if dc.target_change) else \
        "roles (item sampling not estimable)"
    across = [f for f in m.flags if f in ("direction ignored", "non-monotonic")]
    words = {"direction ignored": "direction ignored (negative and positive doses move it the same way)",
             "non-monotonic": "non-monotonic"}
    tail = f"; across doses: {', '.join(words[f] for f in across)}" if across else ""
    rho = "" if m.spearman_rho is None else f"; Spearman rho over doses {m.spearman_rho:+.2f}"
    return (f"{lab} manipulation check of {m.steering_id} (target {m.target}; intervals over {scope}): "
            f"{doses}{rho}{tail}.")


def study_summary(models: list[dict[str, Any]]) -> list[str]:
    """The short plain-language summary of the whole study."""
    lines = [ln for d in models for ln in model_summary(d)]
    small = [d for d in models if "sweep" in d and max(d["sweep"]["n_roles"].values() or [0]) < 30]
    if small:
        lines.append("Caveat: " + ", ".join(d["label"] for d in small) + " used fewer than 30 roles per split and few "
                     "items per value (sized for a CPU demo); intervals are wide and p-values low-powered, so read the "
                     "numbers as a demonstration of the method, not as a measurement.")
    return lines
