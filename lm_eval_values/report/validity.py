"""The measurement-validity parts of a model's report section: the reliability of the value scores and
the measurement gate (section 0), the value profile with intervals over roles and items (section 1),
the steering manipulation checks with the dose-response (section 4), and the gate's note on every
stage built on the value scores."""

from __future__ import annotations

from typing import Any

from lm_eval_values.measurement.bias import SCORINGS
from lm_eval_values.report.markup import esc, figure, table
from lm_eval_values.report.profile import TWO_WAY, width_ratio
from lm_eval_values.report.summary import dose_phrase, fmt_number, shown_flags, target_effects
from lm_eval_values.results.gate import GATED_STAGES, INTERPRETABLE, UNCHECKED, MeasurementGate
from lm_eval_values.results.reliability import DoseCheck, Estimate, ManipulationCheck


def gate_note(d: dict[str, Any], stage: str) -> str:
    """The gate's note on one stage (``graph``, ``human``, ``side_effects``): a caveat box when the stage is
    not (fully) interpretable as values, nothing when it is."""
    gate: MeasurementGate | None = d.get("gate")
    if gate is None:
        return ""
    sg = gate.stage(stage)
    if sg.status == INTERPRETABLE:
        return ""
    if sg.status == UNCHECKED:
        return f"<p class='muted'>Measurement gate unchecked: {esc(sg.reason)}</p>"
    return (f"<p class='caveat'><b>{esc(sg.status.upper())}</b> (measurement gate): {esc(sg.reason)}. The numbers "
            f"below are computed and shown all the same; read them as a description of the answers, not of values.</p>")


def _gate_box(gate: MeasurementGate) -> str:
    if gate.status == INTERPRETABLE:
        return f"<p class='summary'><b>Measurement gate: interpretable.</b> {esc(gate.reason)}.</p>"
    stages = ", ".join(f"{GATED_STAGES[k]}: {gate.stage(k).status}" for k in GATED_STAGES)
    return (f"<div class='caveat'><p><b>Measurement gate: {esc(gate.status.upper())}</b> ({esc(stages)})</p>"
            f"<p>{esc(gate.reason)}.</p></div>")


def reliability_section(d: dict[str, Any]) -> str:
    """Section 0: the gate, the scoring of the value scores, per value G / F / verdict, acquiescence."""
    out = ["<h3>0. Measurement: value signal or response bias?</h3>"]
    gate: MeasurementGate = d["gate"]
    out.append(_gate_box(gate))
    scoring = d.get("scoring", "raw")
    note = f" {esc(d['scoring_note'])}" if d.get("scoring_note") else ""
    out.append(f"<p>Value scores: <b>{esc(scoring)}</b> scoring ({esc(SCORINGS.get(scoring, ''))}); the profile, "
               f"the graph, the human comparison, the manipulation checks and the side effects all use these scores "
               f"(<code>reliability.scoring</code> of the study config).{note}</p>")
    rel = d.get("reliability")
    if rel is None:
        reason = d["stages"].get("reliability", {}).get("skipped_reason")
        return "".join(out) + f"<p class='caveat'>Skipped: {esc(reason or 'not run')}</p>"
    roles = rel.acquiescence_roles_text()
    out.append(f"<p>{esc(rel.summary_line())}{esc(', and ' + roles) if roles else ''}. G = share of a value score's "
               "variance over roles that is role signal rather than role x item noise (roles and items are random "
               "facets); a value has signal when the F test of roles (MS_role / MS_role x item) rejects and G "
               "reaches the floor. Keyed vs reverse-keyed r: the correlation across roles of the value's keyed and "
               "reverse-keyed item means; near -1 the roles differ in how often they say yes, not in the value.</p>")
    order = {v: i for i, v in enumerate(d["profile"]["value"])}  # the matrix's (canonical) value order
    rows = [{"value": v, "g": r.g, "f": r.f, "r": r.keyed_reverse_r, "signal": "yes" if r.signal else "no",
             "verdict": r.verdict} for v, r in sorted(rel.values.items(), key=lambda kv: order.get(kv[0], len(order)))]
    out.append(table(rows, [("value", "value"), ("g", "G"), ("f", "MS_role / MS_role x item"),
                            ("r", "keyed vs reverse-keyed r"), ("signal", "signal"), ("verdict", "verdict")],
                     ("value", "signal", "verdict")))
    return "".join(out)


def profile_section(d: dict[str, Any], fig: str | None) -> str:
    """Section 1: the value profile with intervals over roles AND items."""
    prof = d["profile"]
    out = ["<h3>1. Value profile</h3>"]
    honest = bool(len(prof)) and (prof["interval"] == TWO_WAY).all()
    if honest:
        ratio = width_ratio(prof)
        what = ("95% intervals over roles AND items: two-way (pigeonhole) bootstrap, roles and each value's items "
                "resampled (Owen 2007), from the reliability analysis. Items are a sample of the items that could "
                "have been asked, as roles are a sample of respondents")
        if ratio is not None:
            what += (f"; an interval over roles with the items held fixed (last columns, for comparison only) is "
                     f"{ratio:.0f}x narrower on median because it leaves item sampling out")
    else:
        what = ("95% intervals: " + "; ".join(sorted(set(prof["interval"]))) + ". Without an item-level analysis the "
                "interval leaves item sampling out and is too narrow")
    if fig is not None:
        out.append(figure(fig, f"Mean unsteered value score over the respondents (bars) with {esc(what)}; diamond: "
                               "the model without any role."))
    else:
        out.append(f"<p>{esc(what)}.</p>")
    cols = [("value", "value"), ("mean", "mean"), ("ci_lo", "95% lo"), ("ci_hi", "95% hi"),
            ("interval", "interval over"),
            ("n_items", "items"), ("n_respondents", "respondents"), ("vc_lo", "variance-component lo"),
            ("vc_hi", "variance-component hi"), ("roles_only_lo", "roles only, items fixed: lo (too narrow)"),
            ("roles_only_hi", "hi (too narrow)"), ("no_role", "no role")]
    out.append(table(prof.to_dict(orient="records"), cols, ("value", "interval")))
    return "".join(out)


