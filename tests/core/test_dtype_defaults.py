"""Default dtypes (``lm_eval_values.core.dtypes``): bf16 only where the hardware computes it natively."""

from __future__ import annotations

import pytest
import torch

from lm_eval_values.core import dtypes

X86_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
X86_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n"
ARM_OLD = "processor\t: 0\nFeatures\t: fp asimd evtstrm\n"


@pytest.mark.parametrize("info,expected", [(X86_AVX2, False), (X86_BF16, True), (ARM_BF16, True), (ARM_OLD, False),
                                           ("", False)])
def test_native_bf16_detection(info, expected):
    assert dtypes.has_native_bf16(dtypes.cpu_flags(info)) is expected


@pytest.mark.parametrize("native,expected", [(True, "bfloat16"), (False, "float32")])
def test_cpu_default(monkeypatch, native, expected):
    monkeypatch.setattr(dtypes, "cpu_has_native_bf16", lambda: native)
    assert dtypes.default_dtype("cpu") == expected


@pytest.mark.parametrize("bf16,expected", [(True, "bfloat16"), (False, "float16")])
def test_cuda_default(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert dtypes.default_dtype("cuda:0") == expected


def test_cuda_requested_without_gpu_falls_back(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dtypes.default_dtype("cuda") == "float32"
    assert dtypes.default_dtype("mps") == "float32"


def test_bf16_scores_stay_close_to_float32(tiny_model_dir):
    """A real forward in both dtypes: log-probs differ, but by bf16 rounding only (tiny model)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = tok(["Should I help my friends? Answer: yes"], return_tensors="pt").input_ids
    out = {}
    for dt in (torch.float32, torch.bfloat16):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=dt).eval()
        with torch.no_grad():
            out[dt] = torch.log_softmax(model(ids).logits.float(), -1)
    diff = (out[torch.float32] - out[torch.bfloat16]).abs().max().item()
    assert 0 < diff < 0.1
