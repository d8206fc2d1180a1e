"""What ``lm-eval-values check`` reports: its settings, one entry per problem or warning, the report."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import torch

from lm_eval_values.core.errors import UserError
from lm_eval_values.sweep.workload import GIB
from steering_hooks.sae_refs import SaeRegistry


@dataclass(frozen=True)
class CheckSettings:
    """What the check compares against: GPU memory (bytes), tokens per request, a throughput override."""

    gpu_memory: int | None = 80 * GIB  # None: memory is reported, not compared
    tokens: int = 256
    items_per_s: float | None = None
    count_items: bool = True
    registry: SaeRegistry | None = None  # None: the installed sae-lens registry

    @classmethod
    def for_run(cls) -> "CheckSettings":
        """What ``study`` / ``sweep`` check before loading a model: memory against this machine's GPU
        (if it has one), no item counting (the run counts them itself)."""
        gpu = torch.cuda.get_device_properties(0).total_memory if torch.cuda.is_available() else None
        return cls(gpu_memory=gpu, count_items=False)


@dataclass(frozen=True)
class CheckEntry:
    """One problem (``error``: the run would fail) or ``warning`` (it would run; read the reason)."""

    level: str
    field: str
    problem: str
    fix: str | None = None

    def line(self) -> str:
        """``error: field: problem (fix: ...)``, one line."""
        return f"{self.level}: {UserError(self.field, self.problem, self.fix).one_line()}"


@dataclass
class CheckReport:
    """All entries of one check, plus readable ``info`` lines (model shapes, SAEs, memory, work)."""

    source: str
    kind: str
    entries: list[CheckEntry] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def problems(self) -> list[CheckEntry]:
        return [e for e in self.entries if e.level == "error"]

    @property
    def warnings(self) -> list[CheckEntry]:
        return [e for e in self.entries if e.level == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing would make the run fail."""
        return not self.problems

    def add(self, level: str, field_: str, problem: str, fix: str | None = None) -> None:
        entry = CheckEntry(level, field_, problem, fix)
        if entry not in self.entries:
            self.entries.append(entry)

    def raise_first_problem(self, config: str) -> None:
        """For ``study`` / ``sweep``: a :class:`UserError` of the first problem (one line), else print warnings."""
        if self.problems:
            first, more = self.problems[0], len(self.problems) - 1
            extra = f"; {more} more problem(s): run `lm-eval-values check {config}`" if more else ""
            raise UserError(first.field, first.problem + extra, first.fix)
        for w in self.warnings:
            print(w.line(), file=sys.stderr)
