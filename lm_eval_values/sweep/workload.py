"""How much memory and time a sweep needs, estimated offline from the model's shape and the project's
own measured throughput (used by ``lm-eval-values check``).

Memory (bytes) of one model on one device::

    weights      = parameters x dtype bytes
    SAEs         = sum over distinct SAEs of (2 x d_in x d_sae + d_sae + d_in) x 4     (float32, as loaded)
    activations  = batch x tokens x (2 x vocab + 2 x d_ff + 4 x d_model) x dtype bytes   (logits and their
                   log-softmax, the MLP's widest tensors, the residual stream and attention outputs)
                 + batch x heads x tokens^2 x dtype bytes                               (attention scores)
    total        = 1.1 x (weights + SAEs + activations) + 0.5 GiB                       (allocator slack, CUDA context)

This is an estimate for inference without gradients (one layer's activations alive at a time),
an upper bound where attention kernels do not materialise the scores.

Time: items / items-per-second, the items-per-second scaled from a throughput the project measured
(:data:`THROUGHPUT_BASES`) by the ratio of parameter counts (a forward pass costs ~2 x parameters
FLOPs per token), and by the answer format (:data:`FORMAT_COST`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lm_eval_values.model.refs import ModelFacts

GIB = 1024 ** 3
DTYPE_BYTES = {"float32": 4, "float": 4, "float16": 2, "half": 2, "bfloat16": 2, "bf16": 2, "fp16": 2, "fp32": 4}
#: Forward passes per item and relative cost per item, by answer format. yesno: the two one-token answers
#: share one forward pass (lm-eval groups them); likert: six multi-token options, one request each;
#: generate: the prompt plus ~22 generated tokens (BENCHMARKS.md figure 5: generate costs 8.15x yesno per item).
FORMAT_PASSES = {"yesno": 1, "likert": 6, "likert_rev": 6, "generate": 23}
FORMAT_COST = {"yesno": 1.0, "likert": 3.0, "likert_rev": 3.0, "generate": 8.15}


@dataclass(frozen=True)
class ThroughputBasis:
    """A throughput this project measured, to scale from."""

    device: str  # "cpu" or "cuda"
    model: str
    n_params: int
    items_per_s: float
    where: str


#: Measured throughputs (yes/no items per second). Add a GPU line when one is measured (BENCHMARKS.md).
THROUGHPUT_BASES: tuple[ThroughputBasis, ...] = (
    ThroughputBasis("cpu", "SmolLM2-135M-Instruct", 134_515_008, 38.3,
                    "README.md 'Measured': study_smollm2_sae.yaml, 30,000 yes/no items, float32, batch 32, "
                    "idle 2-core CPU"),
)


def dtype_bytes(dtype: str | None, device: str) -> tuple[int, str]:
    """Bytes per parameter and the dtype name assumed (values_hf's default when none is given)."""
    name = str(dtype or "").lower().replace("torch.", "")
    if name in DTYPE_BYTES:
        return DTYPE_BYTES[name], name
    if device.startswith("cuda"):
        return 2, "bfloat16 (values_hf's CUDA default)"
    return 4, "float32 (values_hf's default on CPUs without native bf16)"


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes needed on the model's device (see the module docstring)."""

    weights: int
    saes: int
    activations: int
    per_item: int
    dtype: str

    @property
    def total(self) -> int:
        return int(1.1 * (self.weights + self.saes + self.activations) + 0.5 * GIB)

    def max_batch(self, capacity: int) -> int:
        """The largest batch size whose total fits in ``capacity`` bytes (0: not even the weights fit)."""
        room = (capacity - 0.5 * GIB) / 1.1 - self.weights - self.saes
        return max(0, int(room // self.per_item)) if self.per_item else 0


def estimate_memory(facts: ModelFacts, dtype: str | None, device: str, batch: int, tokens: int,
                    sae_shapes: list[tuple[int, int]]) -> MemoryEstimate | None:
    """Memory of one model with its SAEs at ``batch`` x ``tokens``; None without a parameter count."""
    if facts.n_params is None:
        return None
    nbytes, name = dtype_bytes(dtype, device)
    vocab = facts.vocab or 0
    d_ff = facts.d_ff or 4 * facts.d_model
    heads = facts.n_heads or max(1, facts.d_model // 64)
    per_item = tokens * (2 * vocab + 2 * d_ff + 4 * facts.d_model) * nbytes + heads * tokens * tokens * nbytes
    saes = sum((2 * d_in * d_sae + d_sae + d_in) * 4 for d_in, d_sae in sae_shapes)
    return MemoryEstimate(weights=facts.n_params * nbytes, saes=saes, activations=batch * per_item,
                          per_item=per_item, dtype=name)


def parse_memory(text: str) -> int:
    """``80GiB``, ``80GB``, ``80`` (GiB), ``141 GiB`` -> bytes. Raises ValueError."""
    t = str(text).strip().lower().replace(" ", "")
    units = {"gib": GIB, "gb": 10 ** 9, "mib": 1024 ** 2, "mb": 10 ** 6, "tib": 1024 ** 4, "tb": 10 ** 12, "": GIB}
    for unit in sorted(units, key=len, reverse=True):
        if t.endswith(unit):
            number = t[: len(t) - len(unit)] if unit else t
            value = float(number)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(text)
            return int(value * units[unit])
    raise ValueError(text)  # pragma: no cover - "" always matches


def gib(n: float) -> str:
    """Bytes as ``12.3 GiB``."""
    return f"{n / GIB:.1f} GiB"


def estimate_seconds(items_by_format: dict[str, int], facts: ModelFacts | None, device: str,
                     items_per_s: float | None = None) -> tuple[float | None, str]:
    """Seconds for the items, and the basis in words. ``items_per_s`` (yes/no items) overrides the bases."""
    weighted = sum(n * FORMAT_COST.get(fmt, 1.0) for fmt, n in items_by_format.items())
    if items_per_s:
        return weighted / items_per_s, f"{items_per_s:g} yes/no items/s as given (--items-per-s)"
    kind = "cuda" if device.startswith("cuda") else "cpu"
    same = [b for b in THROUGHPUT_BASES if b.device == kind]
    basis = same[0] if same else next((b for b in THROUGHPUT_BASES if b.device == "cpu"), None)
    if basis is None or facts is None or facts.n_params is None:
        return None, "no measured throughput or parameter count to scale from"
    rate = basis.items_per_s * basis.n_params / facts.n_params
    words = (f"{rate:.3g} yes/no items/s = {basis.items_per_s:g} items/s measured for {basis.model} "
             f"({basis.where}) x {basis.n_params / 1e6:.0f}M / {facts.n_params / 1e6:.0f}M parameters")
    if kind == "cuda" and basis.device != "cuda":
        words += ("; NO GPU throughput has been measured by this project yet, so this CPU-based time is an "
                  "upper bound for a GPU: pass --items-per-s after a first GPU run")
    return weighted / rate, words


def duration(seconds: float) -> str:
    """``3.2 h``, ``14 min``, ``40 s``."""
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
