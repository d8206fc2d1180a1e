"""Figure 10 of ``benchmarks/run_all.py``: what each measurement-validity option costs.

Sweep side (SmolLM2-135M-Instruct, ``values_schwartz`` with the chat template, study roles, no
steering, values_hf with its defaults): small sweeps run through :func:`lm_eval_values.sweep.run.run_sweep`
with each answer format / item count, alternating (A B C ... A B C ..., two repetitions), counting the model's forward
passes and tokens and timing the condition loop (model load and task loading excluded: they do not
grow with the option). Baseline: plain yes/no, 2 items per value.

Analysis side (from figures 8 and 9 of the same run): the bootstrap schemes and JCI relative to one
plain PC fit on the Gemma matrix, and the reliability analysis of the demo.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from typing import Any

from common import ROOT, forward_counter, med

#: option -> (format, items per value); the first is the baseline
SWEEP_OPTIONS: dict[str, tuple[str, int]] = {
    "yes/no (baseline)": ("yesno", 2),
    "yes/no, both option orders (yesno_cb)": ("yesno_cb", 2),
    "yes/no, 4 items per value (2x items)": ("yesno", 4),
    "Likert 1-6": ("likert", 2),
    "Likert 1-6, both orders (likert_cb)": ("likert_cb", 2),
}
N_ROLES = 3


def sweep_config(fmt: str, items_per_value: int, n_roles: int = N_ROLES) -> dict[str, Any]:
    """The sweep config mapping of one option."""
    return {"model": "values_hf", "model_args": {"pretrained": "smollm2-135m-instruct", "dtype": "float32"},
            "tasks": ["values_schwartz"], "format": fmt, "apply_chat_template": True,
            "roles": {"generate": {"train": n_roles, "test": 0, "seed": 0, "names": True}, "template": "trait",
                      "no_role": False},
            "steering": [{"type": "none"}],
            "sampling": {"max_items_per_value": items_per_value, "seed": 0, "per_role": False,
                         "balance_keys": True},
            "batch_size": 16}


def _run(fmt: str, k: int) -> dict[str, Any]:
    from lm_eval_values.sweep.config import parse_config
    from lm_eval_values.sweep.run import run_sweep

    cfg = parse_config(sweep_config(fmt, k), base=ROOT, source="benchmark")
    with tempfile.TemporaryDirectory(prefix="bench_validity_") as tmp:
        with forward_counter() as c, contextlib.redirect_stderr(io.StringIO()):
            s = run_sweep(cfg, out=tmp, progress=False)
    return {"seconds": s.elapsed_s, "items": s.n_items_run, "conditions": s.n_run, "passes": c["passes"],
            "tokens": c["tokens"], "forward_s": c["seconds"]}


def fig_validity(R: dict, reps: int) -> None:
    """Figure 10 (sweep side); the analysis side is read from figures 8 and 9 when the table is written."""
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in SWEEP_OPTIONS}
    _run("yesno", 1)  # warm up (first model load, task indexing)
    for _ in range(2):
        for name, (fmt, k) in SWEEP_OPTIONS.items():
            runs[name].append(_run(fmt, k))
    base = next(iter(SWEEP_OPTIONS))
    rows = {}
    for name, rs in runs.items():
        r0 = rs[0]
        rows[name] = {"format": SWEEP_OPTIONS[name][0], "items_per_value": SWEEP_OPTIONS[name][1],
                      "items": r0["items"], "passes": r0["passes"], "tokens": r0["tokens"],
                      "seconds_median": med([r["seconds"] for r in rs]),
                      "seconds_ratio": med([r["seconds"] / b["seconds"] for r, b in zip(rs, runs[base])]),
                      "passes_ratio": r0["passes"] / runs[base][0]["passes"],
                      "tokens_ratio": r0["tokens"] / runs[base][0]["tokens"]}
    R["fig10"] = {"model": "SmolLM2-135M-Instruct, float32, values_hf (prefix reuse on), batch 16",
                  "design": f"values_schwartz (10 values), {N_ROLES} study roles, no steering, chat template",
                  "reps": len(runs[base]), "options": rows}


def analysis_costs(R: dict) -> list[dict[str, Any]]:
    """The analysis-side options as rows ``{option, seconds, ratio, baseline}`` (from figures 8 and 9)."""
    f8, f9 = R.get("fig8") or {}, R.get("fig9") or {}
    out: list[dict[str, Any]] = []
    plain = f8.get("pc_tool_s")
    if plain:
        out.append({"option": "PC, every row counted (baseline)", "seconds": plain, "ratio": 1.0})
        for key, label in (("pc_tool_effective_s", "PC at the effective sample size (role clustering)"),
                           ("pc_tool_rows_jci_s", "PC with JCI steering contexts"),
                           ("pc_tool_honest_jci_s", "PC, effective n + JCI steering contexts")):
            if f8.get(key):
                out.append({"option": label, "seconds": f8[key], "ratio": f8[key] / plain})
        for label, s in (f8.get("bootstrap_s_per_100") or {}).items():
            out.append({"option": f"bootstrap, 100 resamples: {label}", "seconds": s, "ratio": s / plain})
    rel = (f9.get("seconds") or {}).get("reliability")
    if rel is not None:
        out.append({"option": "reliability of the demo (G study, acquiescence, two-way bootstrap "
                              f"{(f9.get('settings') or {}).get('reliability_n_boot')} replicates)",
                    "seconds": rel, "ratio": None})
    return out
