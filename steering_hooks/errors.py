"""Errors raised for bad steering specs (one line naming the field and the fix)."""

from __future__ import annotations


class SpecError(ValueError):
    """A steering spec problem, detected before any forward pass."""

    def __init__(self, field: str, problem: str, fix: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        msg = f"{field}: {problem}" + (f" (fix: {fix})" if fix else "")
        super().__init__(" ".join(msg.split()))
