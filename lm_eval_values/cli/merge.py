"""``lm-eval-values merge``: join the shards of one sweep (:mod:`lm_eval_values.sweep.merge`)."""

from __future__ import annotations

from lm_eval_values.core.errors import ArgumentParser
from lm_eval_values.sweep.merge import merge_shards


def main(argv: list[str]) -> int:
    """``lm-eval-values merge OUT [SHARD_DIR ...] [--score-metric NAME]``."""
    parser = ArgumentParser(
        prog="lm-eval-values merge",
        description="Join the shard outputs of one sweep (`sweep --shard i/N` or `--shard auto`) into matrix.csv, "
                    "items.csv and manifest.json, identical to an unsharded run. With only OUT, the shards wrote "
                    "into OUT. Every shard 0..N-1 must be present and finished.",
        epilog="Cluster job scripts (SLURM array + merge job, Kubernetes Indexed Job): docs/CLUSTER.md.")
    parser.add_argument("out", metavar="OUT", help="merged output folder")
    parser.add_argument("inputs", metavar="SHARD_DIR", nargs="*", help="shard output folders (default: OUT)")
    parser.add_argument("--score-metric", default=None,
                        help="per-sample metric used as the item score (default: value_score, or score in files "
                             "written before that name)")
    args = parser.parse_args(argv)
    merge_shards(args.out, args.inputs, args.score_metric)
    return 0
