"""User-facing errors.

Every problem caused by user input (a config, a file, a flag) is raised as a
:class:`UserError`. The CLI prints it as ONE line naming the field and the fix and
exits with status 2 (no traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import re

EXIT_USER_ERROR = 2


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


class ArgumentParser(argparse.ArgumentParser):
    """argparse for this package's own subcommands: a bad flag is a one-line :class:`UserError`
    naming the flag (``argument --x: invalid choice ...`` -> field ``--x``), not usage text."""

    def error(self, message: str) -> None:  # type: ignore[override]
        m = re.match(r"argument ([^:]+): (.*)", message)
        field, problem = (m.group(1).split("/")[0], m.group(2)) if m else (self.prog, message)
        raise UserError(field, problem, f"see `{self.prog} --help`")
