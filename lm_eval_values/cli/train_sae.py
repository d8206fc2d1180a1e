"""``lm-eval-values train-sae``: train a small sae-lens SAE on a local model, fully offline (:mod:`lm_eval_values.sae.train`)."""

from __future__ import annotations

import argparse
import sys

from lm_eval_values.core.errors import ArgumentParser
from lm_eval_values.sae.corpus import CorpusConfig
from lm_eval_values.sae.train import TrainSAEConfig, train, validate


def build_parser() -> argparse.ArgumentParser:
    """The ``train-sae`` argument parser."""
    p = ArgumentParser(prog="lm-eval-values train-sae",
                       description="Train a sae-lens SAE on the residual stream after one decoder layer of a "
                                   "local model, on an offline corpus (no hub).")
    p.add_argument("--model", required=True, help="embedded model name (smollm2-135m-instruct), local HF folder or hub id")
    p.add_argument("--layer", required=True, type=int, help="decoder layer L (SAE on the residual stream after it)")
    p.add_argument("--width", required=True, type=int, help="number of SAE features")
    p.add_argument("--tokens", required=True, type=int, help="training tokens (epochs over the corpus if larger)")
    p.add_argument("--k", type=int, default=32, help="active features per token (topk architecture; default 32)")
    p.add_argument("--arch", default="topk", help="topk (default) or standard (ReLU + L1)")
    p.add_argument("--l1", type=float, default=5.0, help="L1 coefficient for --arch standard")
    p.add_argument("--out", default=None, help="output folder (default $LM_EVAL_VALUES_HOME/saes/<model>-l<L>)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the corpus, the held-out split, the model's samples and the SAE initialisation "
                        "(default 0; recorded in metrics.json)")
    p.add_argument("--context-size", type=int, default=128,
                   help="tokens per training row: the corpus is packed into rows of this length (default 128)")
    p.add_argument("--batch-tokens", type=int, default=1024,
                   help="tokens per optimiser step (default 1024); steps = --tokens / --batch-tokens")
    p.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (default 5e-4, constant after warm-up)")
    p.add_argument("--eval-fraction", type=float, default=0.1, help="held-out fraction of corpus documents")
    p.add_argument("--roles", type=int, default=CorpusConfig.n_roles, help="synthetic roles in the corpus")
    p.add_argument("--prompts", type=int, default=CorpusConfig.n_prompts, help="instruction prompts in the corpus")
    p.add_argument("--samples", type=int, default=CorpusConfig.n_samples, help="prompts continued by sampling the model")
    p.add_argument("--sample-tokens", type=int, default=CorpusConfig.sample_tokens, help="new tokens per sample")
    p.add_argument("--valuebench", default=None, help="optional local ValueBench data folder (items, definitions)")
    p.add_argument("--device", default="cpu", help="torch device for the model and the SAE: cpu (default), cuda, cuda:1, mps")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars (by default: corpus sampling, activations and training show an ETA)")
    return p


def main(argv: list[str]) -> int:
    """``lm-eval-values train-sae ...``: prints metrics and the SAE folder; exit 2 on bad input."""
    args = build_parser().parse_args(argv)
    corpus = CorpusConfig(seed=args.seed, n_roles=args.roles, n_prompts=args.prompts, n_samples=args.samples,
                          sample_tokens=args.sample_tokens, valuebench=args.valuebench)
    cfg = TrainSAEConfig(model=args.model, layer=args.layer, width=args.width, tokens=args.tokens, k=args.k,
                         arch=args.arch, l1=args.l1, out=args.out, seed=args.seed, context_size=args.context_size,
                         batch_tokens=args.batch_tokens, lr=args.lr, eval_fraction=args.eval_fraction,
                         device=args.device, corpus=corpus)
    plan = validate(cfg)
    record = train(plan, progress=not args.no_progress)
    m = record["metrics"]
    print(f"hook: {record['hook_name']} (TransformerLens {record['hook_names']['transformer_lens']}, "
          f"lm-eval {record['hook_names']['lm_eval']})")
    print(f"tokens: {record['training_tokens']} trained ({record['corpus_tokens']} unique corpus tokens, "
          f"{record['epochs_over_corpus']:.1f} epochs), time {record['timings_s']['total_s']:.1f} s")
    print(f"explained variance {m['explained_variance']:.4f}, L0 {m['l0']:.2f}, dead features {m['dead_features']}/"
          f"{record['width']}, CE clean {m['ce_loss_clean']:.3f} / with SAE {m['ce_loss_with_sae']:.3f} / "
          f"zero-ablated {m['ce_loss_zero_ablated']:.3f} (recovered {m['ce_loss_recovered']:.3f})")
    print(plan.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
