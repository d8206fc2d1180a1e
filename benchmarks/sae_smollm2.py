"""Benchmark: a local SAE for SmolLM2-135M-Instruct, then features.

    python benchmarks/sae_smollm2.py [--layer 15] [--width 2048] [--k 32] [--tokens 300000] [--reuse]

1. ``train-sae`` on the residual stream after decoder layer ``--layer`` of the embedded
   SmolLM2-135M-Instruct (offline corpus, sae-lens runner), saved under
   ``$LM_EVAL_VALUES_HOME/saes/smollm2-135m-instruct-l<L>/`` (printed). ``--reuse`` skips
   training when that folder already holds an SAE with ``metrics.json``.
2. ``discover-features`` both ways: the study's span method on " your values" of the no-role
   prompt, and the contrastive method for ``--value`` (value-high vs value-low role prompts).
   Results go into the SAE folder (``features_span.json``, ``features_contrastive_<value>.csv``
   and ``.json``) and a summary ``benchmark.json``; everything is printed.

Not a default test: it needs the embedded model (``lm-eval-values fetch-model``) and minutes of CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL = "smollm2-135m-instruct"


def main(argv: list[str] | None = None) -> int:
    from lm_eval_values.core.atomic import atomic_write_json
    from lm_eval_values.sae.corpus import CorpusConfig
    from lm_eval_values.sae.discover import DiscoverConfig, discover, format_table, write_result
    from lm_eval_values.model.loading import resolve_local_model
    from lm_eval_values.sae.train import METRICS_FILE, TrainSAEConfig, default_out, train, validate

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layer", type=int, default=15)
    p.add_argument("--width", type=int, default=2048)
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--tokens", type=int, default=300_000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-tokens", type=int, default=1024)
    p.add_argument("--context-size", type=int, default=128)
    p.add_argument("--roles", type=int, default=30)
    p.add_argument("--prompts", type=int, default=120)
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--sample-tokens", type=int, default=32)
    p.add_argument("--value", default="Benevolence", help="value for the contrastive method")
    p.add_argument("--top", type=int, default=24)
    p.add_argument("--contrastive-roles", type=int, default=12)
    p.add_argument("--reference", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    p.add_argument("--reuse", action="store_true", help="skip training if the SAE folder has metrics.json")
    a = p.parse_args(argv)

    shape = resolve_local_model(MODEL)
    out = Path(a.out).expanduser() if a.out else default_out(shape, a.layer)
    t0 = time.perf_counter()
    if a.reuse and (out / METRICS_FILE).is_file():
        record = json.loads((out / METRICS_FILE).read_text())
        print(f"reusing {out}")
    else:
        corpus = CorpusConfig(seed=a.seed, n_roles=a.roles, n_prompts=a.prompts, n_samples=a.samples,
                              sample_tokens=a.sample_tokens)
        cfg = TrainSAEConfig(model=MODEL, layer=a.layer, width=a.width, tokens=a.tokens, k=a.k, out=str(out),
                             seed=a.seed, context_size=a.context_size, batch_tokens=a.batch_tokens, lr=a.lr,
                             corpus=corpus)
        record = train(validate(cfg))
    m = record["metrics"]
    print(f"SAE: {out}")
    print(f"  hook {record['hook_name']} / {record['hook_names']['transformer_lens']} / {record['hook_names']['lm_eval']}; "
          f"width {record['width']}, k {record['k']}")
    print(f"  tokens trained {record['training_tokens']} ({record['corpus_tokens']} unique corpus tokens, "
          f"{record['epochs_over_corpus']:.1f} epochs); held-out {m['eval_tokens']} tokens")
    print(f"  time {record['timings_s']}")
    print(f"  explained variance {m['explained_variance']:.4f}, L0 {m['l0']:.2f}, dead {m['dead_features']}/{record['width']}, "
          f"CE clean {m['ce_loss_clean']:.3f} / SAE {m['ce_loss_with_sae']:.3f} / zero {m['ce_loss_zero_ablated']:.3f} "
          f"(recovered {m['ce_loss_recovered']:.3f})")

    t = time.perf_counter()
    span_cfg = DiscoverConfig(model=MODEL, sae=str(out), out=str(out / "features_span.json"), layer=a.layer,
                              method="span", top=a.top, reference=a.reference, seed=a.seed)
    span = discover(span_cfg)
    write_result(span, span_cfg.out)
    span_s = time.perf_counter() - t
    print(format_table(span))
    print(f"  span tokens {span['span_tokens']}; {span_s:.1f} s")

    t = time.perf_counter()
    slug = a.value.lower().replace(" ", "_")
    con_cfg = DiscoverConfig(model=MODEL, sae=str(out), out=str(out / f"features_contrastive_{slug}.csv"),
                             layer=a.layer, method="contrastive", value=a.value, top=a.top, roles=a.contrastive_roles,
                             reference=a.reference, seed=a.seed)
    con = discover(con_cfg)
    write_result(con, con_cfg.out)
    con_s = time.perf_counter() - t
    print(format_table(con))
    print(f"  {con['n_prompts']} prompts; {con_s:.1f} s")

    overlap = sorted(set(span["feature_ids"]) & set(con["feature_ids"]))
    summary = {
        "sae": str(out), "train": {k: record[k] for k in ("model", "layer", "hook_name", "hook_names", "width", "k",
                                                         "training_tokens", "corpus_tokens", "epochs_over_corpus",
                                                         "metrics", "timings_s", "training_metadata")},
        "span": {"top": span["feature_ids"], "span_tokens": span["span_tokens"], "seconds": round(span_s, 1),
                 "features": span["features"][:10]},
        "contrastive": {"value": con["value"], "top": con["feature_ids"], "seconds": round(con_s, 1),
                        "features": con["features"][:10]},
        "overlap_span_contrastive": overlap,
        "total_seconds": round(time.perf_counter() - t0, 1),
    }
    atomic_write_json(out / "benchmark.json", summary)
    print(f"overlap span/contrastive top-{a.top}: {overlap}")
    print(out / "benchmark.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
