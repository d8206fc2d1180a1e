"""``lm-eval-values discover-features``: rank SAE features for the values (:mod:`lm_eval_values.sae.discover`)."""

from __future__ import annotations

import argparse
import sys

from lm_eval_values.core.errors import ArgumentParser
from lm_eval_values.sae.discover import DEFAULT_QUESTION, DiscoverConfig, discover, format_table, write_result


def build_parser() -> argparse.ArgumentParser:
    """The ``discover-features`` argument parser."""
    p = ArgumentParser(prog="lm-eval-values discover-features",
                       description="Rank SAE features for value steering: the study's span method or a "
                                   "value-high vs value-low contrast.")
    p.add_argument("--model", required=True, help="embedded model name, local HF folder or hub id (e.g. google/gemma-2-2b-it)")
    p.add_argument("--sae", required=True,
                   help="local sae-lens SAE folder, or a sae-lens registry reference release::sae_id "
                        "(e.g. gemma-scope-2b-pt-res-canonical::layer_12/width_16k/canonical; needs the hub)")
    p.add_argument("--layer", type=int, default=None, help="decoder layer (default: the SAE's own)")
    p.add_argument("--method", default="span", help="span (default) or contrastive")
    p.add_argument("--span", default=" your values", help='prompt text to score (default " your values")')
    p.add_argument("--value", default=None, help="value for --method contrastive, e.g. Benevolence")
    p.add_argument("--definition", default=None, help="definition text for --value (default: the project's)")
    p.add_argument("--top", type=int, default=24, help="number of features to rank and write (default 24)")
    p.add_argument("--prompt", default=None, help="span method: the exact prompt text (default: the no-role task prompt)")
    p.add_argument("--question", default=DEFAULT_QUESTION, help="question inside the generated prompts")
    p.add_argument("--roles", type=int, default=16, help="contrastive: synthetic personas (plus no persona)")
    p.add_argument("--pool", default="span", help="contrastive pooling: span (default), role, last, prompt")
    p.add_argument("--direction", default="both", help="contrastive: both (default), up, down")
    p.add_argument("--reference", type=int, default=32, help="reference documents for typical activation/density")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the synthetic personas and the reference documents (default 0)")
    p.add_argument("--device", default="cpu", help="torch device for the model and the SAE: cpu (default), cuda, mps")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (by default each encoding step shows an ETA)")
    p.add_argument("--out", required=True, help="output file: *.json or *.csv (+ sibling .json)")
    return p


def main(argv: list[str]) -> int:
    """``lm-eval-values discover-features ...``: writes the ranked list and prints a table."""
    a = build_parser().parse_args(argv)
    cfg = DiscoverConfig(model=a.model, sae=a.sae, out=a.out, layer=a.layer, method=a.method, span=a.span,
                         value=a.value, definition=a.definition, top=a.top, prompt=a.prompt, question=a.question,
                         roles=a.roles, pool=a.pool, direction=a.direction, reference=a.reference, seed=a.seed,
                         device=a.device)
    result = discover(cfg, progress=not a.no_progress)
    paths = write_result(result, cfg.out)
    print(format_table(result))
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
