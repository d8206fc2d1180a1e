"""The inputs of a command: remembered, never overwritten, and read behind one error boundary.

Two promises every command keeps, enforced here rather than in each command:

* **No command deletes or overwrites a file it reads.** While a command runs (the CLI wraps it in
  :func:`guard_inputs`), every existing file named on its command line, and every file or folder a
  reader marks with :func:`mark_input` or :func:`reading`, is an input. The atomic writers of
  :mod:`lm_eval_values.core.atomic` call :func:`check_not_input` first: writing a file over an input,
  or replacing (or deleting) a folder that holds one, is a one-line :class:`UserError` before
  anything is written.
* **A failure while reading a named input is one line naming that input.** Readers parse inside
  ``with reading(path, field):``; any exception there (a truncated file, a corrupt header, an
  unexpected type in the data...) becomes ``UserError(field, "cannot read PATH (Type: message)")``.
  Errors that already are one line (:class:`UserError`, steering spec errors) pass unchanged; with
  ``--debug`` (``LM_EVAL_VALUES_DEBUG=1``) the original exception and its traceback pass instead.

Outside a command (library use) nothing is remembered and writers are not restricted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterable, Iterator

from lm_eval_values.core.errors import UserError

DEBUG_ENV = "LM_EVAL_VALUES_DEBUG"

#: the inputs of the running command (None: no command is running, nothing is guarded)
_INPUTS: set[Path] | None = None


def _resolve(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def argv_paths(argv: Iterable[str]) -> list[Path]:
    """Existing files named on a command line (``X``, ``--flag=X`` and ``FILE:NAME`` forms)."""
    out: list[Path] = []
    for arg in argv:
        if not isinstance(arg, str) or not arg or arg.startswith("-") and "=" not in arg:
            continue
        text = arg.split("=", 1)[1] if arg.startswith("-") else arg
        for cand in (text, text.rsplit(":", 1)[0] if ":" in text else None):
            if cand and os.path.isfile(cand):
                out.append(_resolve(cand))
                break
    return out


@contextlib.contextmanager
def guard_inputs(paths: Iterable[str | os.PathLike] = ()) -> Iterator[set[Path]]:
    """Guard the inputs of one command (``paths`` plus whatever readers mark while it runs)."""
    global _INPUTS
    saved = _INPUTS
    _INPUTS = {_resolve(p) for p in paths}
    try:
        yield _INPUTS
    finally:
        _INPUTS = saved


def mark_input(path: str | os.PathLike) -> None:
    """Remember ``path`` as an input of the running command (no-op outside a command)."""
    if _INPUTS is not None:
        _INPUTS.add(_resolve(path))


def guarded_inputs() -> frozenset[Path]:
    """The inputs of the running command (empty outside a command)."""
    return frozenset(_INPUTS or ())


def check_not_input(target: str | os.PathLike, field: str = "output", replaces: bool = False) -> None:
    """Refuse to write ``target`` if it is an input, or (``replaces``: the folder is replaced or deleted)
    if an input lies inside it. Raises a one-line :class:`UserError` naming ``field``."""
    if not _INPUTS:
        return
    t = _resolve(target)
    for p in sorted(_INPUTS):
        if p == t:
            raise UserError(field, f"writing {t} would overwrite an input of this command",
                            "choose an output path that is not one of the inputs")
        if replaces and t in p.parents:
            raise UserError(field, f"{t} would be replaced, but it holds the input {p}",
                            "choose an output folder that holds none of the command's inputs")


def _is_one_line_error(exc: BaseException) -> bool:
    """A user error of this package or of steering_hooks (both carry field / problem / fix)."""
    return isinstance(exc, UserError) or (isinstance(exc, ValueError) and hasattr(exc, "field")
                                          and hasattr(exc, "problem") and hasattr(exc, "fix"))


def describe(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


@contextlib.contextmanager
def reading(path: str | os.PathLike, field: str, what: str = "a readable file") -> Iterator[Path]:
    """Read ``path`` (marked as an input) behind the one-line error boundary described above."""
    p = Path(path)
    mark_input(p)
    try:
        yield p
    except (KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit):
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary: any failure reading an input is one line
        if _is_one_line_error(exc) or os.environ.get(DEBUG_ENV):
            raise
        raise UserError(field, f"cannot read {p} ({describe(exc)})", f"give {what}") from exc
