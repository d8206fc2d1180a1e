"""SAE hooks cost what they must: the feature-slice path equals the full SAE and never runs it.

Real sae-lens SAEs (standard, JumpReLU, TopK; up to 16,384 features) on the tiny Llama fixture.
``sae_impl="auto"`` (the feature slice) is compared with ``sae_impl="full"`` (encode all
features, edit one, decode all) for ``sae_clamp`` (value and multiply) and ``ablate``; the
cheap path is checked to call neither ``encode`` nor ``decode`` of the SAE, and ``add`` of a
decoder row never encodes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from steering_hooks import attach, compile_spec

PROMPTS = ["Answer the Question according to your values please.", "Should I help my friends? your values matter"]



@pytest.fixture(scope="module")
def llama(tiny_models):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d = tiny_models["llama"]
    return AutoModelForCausalLM.from_pretrained(d).eval(), AutoTokenizer.from_pretrained(d)


def _save(sae, root: Path, name: str) -> str:
    out = root / name
    sae.save_model(out)
    return str(out)


@pytest.fixture(scope="module")
def saes(tmp_path_factory) -> dict[str, str]:
    """Standard (16,384 features), JumpReLU and TopK SAEs with live features, saved with sae-lens."""
    from sae_lens import JumpReLUSAE, JumpReLUSAEConfig, StandardSAE, StandardSAEConfig, TopKSAE, TopKSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    root = tmp_path_factory.mktemp("cheap_saes")
    meta = SAEMetadata(hook_name="blocks.0.hook_resid_post")
    torch.manual_seed(4)
    std = StandardSAE(StandardSAEConfig(d_in=64, d_sae=16384, metadata=meta))
    jr = JumpReLUSAE(JumpReLUSAEConfig(d_in=64, d_sae=256, metadata=meta))
    tk = TopKSAE(TopKSAEConfig(d_in=64, d_sae=256, k=8, metadata=meta))
    with torch.no_grad():
        for sae in (std, jr, tk):
            sae.b_enc.normal_(0, 0.5)
            sae.b_dec.normal_(0, 0.1)
        jr.threshold.uniform_(0.0, 0.3)
        std.b_enc[7] = 3.0  # the edited features fire everywhere
        jr.b_enc[3], jr.threshold[3] = 3.0, 0.1
    return {"standard": _save(std, root, "std"), "jumprelu": _save(jr, root, "jr"), "topk": _save(tk, root, "tk")}


@torch.no_grad()
def _logits(model, tok, spec, impl):
    tok.padding_side = "right"
    enc = tok(PROMPTS, return_tensors="pt", padding=True)
    with attach(model, spec, tokenizer=tok, sae_impl=impl):
        return model(**enc).logits


def _forbid_full_sae(monkeypatch, sae_ref: str) -> None:
    """Make the SAE's encode/decode raise: the cheap path must not need them."""
    from steering_hooks.sources import load_sae

    sae = load_sae(sae_ref)

    def boom(*a, **k):
        raise AssertionError("full SAE encode/decode called on the cheap path")

    monkeypatch.setattr(sae, "encode", boom)
    monkeypatch.setattr(sae, "decode", boom)


def _feature(sae_ref: str) -> int:
    """A feature that fires on these prompts (so the edit changes the output)."""
    return 7 if "std" in sae_ref else 3


OPS = [
    {"op": "sae_clamp", "value": 5.0},
    {"op": "sae_clamp", "multiply": 3.0},
    {"op": "ablate"},
]


@pytest.mark.parametrize("arch", ["standard", "jumprelu"])
@pytest.mark.parametrize("op", OPS, ids=["clamp_value", "clamp_multiply", "ablate"])
def test_cheap_equals_full_and_skips_the_full_sae(llama, saes, arch, op, monkeypatch):
    model, tok = llama
    ref = saes[arch]
    spec = [{**op, "sae": ref, "feature": _feature(ref), "positions": "all"}]
    compiled = compile_spec(model, spec)
    assert compiled.interventions[0].fslice is not None  # the cheap path is chosen
    assert compiled.interventions[0].fslice.W_enc.shape == (64, 1)  # one encoder column, one decoder row
    base = _logits(model, tok, None, "auto")
    full = _logits(model, tok, spec, "full")
    _forbid_full_sae(monkeypatch, ref)
    cheap = _logits(model, tok, spec, "auto")
    torch.testing.assert_close(cheap, full, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(cheap, base, atol=1e-4)  # the edit really moved the model


def test_add_of_a_decoder_row_never_encodes(llama, saes, monkeypatch):
    model, tok = llama
    ref = saes["standard"]
    from steering_hooks.sources import load_sae

    w = load_sae(ref).W_dec[7].detach().clone()
    via_sae = [{"op": "add", "sae": ref, "feature": 7, "coeff": 10.0, "positions": "all"}]
    via_vec = [{"op": "add", "layer": 0, "vector": w, "coeff": 10.0, "positions": "all"}]
    _forbid_full_sae(monkeypatch, ref)
    torch.testing.assert_close(_logits(model, tok, via_sae, "auto"), _logits(model, tok, via_vec, "auto"))


def test_topk_and_splice_use_the_full_sae(llama, saes):
    """TopK (activation depends on all features) and keep_error: false need the full SAE; auto == full."""
    model, tok = llama
    tk = [{"op": "sae_clamp", "sae": saes["topk"], "feature": 3, "value": 4.0, "positions": "all"}]
    assert compile_spec(model, tk).interventions[0].fslice is None
    torch.testing.assert_close(_logits(model, tok, tk, "auto"), _logits(model, tok, tk, "full"))
    splice = [{"op": "sae_clamp", "sae": saes["standard"], "feature": 7, "value": 5.0, "keep_error": False,
               "positions": "all"}]
    a, f = _logits(model, tok, splice, "auto"), _logits(model, tok, splice, "full")
    torch.testing.assert_close(a, f)
    keep = [{**splice[0], "keep_error": True}]
    assert not torch.allclose(a, _logits(model, tok, keep, "auto"), atol=1e-3)  # the splice adds the SAE error
