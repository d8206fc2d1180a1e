"""The conditions of a sweep: one (seed, role, steering setting) cell each, and how shards split them.

Shards: ``--shard i/N`` runs the conditions whose grid index is ``i`` modulo ``N``. ``--shard auto``
reads ``i`` and ``N`` from the scheduler's environment (:func:`shard_from_environment`), so one job
script serves every task of a job array; ``--shard auto/N`` reads ``i`` and checks it against ``N``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

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


#: the generic variables (any scheduler; they win over the scheduler's own when set)
SHARD_INDEX_ENV = "LM_EVAL_VALUES_SHARD_INDEX"
SHARD_COUNT_ENV = "LM_EVAL_VALUES_SHARD_COUNT"
_AUTO_FIX = (f"run inside a SLURM job array (sbatch --array=0-7), a Kubernetes Indexed Job (with {SHARD_COUNT_ENV}), "
             f"or set {SHARD_INDEX_ENV} and {SHARD_COUNT_ENV}; or give --shard i/N")


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None or not str(raw).strip():
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        raise UserError("--shard", f"auto: ${name} is {raw!r}, not an integer", _AUTO_FIX) from None


def shard_from_environment(env: Mapping[str, str] | None = None) -> tuple[int | None, int | None, str]:
    """``(index, count, source)`` of this task of a job array, from the scheduler's variables.

    In order (the first whose index variable is set wins):

    * generic: ``LM_EVAL_VALUES_SHARD_INDEX`` and ``LM_EVAL_VALUES_SHARD_COUNT``;
    * SLURM job arrays: ``(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP`` and
      ``SLURM_ARRAY_TASK_COUNT`` (``--array=0-7`` or ``1-8``; a list such as ``1,3,7`` is not contiguous);
    * Kubernetes Indexed Jobs: ``JOB_COMPLETION_INDEX`` and ``LM_EVAL_VALUES_SHARD_COUNT`` (Kubernetes
      does not expose ``completions``: set it in the manifest, or pass ``--shard auto/N``).

    ``count`` is None when the scheduler gives no count; raises :class:`UserError` when no index is set.
    """
    env = os.environ if env is None else env
    count = _env_int(env, SHARD_COUNT_ENV)
    index = _env_int(env, SHARD_INDEX_ENV)
    if index is not None:
        return index, count, f"${SHARD_INDEX_ENV}"
    task_id = _env_int(env, "SLURM_ARRAY_TASK_ID")
    if task_id is not None:
        low = _env_int(env, "SLURM_ARRAY_TASK_MIN") or 0
        step = _env_int(env, "SLURM_ARRAY_TASK_STEP") or 1
        slurm_count = _env_int(env, "SLURM_ARRAY_TASK_COUNT")
        return (task_id - low) // max(step, 1), slurm_count if slurm_count is not None else count, \
            "SLURM job array ($SLURM_ARRAY_TASK_ID)"
    job_index = _env_int(env, "JOB_COMPLETION_INDEX")
    if job_index is not None:
        return job_index, count, "Kubernetes Indexed Job ($JOB_COMPLETION_INDEX)"
    raise UserError("--shard", "auto: not inside a job array (no SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or "
                    f"{SHARD_INDEX_ENV} is set)", _AUTO_FIX)


def resolve_shard(text: str | None, env: Mapping[str, str] | None = None) -> tuple[tuple[int, int], str]:
    """``--shard`` -> ``((i, N), where it came from)``: ``i/N``, ``auto``, ``auto/N`` or None (everything)."""
    if text is None or str(text).strip() == "":
        return (0, 1), ""
    text = str(text).strip()
    if text != "auto" and not text.startswith("auto/"):
        return parse_shard(text), ""
    index, count, source = shard_from_environment(env)
    if text.startswith("auto/"):
        try:
            given = int(text.split("/", 1)[1])
        except ValueError:
            raise UserError("--shard", f"{text!r} is not of the form auto/N", "e.g. --shard auto/8") from None
        if count is not None and count != given:
            raise UserError("--shard", f"{text}: the scheduler says {count} shards ({source})",
                            f"use --shard auto, or --shard auto/{count}")
        count = given
    if count is None:
        raise UserError("--shard", f"auto: {source} gives this task's index ({index}) but not the number of shards",
                        f"set {SHARD_COUNT_ENV} (e.g. to the Job's completions) or use --shard auto/N")
    if count < 1 or not 0 <= index < count:
        raise UserError("--shard", f"auto: shard index {index} of {count} from {source} is out of range",
                        "use a contiguous array starting at its minimum, e.g. sbatch --array=0-7, with N shards")
    return (index, count), source


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N``; ``None`` -> ``(0, 1)``."""
    if text is None:
        return 0, 1
    try:
        i_s, n_s = str(text).split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise UserError("--shard", f"{text!r} is not of the form i/N", "e.g. --shard 0/4, or --shard auto in a job array") from None
    if n < 1 or not 0 <= i < n:
        raise UserError("--shard", f"{text!r}: need 0 <= i < N", "e.g. --shard 0/4 ... --shard 3/4")
    return i, n


def shard_conditions(conditions: Sequence[Condition], shard: tuple[int, int]) -> list[Condition]:
    """The deterministic subset of ``conditions`` that shard ``i/N`` runs (round robin by index)."""
    i, n = shard
    return [c for c in conditions if c.index % n == i]
