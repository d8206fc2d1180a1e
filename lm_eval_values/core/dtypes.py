"""Default model dtype per device: fast where the hardware has it, float32 otherwise.

* CUDA: ``bfloat16`` when the GPU supports it (Ampere and later), else ``float16``.
* CPU: ``bfloat16`` only when the CPU has native bf16 arithmetic (x86 ``avx512_bf16`` or
  ``amx_bf16``; Arm ``bf16``), else ``float32``. Without native support PyTorch emulates bf16
  matmuls and a forward pass is several times SLOWER than float32 (measured 5x on an AVX2 EPYC,
  see BENCHMARKS.md), so bf16 is never a blind default on CPU.
* anything else (``mps``...): ``float32``.

``values_hf`` uses :func:`default_dtype` when no ``dtype=`` model_arg is given (lm-eval's
``hf`` would use the checkpoint's own dtype). The score difference bf16 vs float32 is measured
in ``benchmarks/run_all.py``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_X86_BF16 = ("avx512_bf16", "amx_bf16")
_ARM_BF16 = ("bf16",)


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """CPU feature flags from ``/proc/cpuinfo`` (x86 ``flags`` / Arm ``Features``); empty if unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return set()
    out: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, val = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            out.update(val.split())
    return out


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16, AMX-BF16 or Arm BF16)."""
    return has_native_bf16(cpu_flags())


def has_native_bf16(flags: set[str]) -> bool:
    """Whether a set of CPU flags includes native bf16 arithmetic."""
    return any(f in flags for f in _X86_BF16 + _ARM_BF16)


def default_dtype(device: str | None = None) -> str:
    """The dtype name (``bfloat16`` / ``float16`` / ``float32``) to load a model with on ``device``."""
    import torch

    dev = str(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.startswith("cuda"):
        if not torch.cuda.is_available():
            return "float32"
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if dev.startswith("cpu"):
        return "bfloat16" if cpu_has_native_bf16() else "float32"
    return "float32"
