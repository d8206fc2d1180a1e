"""The conditions of a sweep: one (seed, role, steering setting) cell each, and how shards split them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from lm_eval_values.core.errors import UserError
from lm_eval_values.model.roles import Role
from lm_eval_values.sweep.steering import SteeringSetting


@dataclass(frozen=True)
class Condition:
    """One (seed, role, steering setting) cell of the sweep; ``index`` is its grid position."""

    index: int
    seed: int
    role: Role
    steering: SteeringSetting
    condition_id: str

    @property
    def role_prompt(self) -> str:
        """Role text plus the value-definition prompt (if any), as given to the model."""
        parts = [p for p in (self.role.text, self.steering.prompt) if p]
        return " ".join(parts)

    def meta(self) -> dict[str, Any]:
        """The matrix meta columns of this condition."""
        return {"condition_id": self.condition_id, "role_id": self.role.id, "split": self.role.split,
                "steering_id": self.steering.id, "coefficient": self.steering.coefficient, "seed": self.seed}


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N``; ``None`` -> ``(0, 1)``."""
    if text is None:
        return 0, 1
    try:
        i_s, n_s = str(text).split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise UserError("--shard", f"{text!r} is not of the form i/N", "e.g. --shard 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise UserError("--shard", f"{text!r}: need 0 <= i < N", "e.g. --shard 0/4 ... --shard 3/4")
    return i, n


def shard_conditions(conditions: Sequence[Condition], shard: tuple[int, int]) -> list[Condition]:
    """The deterministic subset of ``conditions`` that shard ``i/N`` runs (round robin by index)."""
    i, n = shard
    return [c for c in conditions if c.index % n == i]
