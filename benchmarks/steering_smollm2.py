"""Real-model steering check on SmolLM2-135M-Instruct.

    python benchmarks/steering_smollm2.py [--value tradition] [--layer 15]
        [--coeffs -2,-1,-0.5,0,0.5,1,2] [--out DIR] [--sae DIR --sae-feature F] [--skip-cli]

1. Difference-of-means vector: the mean residual stream after decoder layer ``--layer`` over
   chat prompts whose system turn is a value-HIGH role ("You are inclined to the value of
   Tradition, which means ...") minus the same prompts with value-LOW roles; the user turns are
   questions from the OTHER values' items (no target item is used to build the vector).
2. Dose-response: ``values_hf`` with ``add`` of ``coeff x vector`` at the ``prompt`` positions
   (the scored answer tokens are not steered), chat template on, over ``--coeffs``, on all ten
   ``values_schwartz_*`` yes/no tasks. One model load; ``set_condition`` swaps the vector.
   The role prompts themselves (hard-prompt baseline) are scored as well.
3. SAE through the CLI: ``lm-eval-values run --model values_hf --model_args
   pretrained=smollm2-135m-instruct,sae=<dir>,feature=..,coeff=..,layer=..`` on the target value.
   Without ``--sae`` a small sae-lens ``StandardSAE`` (16 features) is written whose feature 0 reads
   and writes the unit difference-of-means direction (the other rows are random unit vectors).

Writes ``results.json`` and ``results.md`` under ``--out``
(default ``$LM_EVAL_VALUES_HOME/bench/steering_smollm2``) and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

VALUES = ["power", "achievement", "hedonism", "stimulation", "self_direction", "universalism", "benevolence",
          "tradition", "conformity", "security"]
# short definitions written for this benchmark (after Schwartz 1992)
DEFINITIONS = {
    "power": ("Power", "social status, prestige and control or dominance over people and resources"),
    "achievement": ("Achievement", "personal success through demonstrating competence according to social standards"),
    "hedonism": ("Hedonism", "pleasure and sensuous gratification for oneself"),
    "stimulation": ("Stimulation", "excitement, novelty and challenge in life"),
    "self_direction": ("Self-Direction", "independent thought and action: choosing, creating and exploring"),
    "universalism": ("Universalism", "understanding, tolerance and protection of the welfare of all people and of nature"),
    "benevolence": ("Benevolence", "preserving and enhancing the welfare of the people one is close to"),
    "tradition": ("Tradition", "respect, commitment and acceptance of the customs and ideas of one's culture or religion"),
    "conformity": ("Conformity", "restraint of actions likely to upset others or violate social expectations"),
    "security": ("Security", "safety, harmony and stability of society, of relationships and of self"),
}
HIGH = ["You are inclined to the value of {V}, which means {D}.",
        "{V} is one of the most important things in your life: you care about {D}.",
        "You are a person who deeply values {V} ({D}) and lives by it."]
LOW = ["You are disinclined to the value of {V}, which means {D}.",
       "{V} means nothing to you: you do not care about {D}.",
       "You are a person who rejects {V} ({D}) and never lives by it."]


def role_texts(value: str) -> tuple[list[str], list[str]]:
    name, definition = DEFINITIONS[value]
    return ([t.format(V=name, D=definition) for t in HIGH], [t.format(V=name, D=definition) for t in LOW])


def _items() -> list[dict[str, Any]]:
    from lm_eval_values.core.paths import tasks_dir

    path = tasks_dir() / "schwartz" / "schwartz_items.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _chat(tok: Any, system: str, question: str) -> str:
    msgs = [{"role": "system", "content": system},
            {"role": "user", "content": "Answer the Question according to your values. Answer the question with "
                                        f"'yes' or 'no'.\n\nQuestion: {question}"}]
    return tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def build_vector(lm: Any, value: str, layer: int, out: Path) -> tuple[Path, dict[str, Any]]:
    """Difference of means (value-high minus value-low role prompts) at ``layer``; saved as safetensors."""
    from steering_hooks import diff_of_means, save_vector

    target_name = DEFINITIONS[value][0]
    questions = [it["question"] for it in _items() if it["value"] != target_name][::3]
    high, low = role_texts(value)
    pos = [_chat(lm.tokenizer, r, q) for r in high for q in questions]
    neg = [_chat(lm.tokenizer, r, q) for r in low for q in questions]
    t0 = time.time()
    vec = diff_of_means(lm.model, lm.tokenizer, pos, neg, layer=layer, reduce="mean", batch_size=16)
    meta = {"value": value, "layer": layer, "n_prompts": [len(pos), len(neg)], "norm": float(vec.norm()),
            "reduce": "mean", "seconds": round(time.time() - t0, 1)}
    path = save_vector(out / f"diffmeans_{value}_l{layer}.safetensors", vec, meta)
    return path, meta


def evaluate(lm: Any, tasks: list[str], limit: int | None = None) -> dict[str, float]:
    import lm_eval

    from lm_eval_values.integration.registration import get_task_manager

    res = lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=get_task_manager(), apply_chat_template=True,
                                  limit=limit, verbosity="ERROR")
    return {t: float(res["results"][t]["value_score,none"]) for t in tasks}


def _monotone(xs: list[float]) -> str:
    d = [b - a for a, b in zip(xs, xs[1:])]
    if all(x > 0 for x in d):
        return "increasing"
    if all(x < 0 for x in d):
        return "decreasing"
    if all(x >= 0 for x in d):
        return "non-decreasing"
    if all(x <= 0 for x in d):
        return "non-increasing"
    return "not monotone"


def longest_monotone_run(coeffs: list[float], xs: list[float]) -> tuple[float, float, int]:
    """The longest run of consecutive coefficients over which ``xs`` strictly increases:
    (first coeff, last coeff, number of coefficients)."""
    best = (coeffs[0], coeffs[0], 1)
    start = 0
    for i in range(1, len(xs) + 1):
        if i == len(xs) or xs[i] <= xs[i - 1]:
            if i - start > best[2]:
                best = (coeffs[start], coeffs[i - 1], i - start)
            start = i
    return best


def write_tiny_sae(vector_path: Path, layer: int, out: Path, d_sae: int = 16, seed: int = 0) -> Path:
    """A small sae-lens StandardSAE whose feature 0 is the unit difference-of-means direction."""
    import torch
    from safetensors.torch import load_file
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    v = load_file(str(vector_path))["vector"]
    u = v / v.norm()
    g = torch.Generator().manual_seed(seed)
    rows = torch.randn(d_sae, v.shape[0], generator=g)
    rows = rows / rows.norm(dim=1, keepdim=True)
    rows[0] = u
    sae = StandardSAE(StandardSAEConfig(d_in=v.shape[0], d_sae=d_sae, metadata=SAEMetadata(
        hook_name=f"blocks.{layer}.hook_resid_post", model_name="smollm2-135m-instruct")))
    with torch.no_grad():
        sae.W_dec.copy_(rows)
        sae.W_enc.copy_(rows.T)
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    sae.save_model(out)
    return out


def run_cli(model_path: str, sae_dir: Path, feature: int, coeff: float, layer: int, task: str, out: Path,
            limit: int | None) -> dict[str, Any]:
    """``lm-eval-values run --model values_hf ...`` in a subprocess; returns score and recorded condition."""
    args = (f"pretrained={model_path},sae={sae_dir},feature={feature},coeff={coeff},layer={layer},"
            "positions=prompt,op=add")
    cmd = [sys.executable, "-m", "lm_eval_values.cli", "run", "--model", "values_hf", "--model_args", args,
           "--tasks", task, "--apply_chat_template", "--output_path", str(out),
           "--device", "cpu", "--batch_size", "16"]
    if limit:
        cmd += ["--limit", str(limit)]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if proc.returncode != 0:
        raise RuntimeError(f"CLI failed ({proc.returncode}): {proc.stderr[-2000:]}")
    results = sorted(out.rglob("results_*.json"), key=lambda p: p.stat().st_mtime)[-1]
    data = json.loads(results.read_text())
    cond = data["config"]["values_condition"]
    r = cond["receipt"]["interventions"][0]
    return {"coeff": coeff, "score": data["results"][task]["value_score,none"], "results_file": str(results),
            "steer_hash": cond["steer_hash"], "positions_steered": r["positions_steered"],
            "mean_resid_norm_before": r["mean_resid_norm_before"], "mean_resid_norm_after": r["mean_resid_norm_after"],
            "seconds": round(time.time() - t0, 1), "command": " ".join(cmd[1:])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--value", default="tradition", choices=VALUES)
    ap.add_argument("--layer", type=int, default=15)
    ap.add_argument("--coeffs", default="-2,-1,-0.5,0,0.5,1,2")
    ap.add_argument("--limit", type=int, default=None, help="items per task (default: all 10)")
    ap.add_argument("--values", default=",".join(VALUES),
                    help="comma-separated values to score (default: all ten; the target is always included)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--sae", default=None, help="a trained sae-lens SAE folder for this model and layer")
    ap.add_argument("--sae-feature", type=int, default=0)
    ap.add_argument("--sae-coeffs", default=None, help="CLI coefficients (default: the vector norm x -1, 0, 1)")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)

    import torch

    from lm_eval_values.integration.embedded_models import resolve_model_path
    from lm_eval_values.model.values_hf import ValuesHFLM

    if args.threads:
        torch.set_num_threads(args.threads)
    home = Path(os.environ.get("LM_EVAL_VALUES_HOME", Path.home() / ".cache" / "lm_eval_values"))
    out = Path(args.out) if args.out else home / "bench" / "steering_smollm2"
    out.mkdir(parents=True, exist_ok=True)
    coeffs = [float(c) for c in args.coeffs.split(",")]
    model_path = resolve_model_path(args.model)
    chosen = [v.strip() for v in args.values.split(",") if v.strip()]
    bad = [v for v in chosen if v not in VALUES]
    if bad:
        ap.error(f"--values: unknown {bad}; use {VALUES}")
    tasks = [f"values_schwartz_{v}" for v in dict.fromkeys([args.value, *chosen])]
    t_start = time.time()
    lm = ValuesHFLM(pretrained=model_path, batch_size=16, device="cpu", dtype="float32")
    vec_path, vec_meta = build_vector(lm, args.value, args.layer, out)
    print(f"vector: {vec_path} {vec_meta}", flush=True)

    rows: list[dict[str, Any]] = []
    for c in coeffs:
        lm.set_condition(steer={"name": f"diffmeans-{args.value}-x{c:g}", "interventions": [
            {"op": "add", "layer": args.layer, "vector": str(vec_path), "coeff": c, "positions": "prompt"}]})
        t0 = time.time()
        scores = evaluate(lm, tasks, args.limit)
        rec = lm.condition_record()
        r = rec["receipt"]["interventions"][0]
        rows.append({"coeff": c, "scores": scores, "steer_hash": rec["steer_hash"],
                     "positions_steered": r["positions_steered"], "mean_resid_norm_before": r["mean_resid_norm_before"],
                     "mean_resid_norm_after": r["mean_resid_norm_after"], "seconds": round(time.time() - t0, 1)})
        print(f"coeff {c:+g}: {args.value}={scores[f'values_schwartz_{args.value}']:+.4f} "
              f"({rows[-1]['seconds']} s)", flush=True)
    prompts: list[dict[str, Any]] = []
    high, low = role_texts(args.value)
    for label, text in (("high role", high[0]), ("low role", low[0])):
        lm.set_condition(role=text, role_id=label)
        prompts.append({"condition": label, "role": text, "scores": evaluate(lm, tasks, args.limit)})
    lm.set_condition()

    target = f"values_schwartz_{args.value}"
    # the other value with the largest absolute change from the lowest to the highest coefficient
    others = [t for t in tasks if t != target]
    other = max(others, key=lambda t: abs(rows[-1]["scores"][t] - rows[0]["scores"][t]))
    report: dict[str, Any] = {"model": args.model, "model_path": model_path, "value": args.value, "layer": args.layer,
                              "vector": vec_meta, "dose_response": rows, "role_prompts": prompts,
                              "target_task": target, "other_task": other,
                              "target_trend": _monotone([r["scores"][target] for r in rows]),
                              "target_increasing_run": longest_monotone_run(
                                  [r["coeff"] for r in rows], [r["scores"][target] for r in rows])}

    if not args.skip_cli:
        sae_dir = Path(args.sae) if args.sae else write_tiny_sae(vec_path, args.layer, out / "tiny_sae")
        norm = float(vec_meta["norm"])
        sae_coeffs = ([float(c) for c in args.sae_coeffs.split(",")] if args.sae_coeffs
                      else [round(-norm, 3), 0.0, round(norm, 3)])
        cli_rows = [run_cli(model_path, sae_dir, args.sae_feature, c, args.layer, target, out / "cli" / f"c{c:g}",
                            args.limit) for c in sae_coeffs]
        report["sae_cli"] = {"sae": str(sae_dir), "trained": bool(args.sae), "feature": args.sae_feature,
                             "rows": cli_rows}
    report["seconds_total"] = round(time.time() - t_start, 1)
    (out / "results.json").write_text(json.dumps(report, indent=2))
    md = render(report)
    (out / "results.md").write_text(md)
    print(md)
    return 0


def render(rep: dict[str, Any]) -> str:
    target, other = rep["target_task"], rep["other_task"]
    short = lambda t: t.replace("values_schwartz_", "")  # noqa: E731
    lines = [f"### Difference-of-means steering, SmolLM2-135M-Instruct, layer {rep['layer']}, value {rep['value']}",
             "", f"vector norm {rep['vector']['norm']:.3f} from {rep['vector']['n_prompts']} prompts; add at "
             "`prompt` positions; chat template; score in [-1, 1] (mean over 10 items)", "",
             f"| coeff | {short(target)} (target) | {short(other)} (other) | mean of the rest | steered positions | "
             "resid norm before -> after |", "|---|---|---|---|---|---|"]
    for r in rep["dose_response"]:
        s = r["scores"]
        rest = [v for t, v in s.items() if t not in (target, other)] or [float("nan")]
        before, after = r["mean_resid_norm_before"], r["mean_resid_norm_after"]
        lines.append(f"| {r['coeff']:+g} | {s[target]:+.4f} | {s[other]:+.4f} | {sum(rest) / len(rest):+.4f} | "
                     f"{r['positions_steered']} | {before:.1f} -> {after:.1f} |")
    a, b, n = rep["target_increasing_run"]
    lines += ["", f"target trend over all coefficients: **{rep['target_trend']}**; strictly increasing from "
              f"{a:+g} to {b:+g} ({n} coefficients)", "",
              "Role-prompt baseline (no steering):", "", f"| condition | {short(target)} | {short(other)} |", "|---|---|---|"]
    for p in rep["role_prompts"]:
        lines.append(f"| {p['condition']} | {p['scores'][target]:+.4f} | {p['scores'][other]:+.4f} |")
    lines += ["", "All scored values per coefficient:", "",
              "| coeff | " + " | ".join(short(t) for t in rep["dose_response"][0]["scores"]) + " |",
              "|---|" + "---|" * len(rep["dose_response"][0]["scores"])]
    for r in rep["dose_response"]:
        lines.append(f"| {r['coeff']:+g} | " + " | ".join(f"{v:+.3f}" for v in r["scores"].values()) + " |")
    if "sae_cli" in rep:
        sc = rep["sae_cli"]
        lines += ["", f"SAE steering through the CLI ({'trained' if sc['trained'] else 'constructed'} sae-lens SAE "
                  f"`{sc['sae']}`, feature {sc['feature']}, add at prompt positions):", "",
                  f"| coeff | {short(target)} | steered positions | resid norm before -> after | seconds |",
                  "|---|---|---|---|---|"]
        for r in sc["rows"]:
            lines.append(f"| {r['coeff']:+g} | {r['score']:+.4f} | {r['positions_steered']} | "
                         f"{r['mean_resid_norm_before']:.1f} -> {r['mean_resid_norm_after']:.1f} | {r['seconds']} |")
        lines += ["", f"command: `lm-eval-values {sc['rows'][0]['command'].split(' ', 2)[-1]}`"]
    lines += ["", f"total {rep['seconds_total']} s"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
