"""Which measurement design gives between-role value signal on the embedded models, and at what cost?

Designs (same synthetic roles + the model without a role, unsteered, Schwartz item bank, keyed scores):

* (a) yes/no, 2 items per value (1 keyed + 1 reverse-keyed; the demo before this comparison);
* (b) yes/no, 6 items per value (3 + 3, ``balance_keys: equal``) and all 10 (7 + 3);
* (c) counterbalanced yes/no (``format: yesno_cb``: "'yes' or 'no'" and "'no' or 'yes'"), 6 and 10 items;
* (d) Likert, probability-weighted rating averaged over both option orders (``format: likert_cb``),
  6 and 10 items; the single normal order for reference;
* (e) every design also under ``acquiescence_residualized`` scoring (from the reliability analysis).

Three sweeps per model run through the tool's own ``sweep`` machinery (configs written to the work
folder): ``yesno_2`` (design a, exactly the demo's sampling), ``yesno_cb_10`` and ``likert_cb_10``
(every item in both orders). The 6-item and single-order designs are the rows of those item tables
a sweep with ``max_items_per_value: 6, balance_keys: equal`` or a single ``format`` asks (chosen with
the sweep's own ``select_items``). Each design's item table goes through
:func:`lm_eval_values.measurement.run.analyse_items` (G study per value, signal rule, keyed vs
reverse-keyed r, acquiescence, scoring comparison).

Cost: every model forward of a sweep is counted (calls, rows, token positions computed, prefix vs
suffix), with wall and CPU seconds; the machine is shared, so counts are the stable measure. The
6-item and single-order designs' costs are derived: rows = items x orders exactly, tokens and
seconds linear in rows (per-row cost and per-condition overhead fitted on the measured sweeps).

Usage (CPU, about 10-15 min per model on 2 cores)::

    python benchmarks/measurement_designs.py [--models smollm2,gemma] [--roles 24] [--work runs/measurement_designs]

Writes ``benchmarks/results/measurement_designs.json`` and ``.md``. Re-running resumes the sweeps
(a finished sweep keeps the cost record of the run that computed it).
"""

from __future__ import annotations

import argparse
import json
import os

# a shared CPU: OpenMP threads that spin while waiting for a descheduled sibling slow every forward
# several-fold when another process holds a core; passive waiting keeps two threads useful
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
MODELS: dict[str, dict[str, Any]] = {
    "smollm2": {"label": "SmolLM2-135M-Instruct", "pretrained": "smollm2-135m-instruct", "chat": True},
    "gemma": {"label": "Gemma 3 270M (base, no chat template)", "pretrained": "gemma-3-270m", "chat": False},
}
SWEEPS: dict[str, dict[str, Any]] = {
    "yesno_2": {"format": "yesno",
                "sampling": {"max_items_per_value": 2, "seed": 0, "per_role": False, "balance_keys": True}},
    "yesno_cb_10": {"format": "yesno_cb", "sampling": {"fraction": 1.0, "seed": 0, "per_role": False}},
    "likert_cb_10": {"format": "likert_cb", "sampling": {"fraction": 1.0, "seed": 0, "per_role": False}},
}
#: id, label, sweep, formats kept, items per value (None: as the sweep asked)
DESIGNS: list[tuple[str, str, str, tuple[str, ...], int | None]] = [
    ("a_yesno_2", "(a) yes/no, 2 items (1+1)", "yesno_2", ("yesno",), None),
    ("b_yesno_6", "(b) yes/no, 6 items (3+3)", "yesno_cb_10", ("yesno",), 6),
    ("b_yesno_10", "(b) yes/no, 10 items (7+3)", "yesno_cb_10", ("yesno",), None),
    ("c_yesno_cb_6", "(c) counterbalanced yes/no, 6 items (3+3)", "yesno_cb_10", ("yesno", "yesno_rev"), 6),
    ("c_yesno_cb_10", "(c) counterbalanced yes/no, 10 items", "yesno_cb_10", ("yesno", "yesno_rev"), None),
    ("likert_10", "Likert, one order, 10 items", "likert_cb_10", ("likert",), None),
    ("d_likert_cb_6", "(d) Likert, both orders, 6 items (3+3)", "likert_cb_10", ("likert", "likert_rev"), 6),
    ("d_likert_cb_10", "(d) Likert, both orders, 10 items", "likert_cb_10", ("likert", "likert_rev"), None),
]
SCORINGS = ("raw", "acquiescence_residualized")