def _iv(e: Estimate | None) -> str:
    if e is None or e.estimate is None:
        return "n/a"
    return f"{e.estimate:+.3f} [{fmt_number(e.lo, 3, True)}, {fmt_number(e.hi, 3, True)}]"


def _dose_row(m: ManipulationCheck, dc: DoseCheck) -> dict[str, Any]:
    return {"setting": m.steering_id, "dose": fmt_number(dc.coefficient, 2, True),
            "target": dc.target or "none: the setting names no value", "change": _iv(dc.target_change),
            "specificity": _iv(dc.specificity), "acq": _iv(dc.acquiescence_shift),
            "flags": ", ".join(shown_flags(dc.flags)) or "target unknown",
            "items": "n/a" if dc.items_included is None else "yes" if dc.items_included else "no (one item per key)",
            "roles": dc.n_roles}


def manipulation_section(d: dict[str, Any], fig: str | None) -> str:
    """Section 4: per steering setting and dose, the manipulation check; across doses, the dose-response."""
    out = ["<h3>4. Steering: manipulation checks and dose-response</h3>"]
    rel = d.get("reliability")
    checks = list(rel.manipulation) if rel is not None else []
    if not checks and d["dose"].empty:
        return "".join(out) + "<p class='muted'>No steered settings in this sweep.</p>"
    if checks:
        out.append("<p>Did each steering setting move the value it was designed to move, the intended way, more "
                   "than the other values, and how much did it move the yes-bias? Per setting and dose: the designed "
                   "target's change (each role steered minus the same role unsteered, on the same items), its "
                   "specificity (target change minus the median change of the other values) and the acquiescence "
                   "shift (change of the mean unkeyed answer: +1 = yes to everything), each with a 95% interval over "
                   "roles AND items (two-way bootstrap). Flags: <b>wrong-signed</b> (the target moved against the "
                   "coefficient's sign), <b>no-effect</b> (its interval includes 0), <b>non-specific</b> (the other "
                   "values moved as much), <b>bias-only</b> (the yes-bias moved more than the target specifically).</p>")
        rows = [_dose_row(m, dc) for m in checks for dc in m.doses]
        out.append(table(rows, [("setting", "setting"), ("dose", "dose"), ("target", "designed target"),
                                ("change", "target change [95%]"), ("specificity", "specificity [95%]"),
                                ("acq", "acquiescence shift [95%]"), ("flags", "flags"),
                                ("items", "intervals include items"), ("roles", "roles")],
                         ("setting", "target", "flags", "change", "specificity", "acq")))
        words = [f"{m.steering_id} {dose_phrase(dc)}" for m in checks for dc in m.doses if dc.flags != ("ok",)]
        if words:
            out.append("<ul class='caveat'>" + "".join(f"<li>{esc(w)}</li>" for w in words) + "</ul>")
        untargeted = [m.steering_id for m in checks if m.target is None]
        if untargeted:
            out.append("<p>Settings without a designed target (their id names no value; name one under "
                       "<code>reliability.manipulation.targets</code>): "
                       f"<code>{esc(', '.join(untargeted))}</code>.</p>")
        srows = [{"setting": m.steering_id, "target": m.target or "none", "rho": m.spearman_rho,
                  "sign": m.sign_agreement, "mono": "n/a" if m.monotonic is None else "yes" if m.monotonic else "no",
                  "flags": ", ".join(m.flags)} for m in checks]
        out.append("<p>Dose-response of the target across doses (the unsteered condition counts as dose 0): "
                   "<b>direction ignored</b> when negative and positive doses move the target the same way "
                   "(a V-shaped response).</p>")
        out.append(table(srows, [("setting", "setting"), ("target", "designed target"), ("rho", "Spearman rho"),
                                 ("sign", "sign agreement"), ("mono", "monotonic"), ("flags", "flags")],
                         ("setting", "target", "flags")))
    else:
        out.append("<p class='caveat'>No manipulation checks (the reliability analysis did not run): the table "
                   "below gives the targeted value's mean change with intervals over roles only (items fixed: too "
                   "narrow).</p>")
        out.append(table(target_effects(d["dose"]), [("steering_id", "setting"), ("coefficient", "coefficient"),
                                                     ("change", "target change"), ("ci_lo", "95% lo"),
                                                     ("ci_hi", "95% hi"), ("n_roles", "roles")], ("steering_id",)))
    if fig is not None:
        out.append(figure(fig, "Mean paired change (role steered minus the same role unsteered) against the steering "
                               "coefficient; black: the designed target with its 95% band (over roles and items where "
                               "the manipulation checks give it); thin lines: the other values. prompt:X = "
                               "value-definition prompt (+1 inclined, -1 disinclined); vec:X = diff-of-means vector "
                               "(coefficient x residual norm)."))
    return "".join(out)


__all__ = ["gate_note", "manipulation_section", "profile_section", "reliability_section"]
