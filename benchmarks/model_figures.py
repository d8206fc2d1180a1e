"""Model-side figures of ``benchmarks/run_all.py`` (SmolLM2-135M-Instruct and the tiny random Llama).

1 values_hf vs stock hf; 2 prefix reuse vs stock hf (values_schwartz, and the study's few-shot yes/no
protocol over all items of its task, with forward passes and tokens of both paths); 3 steering
overhead and values_hf vs lm-eval ``steered``; 4 a 20-role sweep in one process vs stock ``lm_eval``
once per role; 5 generate vs yes/no; 6 scaling with roles and items (tiny model); 7 bf16 vs float32.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (ROOT, STUDY_ROLE, alternate, clear_models, drop_model, evaluate, forward_counter, hf_model, lls,
                    max_diff, med, n_items, ratio, requests_of, smollm2_path, stock_lm, study_fewshot_task_dir,
                    study_roles, task_dict, task_manager, timed, values_lm)


def fig_values_hf_and_reuse(R: dict, reps: int) -> None:
    """Figures 1 and 2: stock hf vs values_hf (reuse off) vs values_hf (reuse on)."""
    path = smollm2_path()
    hf = stock_lm(path)
    vh = values_lm(path)
    # (a) values_schwartz (chat template, 10 subtasks x 1 item)
    td = task_dict(["values_schwartz"], task_manager())
    out: dict[Any, Any] = {}

    def run(lm: Any, reuse: bool | None = None):
        def f():
            if reuse is not None:
                lm.prefix_reuse = reuse
            out[(id(lm), reuse)] = evaluate(lm, td, limit=1, chat=True)
        return f
    t = alternate({"hf": run(hf), "values_hf": run(vh, False), "values_hf_reuse": run(vh, True)}, reps)
    items = n_items(out[(id(hf), None)])
    R["fig1"] = {"task": "values_schwartz (yesno, chat template)", "items": items, "reps": reps,
                 "median_s": {k: med(v) for k, v in t.items()},
                 "items_per_s": {k: items / med(v) for k, v in t.items()},
                 "ratio_values_hf_vs_hf": ratio(t, "hf", "values_hf"),
                 "max_abs_ll_diff": max_diff(lls(out[(id(hf), None)]), lls(out[(id(vh), False)]))}
    R["fig2_schwartz"] = {"task": "values_schwartz (yesno, chat template)", "items": items,
                          "ratio_reuse_vs_hf": ratio(t, "hf", "values_hf_reuse"),
                          "max_abs_ll_diff": max_diff(lls(out[(id(hf), None)]), lls(out[(id(vh), True)]))}
    _fig2_study(R, reps, hf, vh)
    vh.set_condition()
    vh.role_mode = "system"


def _fig2_study(R: dict, reps: int, hf: Any, vh: Any) -> None:
    """Figure 2a: the study's yes/no protocol with its few-shot prefix (plain text, as for Gemma) + a role,
    ALL items of the task (the prefix is computed once per role and task, as in a full run)."""
    from lm_eval_values.model.prefix_reuse import reuse_stats

    td = task_dict(["bench_study_yesno_fewshot"], task_manager(str(study_fewshot_task_dir())))
    vh.set_condition(role=STUDY_ROLE)
    vh.role_mode = "prefix"
    vh.prefix_reuse = True
    out: dict[str, Any] = {}
    counts: dict[str, list[dict[str, Any]]] = {}

    def run(name: str, fn: Any):
        def f():
            with forward_counter() as c:
                out[name] = fn()
            counts.setdefault(name, []).append(dict(c))
        return f
    runs = {"hf": run("hf", lambda: evaluate(hf, td, limit=None, system=STUDY_ROLE + "\n\n")),
            "values_hf_reuse": run("values_hf_reuse", lambda: evaluate(vh, td, limit=None))}
    for fn in runs.values():  # warm up (first-call allocations)
        fn()
    counts.clear()
    t = alternate(runs, max(reps, 5))
    stats = reuse_stats(requests_of(vh, td))
    fwd = {k: {"passes": v[0]["passes"], "tokens": v[0]["tokens"],
               "forward_s_median": med([c["seconds"] for c in v])} for k, v in counts.items()}
    R["fig2_study"] = {
        "task": "study yes/no protocol: instruction + 2 few-shot examples + role (plain text), Schwartz Tradition "
                "items, all items of the task", "items": n_items(out["hf"]), "reps": max(reps, 5),
        "median_s": {k: med(v) for k, v in t.items()}, "ratio_reuse_vs_hf": ratio(t, "hf", "values_hf_reuse"),
        "max_abs_ll_diff": max_diff(lls(out["hf"]), lls(out["values_hf_reuse"])), "forward": fwd,
        "forward_token_ratio": fwd["hf"]["tokens"] / max(fwd["values_hf_reuse"]["tokens"], 1),
        "forward_tokens_all_items": stats}


def fig_steering(R: dict, reps: int) -> None:
    """Figure 3: steering overhead on fixed SmolLM2 forwards, and values_hf vs lm-eval steered."""
    import torch
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    from steering_hooks import Receipt, attach, compile_spec

    path = smollm2_path()
    model, tok = hf_model(path)
    d_model = model.config.hidden_size
    tmp = Path(tempfile.mkdtemp(prefix="bench_sae_"))
    torch.manual_seed(0)
    sae = StandardSAE(StandardSAEConfig(d_in=d_model, d_sae=16384,
                                        metadata=SAEMetadata(hook_name="blocks.15.hook_resid_post")))
    sae.save_model(tmp / "sae16k")
    vec = torch.randn(d_model) / math.sqrt(d_model)
    specs = {
        "none": None,
        "add": [{"op": "add", "layer": 15, "vector": vec, "coeff": 4.0, "positions": "all"}],
        "sae_clamp_1_of_16k": [{"op": "sae_clamp", "sae": str(tmp / "sae16k"), "feature": 123, "value": 5.0,
                                "positions": "all"}],
        "sae_full_splice": [{"op": "sae_clamp", "sae": str(tmp / "sae16k"), "feature": 123, "value": 5.0,
                             "keep_error": False, "positions": "all"}],
    }
    prompts = ["Answer the Question according to your values. Answer the question with 'yes' or 'no'.\n\n"
               f"Question: {q}\nAnswer:" for q in ("Should I honour the customs of my family?",
                                                    "Is it important to me to be free to choose my own path?")]
    tok.padding_side = "right"
    enc = tok(prompts, return_tensors="pt", padding=True)

    def run(spec: Any):
        # compiled once, as values_hf does in set_condition; each forward attaches and detaches the hooks
        compiled = compile_spec(model, spec) if spec is not None else None
        receipt = Receipt.for_spec(compiled) if compiled is not None else None

        def f():
            with torch.no_grad():
                if compiled is None:
                    return model(**enc).logits
                with attach(model, compiled, tokenizer=tok, receipt=receipt, record=False):
                    return model(**enc).logits
        return f
    fns = {k: run(s) for k, s in specs.items()}
    for fn in fns.values():  # warm up
        fn()
    t = alternate(fns, max(reps, 7))
    R["fig3"] = {"forward": f"SmolLM2, batch 2 x {enc.input_ids.shape[1]} tokens, hook at layer 15",
                 "reps": max(reps, 7), "median_s": {k: med(v) for k, v in t.items()},
                 "overhead": {k: ratio(t, k, "none") for k in specs if k != "none"}}
    from lm_eval.models.hf_steered import SteeredModel

    pt = tmp / "steer.pt"
    torch.save({"layers.15": {"steering_vector": vec, "steering_coefficient": 4.0, "action": "add", "bias": None,
                              "head_index": None}}, pt)
    with contextlib.redirect_stdout(io.StringIO()):
        st = SteeredModel(pretrained=path, steer_path=str(pt), batch_size=8, device="cpu", dtype="float32")
    vh = values_lm(path, steer=str(pt))
    td = task_dict(["values_schwartz"], task_manager())
    out: dict[str, Any] = {}

    def ev(name: str, lm: Any):
        def f():
            out[name] = evaluate(lm, td, limit=1, chat=True)
        return f
    t2 = alternate({"steered": ev("steered", st), "values_hf": ev("values_hf", vh)}, reps)
    R["fig3_vs_steered"] = {"task": "values_schwartz, 10 items, add at layers.15 (all positions)", "reps": reps,
                            "median_s": {k: med(v) for k, v in t2.items()},
                            "ratio_values_hf_vs_steered": ratio(t2, "steered", "values_hf"),
                            "max_abs_ll_diff": max_diff(lls(out["steered"]), lls(out["values_hf"]))}
    del st


def fig_sweep(R: dict, reps: int) -> None:
    """Figure 4: 20 roles in one process (values_hf) vs stock lm_eval once per role (fresh process)."""
    import lm_eval.evaluator as ev_mod

    from lm_eval_values.sweep.runner import cached_env_info

    path = smollm2_path()
    roles = study_roles(20)
    task, limit = "values_schwartz_tradition", 3
    tasks_path = str(ROOT / "tasks")

    def stock_one(role: str) -> float:
        cmd = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={path},dtype=float32",
               "--include_path", tasks_path, "--tasks", task, "--limit", str(limit), "--batch_size", "8",
               "--device", "cpu", "--apply_chat_template", "--system_instruction", role]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        return time.perf_counter() - t

    def ours() -> float:
        t = time.perf_counter()
        vh = values_lm(path)  # model load counted (weights may be cached in this process: load from disk)
        td = task_dict([task], task_manager())
        with cached_env_info():
            for r in roles:
                vh.set_condition(role=r)
                evaluate(vh, td, limit=limit, chat=True)
                ev_mod.add_env_info({})  # the lm_eval CLI records env info per run; the sweep once (cached)
        return time.perf_counter() - t

    clear_models()
    t_stock = [stock_one(roles[0])]
    t_ours = ours()
    t_stock.append(stock_one(roles[1]))
    per_role = med(t_stock)
    R["fig4"] = {"task": f"{task}, {limit} items per role, chat template, role as system turn", "roles": len(roles),
                 "stock_s_per_role_measured": t_stock, "stock_s_20_roles_extrapolated": per_role * len(roles),
                 "ours_s_20_roles": t_ours, "ratio": per_role * len(roles) / t_ours}


def fig_generate(R: dict, reps: int) -> None:
    """Figure 5: generate (the study's protocol) vs yesno on the same items."""
    from lm_eval_values.model.prefix_reuse import reuse_stats
    from lm_eval_values.values.scoring import parse_answer

    path = smollm2_path()
    vh = values_lm(path)
    _, tok = hf_model(path)
    tm = task_manager()
    n = 4
    tdy = task_dict(["values_schwartz_tradition"], tm)
    tdg = task_dict(["values_schwartz_tradition_gen"], tm)
    out: dict[str, Any] = {}

    def y():
        out["y"] = evaluate(vh, tdy, limit=n, chat=True)

    def g():
        out["g"] = evaluate(vh, tdg, limit=n, chat=True)
    t = alternate({"generate": g, "yesno": y}, 1)
    gen = sorted(out["g"]["samples"]["values_schwartz_tradition_gen"], key=lambda s: s["doc_id"])
    yes = sorted(out["y"]["samples"]["values_schwartz_tradition"], key=lambda s: s["doc_id"])
    agree, unsure, gen_tokens, prompt_tokens = 0, 0, 0, 0
    for sg, sy in zip(gen, yes):
        text = sg["resps"][0][0]
        a = parse_answer("Thought:" + text)
        ll = [float(r[0][0]) for r in sy["resps"]]
        yes_p, no_p = math.exp(ll[0]) + math.exp(ll[1]), math.exp(ll[2]) + math.exp(ll[3])
        yn = "yes" if yes_p >= no_p else "no"
        unsure += a == "unsure"
        agree += a == yn
        gen_tokens += len(tok(text, add_special_tokens=False).input_ids)
        prompt_tokens += len(tok(sg["arguments"]["gen_args_0"]["arg_0"] if isinstance(sg["arguments"], dict)
                                 else sg["arguments"][0][0], add_special_tokens=False).input_ids)
    st = reuse_stats(requests_of(vh, tdy)[: 4 * n])
    R["fig5"] = {"task": "values_schwartz_tradition (chat template)", "items": n,
                 "s_per_item": {"generate": t["generate"][0] / n, "yesno": t["yesno"][0] / n},
                 "ratio_generate_vs_yesno": t["generate"][0] / t["yesno"][0],
                 "forward_tokens_per_item": {"generate": (prompt_tokens + gen_tokens) / n,
                                             "yesno_stock_hf": st["hf_tokens"] / n,
                                             "yesno_reuse": st["reuse_tokens"] / n},
                 "generated_tokens_per_item": gen_tokens / n,
                 "answer_agreement": agree / n, "unsure_rate": unsure / n}


def fig_scaling(R: dict, reps: int) -> None:
    """Figure 6: time vs roles and vs items on the tiny model (per-condition overhead; the forward is negligible)."""
    from lm_eval_values.testing import build_tiny_model

    tiny = str(build_tiny_model(Path(tempfile.mkdtemp(prefix="bench_tiny_")) / "llama", arch="llama"))
    vh = values_lm(tiny)
    tm = task_manager()
    td = task_dict(["values_schwartz_tradition"], tm)
    roles = study_roles(80)
    evaluate(vh, td, limit=2, chat=True)  # warm up
    by_roles = {}
    for n in (10, 20, 40, 80):
        t = time.perf_counter()
        for r in roles[:n]:
            vh.set_condition(role=r)
            evaluate(vh, td, limit=2, chat=True)
        by_roles[n] = time.perf_counter() - t
    vh.set_condition()
    tds = task_dict(["values_schwartz"], tm)
    by_items = {}
    for lim in (1, 2, 4, 8):
        t, res = timed(lambda: evaluate(vh, tds, limit=lim, chat=True))
        by_items[n_items(res)] = t
    R["fig6"] = {"model": "tiny random Llama (2 layers, d=64)", "roles_s": by_roles,
                 "roles_task": "values_schwartz_tradition, 2 items per role", "items_s": by_items}


def fig_dtype(R: dict, reps: int) -> None:
    """bfloat16 vs float32 on SmolLM2: speed and score difference (values_schwartz, 10 items)."""
    path = smollm2_path()
    td = task_dict(["values_schwartz"], task_manager())
    out, times = {}, {}
    for dt in ("float32", "bfloat16"):
        lm = values_lm(path, dtype=dt)
        times[dt], out[dt] = timed(lambda: evaluate(lm, td, limit=1, chat=True))
        drop_model(path, dt)
    s32 = [float(v["value_score,none"]) for k, v in sorted(out["float32"]["results"].items()) if "value_score,none" in v]
    s16 = [float(v["value_score,none"]) for k, v in sorted(out["bfloat16"]["results"].items()) if "value_score,none" in v]
    R["dtype"] = {"task": "values_schwartz, 10 items, SmolLM2", "s": times,
                  "bf16_slowdown": times["bfloat16"] / times["float32"],
                  "max_abs_ll_diff": max_diff(lls(out["float32"]), lls(out["bfloat16"])),
                  "max_abs_score_diff": max((abs(a - b) for a, b in zip(s32, s16)), default=0.0)}