# ----------------------------------------------------------------------------- forward counting
class ForwardCounter:
    """Counts model forwards of the sweep's scorers (prefix-reuse path and plain lm-eval path)."""

    def __init__(self) -> None:
        self.calls = self.rows = self.tokens = self.prefix_tokens = self.prefix_calls = 0

    def install(self) -> None:
        import lm_eval_values.prefix_reuse as pr
        from lm_eval_values.model.values_hf import ValuesHFLM

        original_forward, original_call = pr._forward, ValuesHFLM._model_call

        def counted_forward(model: Any, steering: Any, ctx: Any, **kw: Any) -> Any:
            ids = kw["input_ids"]
            self._add(ids.shape[0], ids.numel(), prefix="cache" not in kw and "past_key_values" not in kw)
            return original_forward(model, steering, ctx, **kw)

        def counted_call(lm: Any, inps: Any, *args: Any, **kw: Any) -> Any:
            self._add(inps.shape[0], inps.numel(), prefix=False)
            return original_call(lm, inps, *args, **kw)

        pr._forward = counted_forward
        ValuesHFLM._model_call = counted_call

    def _add(self, rows: int, tokens: int, prefix: bool) -> None:
        self.calls += 1
        self.rows += 0 if prefix else rows
        self.tokens += tokens
        if prefix:
            self.prefix_calls += 1
            self.prefix_tokens += tokens

    def snapshot(self) -> dict[str, int]:
        return {"forward_calls": self.calls, "suffix_rows": self.rows, "tokens": self.tokens,
                "prefix_calls": self.prefix_calls, "prefix_tokens": self.prefix_tokens}


# ----------------------------------------------------------------------------- sweeps
def sweep_config(model: str, sweep: str, roles: int, work: Path) -> dict[str, Any]:
    """The sweep config (YAML mapping) of one model and sweep."""
    m = MODELS[model]
    return {"model": "values_hf", "model_args": {"pretrained": m["pretrained"], "dtype": "float32"},
            "tasks": ["values_schwartz"], "format": SWEEPS[sweep]["format"], "apply_chat_template": m["chat"],
            "roles": {"generate": {"train": roles, "test": 0, "seed": 0, "names": True}, "template": "trait",
                      "no_role": True},
            "steering": [{"type": "none"}], "sampling": SWEEPS[sweep]["sampling"], "batch_size": 16,
            "output_dir": str(work / model / sweep)}


def run_one_sweep(model: str, sweep: str, roles: int, work: Path, counter: ForwardCounter) -> dict[str, Any]:
    """Run (or resume) one sweep; returns its cost record (stored next to it)."""
    from lm_eval_values.sweep.run import run_sweep
    from lm_eval_values.sweep.config import load_config

    out = work / model / sweep
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = work / model / f"{sweep}.yaml"
    cfg_path.write_text(yaml.safe_dump(sweep_config(model, sweep, roles, work), sort_keys=False))
    cost_path = out / "cost.json"
    cfg = load_config(cfg_path)
    if cost_path.is_file() and (out / "manifest.json").is_file() and \
            json.loads((out / "manifest.json").read_text()).get("complete"):
        return json.loads(cost_path.read_text())
    before, cpu0, load0 = counter.snapshot(), time.process_time(), os.getloadavg()[0]
    summary = run_sweep(cfg, progress=False)
    after = counter.snapshot()
    conds = [json.loads(p.read_text()) for p in sorted((out / "conditions").glob("*/condition.json"))]
    elapsed = [c["elapsed_s"] for c in conds]
    cost = {k: after[k] - before[k] for k in after}
    cost.update({"conditions_run": summary.n_run, "conditions": summary.n_conditions,
                 "items_run": summary.n_items_run, "wall_s": round(summary.elapsed_s, 2),
                 "model_load_s": round(summary.load_s, 2), "cpu_s": round(time.process_time() - cpu0, 2),
                 "condition_wall_s_median": round(statistics.median(elapsed), 3),
                 "loadavg_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)],
                 "complete_run": summary.n_run == summary.n_conditions})
    cost_path.write_text(json.dumps(cost, indent=2) + "\n")
    return cost


# ----------------------------------------------------------------------------- designs
def design_items(items: pd.DataFrame, cfg_raw: dict[str, Any], formats: tuple[str, ...],
                 k: int | None) -> pd.DataFrame:
    """The rows of a sweep's item table that a design asks: its formats, and with ``k`` the items a sweep
    with ``max_items_per_value: k, balance_keys: equal, per_role: false`` draws (the sweep's own draw)."""
    from lm_eval_values.sweep.items import select_items
    from lm_eval_values.sweep.config import parse_config

    rows = items[items["format"].isin(formats)]
    if k is None:
        return rows.reset_index(drop=True)
    raw = {**cfg_raw, "sampling": {"max_items_per_value": k, "seed": 0, "per_role": False, "balance_keys": "equal"}}
    cfg = parse_config(raw, base=ROOT)
    docs = rows.drop_duplicates(["task", "doc_id"])
    doc_index = {t: sorted((int(r.doc_id), r.value, r.item_id, int(r.agreement)) for r in g.itertuples())
                 for t, g in docs.groupby("task")}
    chosen = select_items(doc_index, cfg, cfg.conditions()[0])
    keep = {(t, i) for t, ix in chosen.items() for i in ix}
    mask = [(t, int(d)) in keep for t, d in zip(rows["task"], rows["doc_id"])]
    return rows[mask].reset_index(drop=True)


