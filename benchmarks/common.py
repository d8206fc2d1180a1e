"""Shared helpers of the benchmark suite (``benchmarks/run_all.py``): timing, machine, models, tasks,
forward-pass counting.

Importing this module sets the environment every figure runs under: one torch thread (subprocesses
too, ``OMP_NUM_THREADS=1``), offline Hugging Face libraries, no progress bars.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "run_all.json"
SHARED = ROOT.parent / "shared" / "data"
GEMMA_CSV = SHARED / "valuecausalgraph" / "tutorials" / "useful_data" / "ans_gemma_train_formal.csv"
KEPT = ["none", "14351", "1025", "2965", "10096", "1341", "1975", "10605", "14049", "1312", "4752"]
STUDY_ROLE = "(FYI, here is your trait. Gender: female; Job: Surveyor, MBTI: ENFJ)"

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------------------- timing
def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of ``fn()``."""
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


@contextlib.contextmanager
def forward_counter() -> Iterator[dict[str, Any]]:
    """Count forward passes and input tokens (padding included) of every ``*ForCausalLM`` model while open.

    Yields a dict ``{"passes": int, "tokens": int, "seconds": float}`` filled as forwards run (a global
    module hook, so models created inside the block count too; ``seconds`` is the time inside those
    forwards).
    """
    import torch

    counts: dict[str, Any] = {"passes": 0, "tokens": 0, "seconds": 0.0}
    started: dict[int, float] = {}

    def is_lm(module: Any) -> bool:
        return type(module).__name__.endswith("ForCausalLM")

    def pre(module: Any, args: tuple) -> None:
        if is_lm(module):
            started[id(module)] = time.perf_counter()

    def post(module: Any, args: tuple, kwargs: dict, output: Any) -> None:
        if not is_lm(module):
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        counts["passes"] += 1
        counts["tokens"] += int(ids.numel()) if ids is not None else 0
        counts["seconds"] += time.perf_counter() - started.pop(id(module), time.perf_counter())

    h1 = torch.nn.modules.module.register_module_forward_pre_hook(pre)
    h2 = torch.nn.modules.module.register_module_forward_hook(post, with_kwargs=True)
    try:
        yield counts
    finally:
        h1.remove()
        h2.remove()


# ---------------------------------------------------------------------------------------- machine
def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else [float("nan")] * 3


def machine() -> dict[str, Any]:
    """CPU, memory, library versions and the load average now."""
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
    mem = "?"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "native_bf16": cpu_has_native_bf16(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "transformers": transformers.__version__, "lm_eval": lm_eval.__version__,
            "python": platform.python_version(), "load_at_start": load_average(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


# ---------------------------------------------------------------------------------------- models
def smollm2_path() -> str:
    from lm_eval_values.integration.embedded_models import resolve_model_path

    return str(resolve_model_path("smollm2-135m-instruct"))


_CACHE: dict[str, Any] = {}


def hf_model(path: str, dtype: str = "float32") -> tuple[Any, Any]:
    """(model, tokenizer), loaded once per process and dtype."""
    key = f"{path}|{dtype}"
    if key not in _CACHE:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval()
        _CACHE[key] = (model, AutoTokenizer.from_pretrained(path))
    return _CACHE[key]


def drop_model(path: str, dtype: str) -> None:
    _CACHE.pop(f"{path}|{dtype}", None)


def clear_models() -> None:
    _CACHE.clear()


def stock_lm(path: str, batch_size: int = 8, dtype: str = "float32") -> Any:
    """lm-eval's own ``hf`` model on the cached weights."""
    from lm_eval.models.huggingface import HFLM

    model, tok = hf_model(path, dtype)
    return HFLM(pretrained=model, tokenizer=tok, batch_size=batch_size, device="cpu")


def values_lm(path: str, batch_size: int = 8, dtype: str = "float32", **kw: Any) -> Any:
    """``values_hf`` on the cached weights."""
    from lm_eval_values.model.values_hf import ValuesHFLM

    model, tok = hf_model(path, dtype)
    return ValuesHFLM(pretrained=model, tokenizer=tok, batch_size=batch_size, device="cpu", **kw)


# ---------------------------------------------------------------------------------------- tasks
def task_manager(extra: str | None = None) -> Any:
    from lm_eval.tasks import TaskManager

    from lm_eval_values.core.paths import tasks_dir

    paths = [str(tasks_dir())] + ([extra] if extra else [])
    return TaskManager(include_path=paths, include_defaults=False)


def task_dict(names: list[str], tm: Any) -> Any:
    from lm_eval.tasks import get_task_dict

    return get_task_dict(names, tm)


def evaluate(lm: Any, tdict: Any, limit: int | None, chat: bool = False, system: str | None = None) -> dict:
    """lm-eval's ``evaluate`` (samples logged, no bootstrap, quiet)."""
    import lm_eval.evaluator as ev

    with contextlib.redirect_stdout(io.StringIO()):
        return ev.evaluate(lm=lm, task_dict=tdict, limit=limit, bootstrap_iters=0, log_samples=True,
                           apply_chat_template=chat, system_instruction=system, verbosity="ERROR")


def n_items(res: dict) -> int:
    return sum(len(v) for v in res["samples"].values())


def lls(res: dict) -> list[float]:
    """Every log-likelihood of a result, in task and doc order."""
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
    desc = re.search(r"description: \|\+\n(.*?)\ndoc_to_text:", gen, re.S).group(1)  # type: ignore[union-attr]
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


def requests_of(lm: Any, td: Any) -> list:
    """Tokenised log-likelihood requests of every doc of a task dict, as values_hf sees them."""
    reqs = []
    for task in td.values():
        task.build_all_requests(limit=None, rank=0, world_size=1)
        for inst in task.instances:
            _, cont = inst.args
            ctx = lm._role_applied(inst.args)[0]
            c, k = lm._encode_pair(ctx, cont)
            reqs.append(((ctx, cont), c, k))
    return reqs


def study_roles(n: int) -> list[str]:
    """``n`` study-style synthetic roles (deterministic)."""
    import random

    rng = random.Random(0)
    jobs = ["Surveyor", "Nurse", "Teacher", "Engineer", "Farmer", "Lawyer", "Chef", "Pilot", "Artist", "Clerk"]
    mbti = ["ENFJ", "INTJ", "ISFP", "ESTP", "INFP", "ENTP", "ISTJ", "ESFJ"]
    return [f"(FYI, here is your trait. Gender: {rng.choice(['female', 'male'])}; Job: {rng.choice(jobs)}, "
            f"MBTI: {rng.choice(mbti)})" for _ in range(n)]
