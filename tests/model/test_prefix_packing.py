"""Packed suffix forwards (``lm_eval_values.model.prefix_packing``): the layout, when packing is used,
and the plain path's log-likelihoods on every tiny architecture (sdpa and eager attention, sliding
windows), with and without steering."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch

from lm_eval_values.model import prefix_reuse
from lm_eval_values.model.prefix_packing import (PACKED_MODEL_TYPES, build_pack, pack_rows, packable_spec,
                                                 packing_limit)

SHORT_PREFIX = "Role: a nurse.\nAnswer yes or no.\n"
SHORT_ITEMS = ["Question: Is power good?\nAnswer:", "Question: Help friends?\nAnswer:",
               "Question: Is it important to me?\nAnswer:"]
LONG_PREFIX = ("Answer the Question according to your values. Answer the question with 'yes' or 'no'.\n\n"
               "Question: Should I help my friends?\nAnswer: yes\n\nQuestion: Is it important to me?\nAnswer: no\n\n")
CHOICES = [" yes", " Yes", " no", " No", " maybe so"]


@dataclass
class FakeRow:
    inp: tuple[int, ...]
    first_needed: int

    @property
    def length(self) -> int:
        return len(self.inp)


def test_pack_layout_is_block_causal_after_the_prefix():
    P = 3
    rows = [FakeRow((1, 2, 3, 10, 11), 4), FakeRow((1, 2, 3, 20, 21, 22), 3)]
    pack = build_pack(rows, P, torch.float32, "cpu")
    assert pack.input_ids.tolist() == [[10, 11, 20, 21, 22]]
    assert pack.position_ids.tolist() == [[3, 4, 3, 4, 5]]
    visible = (pack.attention_mask[0, 0] == 0).int().tolist()
    # every suffix token sees the 3 prefix columns, then itself and earlier tokens of its own row only
    assert visible == [[1, 1, 1, 1, 0, 0, 0, 0],
                       [1, 1, 1, 1, 1, 0, 0, 0],
                       [1, 1, 1, 0, 0, 1, 0, 0],
                       [1, 1, 1, 0, 0, 1, 1, 0],
                       [1, 1, 1, 0, 0, 1, 1, 1]]
    assert pack.attention_mask.min() == torch.finfo(torch.float32).min
    # kept logits: row 0 from position 4 (packed column 1), row 1 from position 3 (packed columns 2-4)
    assert pack.keep.tolist() == [1, 2, 3, 4]
    assert [pack.logit_row(0, 4, P), pack.logit_row(1, 3, P), pack.logit_row(1, 5, P)] == [0, 1, 3]


def test_pack_with_prefix_runs_the_prefix_causally_in_front():
    P = 2
    rows = [FakeRow((1, 2, 10, 11), 2), FakeRow((1, 2, 20), 2)]
    pack = build_pack(rows, P, torch.float32, "cpu", with_prefix=True)
    assert pack.input_ids.tolist() == [[1, 2, 10, 11, 20]]
    assert pack.position_ids.tolist() == [[0, 1, 2, 3, 2]]
    visible = (pack.attention_mask[0, 0] == 0).int().tolist()
    assert visible == [[1, 0, 0, 0, 0],
                       [1, 1, 0, 0, 0],
                       [1, 1, 1, 0, 0],
                       [1, 1, 1, 1, 0],
                       [1, 1, 0, 0, 1]]
    # row 0 reads positions 2 and 3 (input columns 2, 3), row 1 position 2 (column 4)
    assert pack.keep.tolist() == [2, 3, 4] and pack.starts == [2, 4]
    assert [pack.logit_row(0, 2, P), pack.logit_row(0, 3, P), pack.logit_row(1, 2, P)] == [0, 1, 2]


def test_pack_rows_respects_the_token_limit():
    rows = [FakeRow(tuple(range(2 + n)), 2) for n in (3, 3, 3, 9, 1)]
    packs = pack_rows(rows, 2, 6)
    assert [[r.length - 2 for r in p] for p in packs] == [[3, 3], [3], [9], [1]]
    assert sum(len(p) for p in packs) == len(rows)


def test_packing_limit_by_model_type_attention_and_window():
    def model(model_type, attn="sdpa", window=None):
        return SimpleNamespace(config=SimpleNamespace(model_type=model_type, _attn_implementation=attn,
                                                      sliding_window=window))
    assert packing_limit(model("llama"), 100, 256) == 256
    assert packing_limit(model("gemma2", "eager"), 100, 256) == 256
    assert packing_limit(model("llama", "flash_attention_2"), 100, 256) == 0
    assert packing_limit(model("some_new_arch"), 100, 256) == 0
    assert packing_limit(model("gemma3_text", window=512), 100, 256) == 256
    assert packing_limit(model("gemma3_text", window=512), 400, 256) == 111  # prefix + pack < window
    assert packing_limit(model("gemma3_text", window=64), 100, 256) == 0
    assert "gemma3" not in PACKED_MODEL_TYPES  # the multimodal Gemma 3 wrapper is not checked


@pytest.fixture(scope="module")
def arch_lms(tiny_models):
    from lm_eval_values.model.values_hf import ValuesHFLM

    return {arch: ValuesHFLM(pretrained=str(path), batch_size=4, device="cpu", dtype="float32")
            for arch, path in tiny_models.items()}


def _requests(lm, prefix: str) -> list:
    reqs = []
    for item in SHORT_ITEMS:
        for cont in CHOICES:
            c, k = lm._encode_pair(prefix + item, cont)
            reqs.append(((prefix + item, cont), c, k))
    return reqs


def _plain(lm, reqs):
    lm.prefix_reuse = False
    try:
        return lm._loglikelihood_tokens(reqs, disable_tqdm=True)
    finally:
        lm.prefix_reuse = True


def _spy(monkeypatch) -> dict[str, int]:
    calls = {"packed": 0, "batched": 0}
    for name, key in (("_run_packed", "packed"), ("_run_batched", "batched")):
        real = getattr(prefix_reuse, name)

        def wrapped(*a, _real=real, _key=key, **kw):
            calls[_key] += 1
            return _real(*a, **kw)
        monkeypatch.setattr(prefix_reuse, name, wrapped)
    return calls


def _reuse(lm, reqs, **kw):
    return prefix_reuse.loglikelihood_tokens(lm, reqs, fallback=lambda r: _plain(lm, r), compiled=lm._compiled,
                                             receipt=lm._receipt, min_prefix=4, **kw)


def _close(got, ref, atol=2e-4):
    assert len(got) == len(ref)
    for (a, ga), (b, gb) in zip(got, ref):
        assert a == pytest.approx(b, abs=atol)
        assert ga == gb


STEER = [{"op": "add", "layer": 0, "vector": "lin", "coeff": 2.0, "positions": "prompt"},
         {"op": "add", "layer": 1, "vector": "lin", "coeff": 3.0, "positions": 'span:"important"', "required": False}]


def _steer(lm):
    d = lm.model.config.hidden_size
    return [{**iv, "vector": torch.linspace(-2, 2, d)} for iv in STEER]


@pytest.mark.parametrize("arch", ["gpt2", "llama", "gemma", "gemma2", "gemma3"])
@pytest.mark.parametrize("steered", [False, True])
@pytest.mark.parametrize("pack_tokens", [16, 512])
def test_packed_equals_plain_on_every_arch(arch_lms, monkeypatch, arch, steered, pack_tokens):
    """Short prompts (inside the tiny Gemma 2/3 sliding window of 64): the packed path runs and gives
    the plain path's numbers, with the prefix in its own forward and several packs (16) and with prefix
    and suffixes in one forward (512); steering changes the numbers (the comparison can fail)."""
    lm = arch_lms[arch]
    lm.set_condition(steer=_steer(lm) if steered else None)
    reqs = _requests(lm, SHORT_PREFIX)
    assert max(len(c) + len(k) for _, c, k in reqs) < 63
    ref = _plain(lm, reqs)
    calls = _spy(monkeypatch)
    got = _reuse(lm, reqs, pack_tokens=pack_tokens)
    assert calls["packed"] >= 1 and calls["batched"] == 0
    _close(got, ref)
    if steered:
        lm.set_condition()
        assert max(abs(a[0] - b[0]) for a, b in zip(_plain(lm, reqs), ref)) > 1e-3


@pytest.mark.parametrize("arch", ["gemma2", "gemma3"])
def test_prefix_beyond_the_sliding_window_falls_back_to_batches(arch_lms, monkeypatch, arch):
    lm = arch_lms[arch]
    lm.set_condition()
    reqs = _requests(lm, LONG_PREFIX)
    assert min(len(c) for _, c, _k in reqs) > 64
    ref = _plain(lm, reqs)
    calls = _spy(monkeypatch)
    got = _reuse(lm, reqs)
    assert calls["packed"] == 0 and calls["batched"] >= 1
    _close(got, ref)


def test_last_k_scope_uses_batches(arch_lms, monkeypatch):
    """``last:k`` counts from the end of each row: not packable, the batched path gives the plain numbers."""
    lm = arch_lms["llama"]
    d = lm.model.config.hidden_size
    lm.set_condition(steer=[{"op": "add", "layer": 0, "vector": torch.ones(d), "coeff": 1.0, "positions": "last:2"}])
    assert not packable_spec(lm._compiled)
    reqs = _requests(lm, SHORT_PREFIX)
    ref = _plain(lm, reqs)
    calls = _spy(monkeypatch)
    got = _reuse(lm, reqs)
    assert calls["packed"] == 0 and calls["batched"] >= 1
    _close(got, ref)
    lm.set_condition()
    assert packable_spec(lm._compiled)


@pytest.mark.parametrize("pack_tokens", [4096, 100])
def test_forward_tokens_equal_the_reuse_count(arch_lms, pack_tokens):
    """Packed forwards run exactly the prefix once plus every row's suffix (no padding): one forward when
    every suffix fits one pack, else the prefix forward and one forward per pack."""
    lm = arch_lms["llama"]
    lm.set_condition()
    reqs = _requests(lm, LONG_PREFIX)
    seen = []
    handle = lm.model.register_forward_pre_hook(lambda m, a, kw: seen.append(kw["input_ids"].numel()),
                                                with_kwargs=True)
    try:
        got = _reuse(lm, reqs, pack_tokens=pack_tokens)
    finally:
        handle.remove()
    _close(got, _plain(lm, reqs))
    stats = prefix_reuse.reuse_stats(reqs, min_prefix=4)
    assert stats["groups"] == 1
    assert sum(seen) == stats["reuse_tokens"] < stats["hf_tokens"]
    assert len(seen) == 1 if pack_tokens == 4096 else len(seen) >= 3  # prefix forward + two packs or more