def summarise(result: dict[str, Any], items: pd.DataFrame) -> dict[str, Any]:
    """The comparison numbers of one design from its reliability result."""
    vals = result["values"]
    per_value = {v: {"g": e["g"], "signal": e["signal"], "f": e.get("f"), "p": e.get("p"),
                     "keyed_reverse_r": e["keyed_reverse_r"],
                     "g_acq_resid": result["scoring_comparison"]["acquiescence_residualized"][v]["g"],
                     "signal_acq_resid": result["scoring_comparison"]["acquiescence_residualized"][v]["signal"]}
                 for v, e in vals.items()}
    gs = [0.0 if x["g"] is None else x["g"] for x in per_value.values()]
    gr = [0.0 if x["g_acq_resid"] is None else x["g_acq_resid"] for x in per_value.values()]
    rs = [x["keyed_reverse_r"] for x in per_value.values() if x["keyed_reverse_r"] is not None]
    acq = result["acquiescence"]["roles"]
    order = None
    fmts = sorted(items["format"].unique())
    if len(fmts) == 2:  # option-order effect: the two orders of the same (role, item)
        unk = items.assign(u=items["score"] * items["agreement"])
        wide = unk.pivot_table(index=["role_id", "item_id"], columns="format", values="u")
        a, b = wide[fmts[0]], wide[fmts[1]]
        order = {"formats": fmts, "mean_unkeyed": [float(a.mean()), float(b.mean())],
                 "r_between_orders": float(np.corrcoef(a, b)[0, 1])}
    k_items = [e.get("k_items") for e in vals.values() if e.get("k_items")]
    return {"n_roles": result["n_roles"], "items_per_value": int(np.median(k_items)) if k_items else None,
            "median_g": float(np.median(gs)), "n_signal": sum(x["signal"] for x in per_value.values()),
            "median_g_acq_resid": float(np.median(gr)),
            "n_signal_acq_resid": sum(x["signal_acq_resid"] for x in per_value.values()),
            "median_keyed_reverse_r": float(np.median(rs)) if rs else None,
            "acquiescence_mean": acq.get("mean"), "acquiescence_roles_differ": acq.get("roles_differ"),
            "acquiescence_g": acq.get("g"), "option_order": order, "values": per_value}


def derived_cost(design: tuple, n_items: int, costs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Cost per condition of a design: measured for whole sweeps, derived (linear in rows) for subsets."""
    _, _, sweep, formats, k = design
    c = costs[sweep]
    n = c["conditions"]
    orders = len(formats)
    rows = n_items * orders
    sweep_rows = c["items_run"] / n
    suffix_per_row = (c["tokens"] - c["prefix_tokens"]) / c["items_run"]
    prefix_per_order = c["prefix_tokens"] / n / (2 if SWEEPS[sweep]["format"].endswith("_cb") else 1)
    # seconds: per-condition overhead from the two yes/no sweeps (20 and 200 rows per condition)
    small, big = costs["yesno_2"], costs["yesno_cb_10"]
    x1, x2 = small["items_run"] / small["conditions"], big["items_run"] / big["conditions"]
    y1, y2 = small["condition_wall_s_median"], big["condition_wall_s_median"]
    slope_yesno = (y2 - y1) / (x2 - x1)
    overhead = max(0.0, y1 - slope_yesno * x1)
    per_row = (c["condition_wall_s_median"] - overhead) / sweep_rows
    measured = k is None and tuple(formats) == tuple(
        {"yesno": ("yesno",), "yesno_cb": ("yesno", "yesno_rev"), "likert_cb": ("likert", "likert_rev")}[
            SWEEPS[sweep]["format"]])
    return {"rows_per_condition": rows, "forward_rows_per_condition": rows,
            "tokens_per_condition": round(prefix_per_order * orders + suffix_per_row * rows),
            "forward_calls_per_condition": round(c["forward_calls"] / n, 1) if measured else None,
            "s_per_condition": round(c["condition_wall_s_median"] if measured else overhead + per_row * rows, 2),
            "cpu_s_per_condition": round(c["cpu_s"] / n, 2) if measured else None,
            "measured": measured}


def analyse_model(model: str, roles: int, work: Path, costs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every design of one model: reliability summary + cost."""
    from lm_eval_values.measurement.intervals import IntervalSettings
    from lm_eval_values.measurement.run import ReliabilitySettings, analyse_items
    from lm_eval_values.measurement.table import read_items

    settings = ReliabilitySettings(intervals=IntervalSettings(n_boot=200), manipulation_checks=False)
    tables = {s: read_items(work / model / s) for s in SWEEPS}
    out: dict[str, Any] = {}
    for design in DESIGNS:
        did, label, sweep, formats, k = design
        items = design_items(tables[sweep], sweep_config(model, sweep, roles, work), formats, k)
        n_items = items["item_id"].nunique()
        res = analyse_items(items, settings, f"{model}/{sweep}")
        out[did] = {"label": label, "sweep": sweep, "formats": list(formats),
                    **summarise(res, items), "cost": derived_cost(design, n_items, costs)}
    # the demo sweep (a) and the same items in the 10-item sweep are the same questions: check they agree
    a, b = tables["yesno_2"], tables["yesno_cb_10"]
    m = a.merge(b[b["format"] == "yesno"], on=["role_id", "item_id"], suffixes=("_a", "_b"))
    out["_consistency"] = {"cells": len(m), "max_abs_diff": float((m["score_a"] - m["score_b"]).abs().max())}
    return out


# ----------------------------------------------------------------------------- report
def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.2f}"


