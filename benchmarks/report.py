"""BENCHMARKS.md from the results of one ``benchmarks/run_all.py`` run."""

from __future__ import annotations

import json
from typing import Any, Callable

from validity_figures import analysis_costs


def _get(R: dict, *keys: str) -> Any:
    cur: Any = R
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def _f(x: Any, nd: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


#: (number, figure, key path, unit, target text, target test or None)
Row = tuple[str, str, tuple[str, ...], str, str, Callable[[float], bool] | None]
ROWS: list[Row] = [
    ("1", "values_hf (no steering, reuse off) vs stock `hf`, items/s", ("fig1", "ratio_values_hf_vs_hf"), "x",
     ">= 1.0x", lambda x: x >= 1.0),
    ("2a", "prefix reuse vs stock `hf`, study yes/no protocol (few-shot prefix + role), all items, time",
     ("fig2_study", "ratio_reuse_vs_hf"), "x", ">= 4x", lambda x: x >= 4.0),
    ("2a'", "same, forward tokens (stock hf / prefix reuse): the limit of 2a", ("fig2_study", "forward_token_ratio"),
     "x", "reported", None),
    ("2b", "prefix reuse vs stock `hf`, values_schwartz (chat template, 1 item per value)",
     ("fig2_schwartz", "ratio_reuse_vs_hf"), "x", "reported", None),
    ("3a", "steering overhead: add", ("fig3", "overhead", "add"), "x", "<= 1.03x", lambda x: x <= 1.03),
    ("3b", "steering overhead: sae_clamp of 1 feature of a 16k SAE", ("fig3", "overhead", "sae_clamp_1_of_16k"), "x",
     "<= 1.05x", lambda x: x <= 1.05),
    ("3c", "steering overhead: full SAE splice (16k)", ("fig3", "overhead", "sae_full_splice"), "x", "reported", None),
    ("3d", "values_hf vs lm-eval `steered`, same add vector", ("fig3_vs_steered", "ratio_values_hf_vs_steered"), "x",
     ">= 1.0x", lambda x: x >= 1.0),
    ("4", "20-role sweep in one process vs stock `lm_eval` per role", ("fig4", "ratio"), "x", ">= 5x",
     lambda x: x >= 5),
    ("5", "generate vs yesno, seconds per item (generate / yesno)", ("fig5", "ratio_generate_vs_yesno"), "x",
     "reported", None),
    ("7", "bfloat16 vs float32 on this CPU, time (bf16 / fp32)", ("dtype", "bf16_slowdown"), "x", "reported", None),
    ("8a", "PC (Fisher-z) on the 1111 x 17 Gemma matrix: tool `discover` / causal-learn `pc` direct",
     ("fig8", "ratio_tool_over_direct"), "x", "<= 1.2x", lambda x: x <= 1.2),
    ("8b", "role bootstrap (default: subsample, effective n), seconds per 100 resamples, 2 workers",
     ("fig8", "bootstrap_s_per_100", "subsample, effective n (honest)"), " s", "reported", None),
    ("8c", "role bootstrap, 200 resamples of the default, 2 workers", ("fig8", "bootstrap_default_s", "s"), " s",
     "<= 60 s", lambda x: x <= 60),
    ("8d", "role bootstrap, 200 resamples at n = rows, 2 workers", ("fig8", "bootstrap_rows_s", "s"), " s",
     "<= 60 s", lambda x: x <= 60),
    ("9", "whole post-sweep analysis of the demo (reliability + graph + human + side effects)",
     ("fig9", "total_s"), " s", "reported", None),
]


def summary_table(R: dict) -> list[str]:
    lines = ["| # | figure | ratio / value | target | status |", "|---|---|---|---|---|"]
    for num, name, keys, unit, target, ok in ROWS:
        val = _get(R, *keys)
        status = "missing" if val is None else ("reported" if ok is None else ("**met**" if ok(val) else "**NOT met**"))
        lines.append(f"| {num} | {name} | {_f(val)}{unit if val is not None else ''} | {target} | {status} |")
    return lines


def machine_lines(R: dict) -> list[str]:
    m = R.get("machine", {})
    start, end = m.get("load_at_start"), R.get("load_at_end")
    cores = m.get("cores") or 1
    peak = max([x for x in (start or []) + (end or []) if x == x] or [0.0])
    busy = ("above the core count: other jobs shared the CPU while measuring, so absolute seconds are slower and "
            "noisier than on an idle machine; ratios alternate A and B to cancel most of it"
            if peak > cores else "at or below the core count")
    return [f"- CPU: {m.get('cpu')} ({cores} cores), memory {m.get('memory')}, native bf16: {m.get('native_bf16')}, "
            f"torch CPU capability {m.get('torch_cpu_capability')}",
            f"- GPU: {m.get('gpu') or 'none'}",
            f"- torch {m.get('torch')}, transformers {m.get('transformers')}, lm-eval {m.get('lm_eval')}, "
            f"Python {m.get('python')}",
            f"- Load average (1, 5, 15 min) at start {start}, at end {end}: {busy}.",
            f"- Run finished {R.get('finished', '?')}; "
            + (f"this partial run (`--only {','.join(R['only'])}`) took " if R.get("only") else "`make bench` took ")
            + f"{_f(R.get('total_s'), 0)} s "
            f"({_f((R.get('total_s') or 0) / 60, 1)} min); per figure: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in (R.get("figure_s") or {}).items()) + "."]


def prefix_section(R: dict) -> list[str]:
    fs = _get(R, "fig2_study")
    if not fs:
        return []
    fw = fs.get("forward") or {}
    tok = fs.get("forward_tokens_all_items") or {}
    h, v = fw.get("hf", {}), fw.get("values_hf_reuse", {})
    out = ["", "## Prefix reuse (figure 2)", "",
           f"Study protocol, all {fs.get('items')} items of the task, {fs.get('reps')} alternating repetitions "
           f"(median); largest log-likelihood difference to stock hf {fs.get('max_abs_ll_diff', 0):.2e}.", "",
           "| path | seconds | of which in the model's forward | forward passes | forward tokens (incl. padding) |",
           "|---|---|---|---|---|"]
    for label, key, d in (("stock `hf` (batch 8)", "hf", h), ("values_hf, prefix reuse", "values_hf_reuse", v)):
        out.append(f"| {label} | {_f(_get(fs, 'median_s', key))} | {_f(d.get('forward_s_median'))} | "
                   f"{d.get('passes')} | {d.get('tokens')} |")
    out += ["", f"- Ratio {_f(fs.get('ratio_reuse_vs_hf'))}x in time, {_f(fs.get('forward_token_ratio'))}x in "
            f"forward tokens; token counts without padding: distinct inputs {tok.get('hf_tokens')}, prefix reuse "
            f"{tok.get('reuse_tokens')} ({tok.get('groups')} group(s), {tok.get('rows')} rows)."]
    f2 = _get(R, "fig2_schwartz")
    if f2:
        out.append(f"- values_schwartz ({f2.get('items')} items, 1 per value, short shared prefix): "
                   f"{_f(f2.get('ratio_reuse_vs_hf'))}x; largest difference {f2.get('max_abs_ll_diff', 0):.2e}.")
    return out


def analysis_section(R: dict) -> list[str]:
    f8, f9 = _get(R, "fig8"), _get(R, "fig9")
    out: list[str] = []
    if isinstance(f8, dict) and "pc_direct_s" in f8:
        out += ["", "## Causal analysis (figure 8)", "",
                f"Gemma matrix {f8['shape'][0]} x {f8['shape'][1]}, median of {f8['reps']} fits; bootstraps with "
                f"{f8['jobs']} worker processes.", "", "| measure | seconds |", "|---|---|",
                f"| PC, causal-learn `pc(X, 0.05, 'fisherz', stable=True)` direct | {_f(f8['pc_direct_s'], 3)} |",
                f"| PC through the tool (`discover`, every row counted) | {_f(f8['pc_tool_s'], 3)} |",
                f"| `lm-eval-values graph` process wall time / its own fit line | {_f(f8['cli_wall_s'])} / "
                f"{_f(f8['cli_fit_s'])} |",
                f"| import of the causal modules (once per process) | {_f(f8['import_causal_s'])} |"]
        for label, s in (f8.get("bootstrap_s_per_100") or {}).items():
            out.append(f"| bootstrap per 100 resamples: {label} | {_f(s, 1)} |")
        out += ["| bootstrap 200 resamples, default (subsample, effective n) | "
                f"{_f(f8['bootstrap_default_s']['s'], 1)} |",
                f"| bootstrap 200 resamples, subsample at n = rows | {_f(f8['bootstrap_rows_s']['s'], 1)} |",
                f"| earlier path (duplicates, causal-learn fisherz per resample), per 100 | "
                f"{_f(f8['earlier_path_s_per_100'], 1)} |"]
    elif f8:
        out += ["", f"Figure 8: {f8}"]
    if isinstance(f9, dict) and "seconds" in f9:
        st = f9.get("settings", {})
        sw = f9.get("sweep") or {}
        out += ["", "## Post-sweep analysis of the demo (figure 9)", "",
                f"The demo's sweep folder `{f9.get('demo_dir')}` ({sw.get('conditions')} conditions, "
                f"{sw.get('answers')} answers, written {sw.get('written')}), each stage through its public function "
                "with the demo config's settings, one run each.", "",
                "| stage | seconds | settings |", "|---|---|---|"]
        g, h, se = st.get("graph") or {}, st.get("human") or {}, st.get("side_effects") or {}
        notes = {"reliability": f"two-way bootstrap {st.get('reliability_n_boot')} replicates",
                 "graph": f"PC at the {(g.get('sample_size') or {}).get('mode')} sample size, JCI {g.get('jci')}, "
                          f"{g.get('bootstrap')} {g.get('bootstrap_scheme')} role resamples, drawing, exports",
                 "human": f"{h.get('permutations')} permutations, {h.get('bootstrap')} bootstrap resamples, plots",
                 "side_effects": f"study metric + held-out evaluation, {se.get('n_random')} random graphs"}
        for k, s in f9["seconds"].items():
            out.append(f"| {k} | {_f(s)} | {notes.get(k, '')} |")
        out.append(f"| **total** | **{_f(f9.get('total_s'))}** | |")
        if f9.get("demo_study_run_here_s"):
            out.append("\nThe demo study itself was run by this benchmark first: "
                       f"{_f(f9['demo_study_run_here_s'], 0)} s.")
    elif f9:
        out += ["", f"Figure 9: {f9}"]
    return out


def validity_section(R: dict) -> list[str]:
    f10 = _get(R, "fig10")
    out: list[str] = []
    if isinstance(f10, dict) and "options" in f10:
        out += ["", "## Cost of the measurement-validity options (figure 10)", "",
                f"Sweep side: {f10['design']}; {f10['model']}; {f10['reps']} alternating repetitions, seconds of the "
                "condition loop (median), ratios against plain yes/no.", "",
                "| option | items | forward passes | forward tokens | seconds | passes x | tokens x | seconds x |",
                "|---|---|---|---|---|---|---|---|"]
        for name, r in f10["options"].items():
            out.append(f"| {name} | {r['items']} | {r['passes']} | {r['tokens']} | {_f(r['seconds_median'])} | "
                       f"{_f(r['passes_ratio'])} | {_f(r['tokens_ratio'])} | {_f(r['seconds_ratio'])} |")
    rows = analysis_costs(R)
    if rows:
        out += ["", "Analysis side (no forward passes): seconds and ratio against one plain PC fit on the Gemma "
                "matrix (figures 8 and 9).", "", "| option | seconds | x plain PC fit |", "|---|---|---|"]
        for r in rows:
            out.append(f"| {r['option']} | {_f(r['seconds'], 3)} | {_f(r['ratio'], 1)} |")
    return out


def other_sections(R: dict) -> list[str]:
    out: list[str] = []
    f5 = _get(R, "fig5")
    if f5:
        ft = f5.get("forward_tokens_per_item", {})
        out += ["", "## generate vs yesno (figure 5)", "",
                "| | generate (study) | yesno (stock hf) | yesno (prefix reuse) |", "|---|---|---|---|",
                f"| forward tokens per item | {_f(ft.get('generate'), 0)} | {_f(ft.get('yesno_stock_hf'), 0)} | "
                f"{_f(ft.get('yesno_reuse'), 0)} |",
                f"| seconds per item | {_f(_get(f5, 's_per_item', 'generate'))} | | "
                f"{_f(_get(f5, 's_per_item', 'yesno'))} |",
                "", f"Answer agreement (generate parsed vs yesno argmax): {_f(f5.get('answer_agreement'))} over "
                f"{f5.get('items')} items; unsure rate {_f(f5.get('unsure_rate'))}."]
    f6 = _get(R, "fig6")
    if f6:
        out += ["", "## Scaling (figure 6)", "", f"Model: {f6.get('model')}; roles: {f6.get('roles_task')}.", "",
                "| roles | seconds | s/role |", "|---|---|---|"]
        out += [f"| {n} | {_f(t)} | {_f(t / int(n), 3)} |" for n, t in (f6.get("roles_s") or {}).items()]
        out += ["", "| items (values_schwartz) | seconds | items/s |", "|---|---|---|"]
        out += [f"| {n} | {_f(t)} | {_f(int(n) / t, 1)} |" for n, t in (f6.get("items_s") or {}).items()]
    dt = _get(R, "dtype")
    if dt:
        out += ["", "## dtype (figure 7)", "",
                f"- {dt.get('task')}: float32 {_f(_get(dt, 's', 'float32'))} s, "
                f"bfloat16 {_f(_get(dt, 's', 'bfloat16'))} s.",
                f"- Largest per-value score difference bf16 vs float32 {_f(dt.get('max_abs_score_diff'), 3)}, "
                f"largest log-likelihood difference {_f(dt.get('max_abs_ll_diff'), 3)}."]
    return out


def render(R: dict, notes: str) -> str:
    """The whole BENCHMARKS.md."""
    lines = ["# Benchmarks", "",
             "Generated by `make bench` (`python benchmarks/run_all.py`; `--only 1,8` reruns some figures and keeps "
             "the others from the last run). Every ratio is measured in the same run: A and B alternate, several "
             "repetitions, the median of the per-repetition ratios. One torch thread everywhere (bootstraps: 2 "
             "worker processes).", "", "## Machine", "", *machine_lines(R), "", "## Summary", "", *summary_table(R),
             *prefix_section(R), *analysis_section(R), *validity_section(R), *other_sections(R)]
    if R.get("errors"):
        lines += ["", "## Errors", "", *[f"- figure {k}: {v}" for k, v in R["errors"].items()]]
    lines += ["", "## Notes", "", notes, "## Details", "", "```json",
              json.dumps({k: v for k, v in R.items() if k != "machine"}, indent=1, default=str), "```"]
    return "\n".join(lines) + "\n"
