"""``lm-eval-values check CONFIG``: a study or sweep config checked offline (:mod:`lm_eval_values.study.check`)."""

from __future__ import annotations

import sys

from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.study.check import check_config, summary_lines
from lm_eval_values.sweep.check_report import CheckSettings
from lm_eval_values.sweep.workload import parse_memory


def main(argv: list[str]) -> int:
    """``lm-eval-values check CONFIG [--gpu-memory 80GiB] [--tokens 256] [--items-per-s X] [--no-items]``."""
    parser = ArgumentParser(
        prog="lm-eval-values check",
        description="Check a study or sweep config offline, in seconds, before renting a GPU: SAE references in the "
                    "installed sae-lens registry, hook layers, local paths, model ids, memory and time estimates. "
                    "Exit 0 when the run would start (warnings printed), 2 with one line per problem otherwise.",
        epilog="The study, sweep and steering-spec formats (every key, with examples) are in docs/CONFIGS.md of "
               "the lm-eval-values sources.")
    parser.add_argument("config", metavar="CONFIG", help="study or sweep YAML")
    parser.add_argument("--gpu-memory", default="80GiB",
                        help="memory of the GPU the config will run on (configs with device: cuda), e.g. 24GiB, 80GiB")
    parser.add_argument("--tokens", type=int, default=256,
                        help="tokens per request assumed for the activation memory (default 256)")
    parser.add_argument("--items-per-s", type=float, default=None,
                        help="measured yes/no items per second on the target machine (default: scaled from the "
                             "project's own measurement)")
    parser.add_argument("--no-items", action="store_true", help="skip counting items (no task loading; faster)")
    args = parser.parse_args(argv)
    try:
        gpu = parse_memory(args.gpu_memory)
    except ValueError:
        raise UserError("--gpu-memory", f"cannot read {args.gpu_memory!r}", "e.g. --gpu-memory 80GiB") from None
    if args.tokens < 1:
        raise UserError("--tokens", f"must be >= 1, got {args.tokens}", "e.g. --tokens 256")
    if args.items_per_s is not None and not args.items_per_s > 0:
        raise UserError("--items-per-s", f"must be > 0, got {args.items_per_s}", "e.g. --items-per-s 40")
    settings = CheckSettings(gpu_memory=gpu, tokens=args.tokens, items_per_s=args.items_per_s,
                             count_items=not args.no_items)
    report = check_config(args.config, settings)
    out, err = summary_lines(report)
    print("\n".join(out), flush=True)
    for line in err:
        print(line, file=sys.stderr)
    return 0 if report.ok else 2

