"""User-facing errors.

Every problem caused by user input (a config, a file, a flag) is raised as a
:class:`UserError`. The CLI prints it as ONE line naming the field and the fix and
exits with status 2 (no traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any, Mapping, Sequence

EXIT_USER_ERROR = 2
#: seeds go to numpy's legacy seeding (``np.random.seed``), which takes 0 <= seed < 2**32
MAX_SEED = 2**32 - 1


class UserError(ValueError):
    """Bad input: names the offending ``field`` and how to ``fix`` it.

    >>> str(UserError("steer.layer", "layer 40 is beyond the model's 30 layers", "use 0..29"))
    "steer.layer: layer 40 is beyond the model's 30 layers (fix: use 0..29)"
    """

    def __init__(self, field: str, problem: str, fix: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        msg = f"{self.field}: {self.problem}"
        if self.fix:
            msg += f" (fix: {self.fix})"
        return " ".join(msg.split())  # always a single line


def settings_dict(d: Any, known: Sequence[str], section: str) -> dict[str, Any]:
    """``d`` as the settings of ``section``: a mapping whose keys are all in ``known`` (one line otherwise)."""
    if not isinstance(d, Mapping):
        raise UserError(section, f"must be a mapping, got {type(d).__name__}", "give key: value pairs")
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise UserError(f"{section}.{unknown[0]}", "unknown setting", f"use some of: {', '.join(known)}")
    return dict(d)


def check_seed(x: Any, where: str) -> int:
    """A seed: a whole number in ``0..2**32-1`` (numpy's legacy seeding refuses anything else)."""
    if isinstance(x, bool) or not isinstance(x, int):
        raise UserError(where, f"must be a whole number, got {x!r}", "e.g. 0")
    if not 0 <= x <= MAX_SEED:
        raise UserError(where, f"seed {x} is outside 0..{MAX_SEED}", f"use a seed between 0 and {MAX_SEED}")
    return x


class ArgumentParser(argparse.ArgumentParser):
    """argparse for this package's own subcommands: a bad flag is a one-line :class:`UserError`
    naming the flag (``argument --x: invalid choice ...`` -> field ``--x``), not usage text.

    Numbers are checked as they enter: a float flag given ``nan`` or ``inf``, or a seed flag (``--seed``,
    ``--seeds``) outside ``0..2**32-1``, is refused the same way."""

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: Any = None) -> Any:
        ns, rest = super().parse_known_args(args, namespace)
        for action in self._actions:
            value = getattr(ns, action.dest, None)
            flag = action.option_strings[-1] if action.option_strings else action.dest
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, float) and not math.isfinite(v):
                    self.error(f"argument {flag}: {v!r} is not a finite number")
                if "seed" in action.dest and isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= MAX_SEED:
                    self.error(f"argument {flag}: seed {v} is outside 0..{MAX_SEED}")
        return ns, rest

    def error(self, message: str) -> None:  # type: ignore[override]
        m = re.match(r"argument ([^:]+): (.*)", message)
        field, problem = (m.group(1).split("/")[0], m.group(2)) if m else (self.prog, message)
        raise UserError(field, problem, f"see `{self.prog} --help`")
