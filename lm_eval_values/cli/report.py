"""``lm-eval-values report``: regenerate ``report.html`` of a study run folder from its saved files
(:mod:`lm_eval_values.report.build`; no model)."""

from __future__ import annotations

import sys
from pathlib import Path

from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.report.build import build_report


def main(argv: list[str]) -> int:
    """``lm-eval-values report RUN_DIR``: regenerate report.html from saved files (no model)."""
    parser = ArgumentParser(prog="lm-eval-values report",
                            description="Regenerate report.html (figures, data files) of a study run folder "
                                        "from its saved files only; no model is loaded.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `lm-eval-values study`")
    args = parser.parse_args(argv)
    run = Path(args.run_dir)
    if not run.is_dir():
        raise UserError("RUN_DIR", f"{run} is not a folder", "give the --out folder of a study run")
    res = build_report(run)
    print(f"wrote {res.html_path}")
    for line in res.summary:
        print(f"- {line}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