def markdown(result: dict[str, Any]) -> str:
    """The comparison tables as markdown."""
    lines = [f"# Measurement designs ({result['roles']} synthetic roles + no role, unsteered)", ""]
    for model, designs in result["models"].items():
        base = designs["b_yesno_6"]["cost"]
        lines += [f"## {MODELS[model]['label']}", "",
                  "| design | rows/cond | tokens/cond | s/cond | cost vs yes/no (same items) | median G | signal | "
                  "median G (acq.-resid.) | signal (acq.-resid.) | keyed-reverse r | acquiescence |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for did, d in designs.items():
            if did.startswith("_"):
                continue
            c = d["cost"]
            same = next(x for x in designs.values() if isinstance(x, dict) and x.get("formats") == ["yesno"]
                        and x.get("items_per_value") == d["items_per_value"]) if d["items_per_value"] else None
            rel = c["tokens_per_condition"] / same["cost"]["tokens_per_condition"] if same else float("nan")
            lines.append(
                f"| {d['label']} | {c['rows_per_condition']} | {c['tokens_per_condition']} | {c['s_per_condition']}"
                f"{'' if c['measured'] else '*'} | {rel:.2f}x | {d['median_g']:.2f} | {d['n_signal']}/10 | "
                f"{d['median_g_acq_resid']:.2f} | {d['n_signal_acq_resid']}/10 | "
                f"{_signed(d['median_keyed_reverse_r'])} | {_signed(d['acquiescence_mean'])} |")
        lines += ["", f"(* derived: linear in rows; yes/no with 6 items: {base['tokens_per_condition']} tokens.)", ""]
        lines += ["| value | " + " | ".join(did for did in designs if not did.startswith("_")) + " |",
                  "|---|" + "---|" * sum(not d.startswith("_") for d in designs)]
        values = list(designs["a_yesno_2"]["values"])
        for v in values:
            cells = []
            for did, d in designs.items():
                if did.startswith("_"):
                    continue
                x = d["values"][v]
                g = "n/a" if x["g"] is None else f"{x['g']:.2f}"
                cells.append(g + (" S" if x["signal"] else ""))
            lines.append(f"| {v} | " + " | ".join(cells) + " |")
        lines += ["", "G per value, raw scoring (S = signal: F test p < 0.05 and G >= 0.5).", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm2,gemma")
    parser.add_argument("--roles", type=int, default=24)
    parser.add_argument("--work", default=str(ROOT / "runs" / "measurement_designs"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "measurement_designs"))
    parser.add_argument("--sweeps-only", action="store_true")
    args = parser.parse_args(argv)
    work = Path(args.work).resolve()
    counter = ForwardCounter()
    counter.install()
    result: dict[str, Any] = {"roles": args.roles, "models": {}, "costs": {},
                              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "cpu_count": os.cpu_count()}
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        costs = {s: run_one_sweep(model, s, args.roles, work, counter) for s in SWEEPS}
        result["costs"][model] = costs
        if not args.sweeps_only:
            result["models"][model] = analyse_model(model, args.roles, work, costs)
    if args.sweeps_only:
        print(json.dumps(result["costs"], indent=2))
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
