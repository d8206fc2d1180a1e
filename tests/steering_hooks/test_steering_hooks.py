"""steering_hooks on real (tiny, random) HF models and real sae-lens SAEs: ops, scopes, padding, hooks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from steering_hooks import BatchContext, SpecError, attach, compile_spec, diff_of_means, find_span_positions

PROMPTS = ["Answer the Question according to your values please.", "Should I help my friends? your values matter"]



def _load(d: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(d).eval()
    tok = AutoTokenizer.from_pretrained(d)
    return model, tok


@pytest.fixture(scope="module")
def models(tiny_models):
    return {arch: _load(d) for arch, d in tiny_models.items()}


@pytest.fixture(scope="module")
def llama(models):
    return models["llama"]


def _n_hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="module")
def sae_dir(tmp_path_factory) -> Path:
    """A real sae-lens StandardSAE (d_in 64, 32 features); feature 5 is dead (never fires)."""
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    torch.manual_seed(1)
    sae = StandardSAE(StandardSAEConfig(d_in=64, d_sae=32, metadata=SAEMetadata(hook_name="blocks.0.hook_resid_post")))
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.5)
        sae.b_enc[5] = -1e4
        sae.b_dec.normal_(0, 0.1)
    out = tmp_path_factory.mktemp("tiny_sae") / "sae"
    sae.save_model(out)
    return out


def _enc(tok, prompts, side="right"):
    tok.padding_side = side
    return tok(prompts, return_tensors="pt", padding=True)


@torch.no_grad()
def _logits(model, enc):
    return model(**enc).logits


# -- point 1: a zero intervention is exactly nothing ---------------------------------------
@pytest.mark.parametrize("arch", ["gpt2", "llama", "gemma3"])
def test_add_zero_coeff_is_identity(models, arch):
    model, tok = models[arch]
    enc = _enc(tok, PROMPTS)
    base = _logits(model, enc)
    spec = [{"op": "add", "layer": 0, "vector": torch.randn(64), "coeff": 0.0},
            {"op": "add", "layer": "blocks.1.hook_resid_pre", "vector": torch.randn(64), "coeff": 0.0}]
    with attach(model, spec) as s:
        out = _logits(model, enc)
    assert torch.equal(out, base)
    assert s.receipt.interventions[0].forwards == 1
    with attach(model, [{"op": "add", "layer": 1, "vector": torch.ones(64), "coeff": 0.5}]):
        moved = _logits(model, enc)
    assert not torch.allclose(moved, base)  # the hook does fire on this architecture
    assert _n_hooks(model) == 0


# -- point 2: SAE clamp to the current value / ablate of a dead feature change nothing -------
@pytest.mark.parametrize("impl", ["auto", "full"])
def test_sae_clamp_to_current_value_is_identity(llama, sae_dir, impl):
    model, tok = llama
    enc = _enc(tok, PROMPTS)
    base = _logits(model, enc)
    for f in (0, 7, 19):
        spec = [{"op": "sae_clamp", "sae": str(sae_dir), "feature": f, "multiply": 1.0}]
        with attach(model, spec, sae_impl=impl) as s:
            out = _logits(model, enc)
        assert torch.equal(out, base), f
        assert (s.compiled.interventions[0].fslice is not None) == (impl == "auto")


def test_sae_clamp_to_each_tokens_value_is_identity(llama, sae_dir):
    """Clamp feature f at each position, one position at a time, to the value it has there."""
    from sae_lens import SAE

    model, tok = llama
    sae = SAE.load_from_disk(str(sae_dir))
    enc = _enc(tok, PROMPTS[:1])
    base = _logits(model, enc)
    acts: list[torch.Tensor] = []
    h = model.model.layers[0].register_forward_hook(lambda m, a, o: acts.append((o[0] if isinstance(o, tuple) else o)))
    _logits(model, enc)
    h.remove()
    a = sae.encode(acts[0])[0, :, 7]
    T = enc["input_ids"].shape[1]
    for t in (0, T // 2, T - 1):
        mask = torch.zeros(1, T, dtype=torch.bool)
        mask[0, t] = True
        ctx = BatchContext(valid=torch.ones(1, T, dtype=torch.bool), prompt=mask)
        spec = [{"op": "sae_clamp", "sae": str(sae_dir), "feature": 7, "value": float(a[t].detach()), "positions": "prompt"}]
        with attach(model, spec, context=ctx):
            out = _logits(model, enc)
        torch.testing.assert_close(out, base, rtol=0, atol=1e-5)


@pytest.mark.parametrize("impl", ["auto", "full"])
def test_ablate_dead_feature_is_identity(llama, sae_dir, impl):
    model, tok = llama
    enc = _enc(tok, PROMPTS)
    base = _logits(model, enc)
    with attach(model, [{"op": "ablate", "sae": str(sae_dir), "feature": 5}], sae_impl=impl):
        out = _logits(model, enc)
    assert torch.equal(out, base)


def test_cheap_and_full_sae_paths_agree(llama, sae_dir):
    model, tok = llama
    enc = _enc(tok, PROMPTS)
    base = _logits(model, enc)
    spec = [{"op": "sae_clamp", "sae": str(sae_dir), "feature": 3, "value": 4.0},
            {"op": "ablate", "sae": str(sae_dir), "feature": 11}]
    with attach(model, spec, sae_impl="auto"):
        cheap = _logits(model, enc)
    with attach(model, spec, sae_impl="full"):
        full = _logits(model, enc)
    torch.testing.assert_close(cheap, full, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(cheap, base, atol=1e-3)
    # without the error term the SAE's reconstruction error moves the model as well
    with attach(model, [{**spec[0], "keep_error": False}]):
        spliced = _logits(model, enc)
    assert not torch.allclose(spliced, cheap, atol=1e-3)


# -- ops ----------------------------------------------------------------------------------
def _capture(model, layer=0):
    seen: list[torch.Tensor] = []
    h = model.model.layers[layer].register_forward_hook(
        lambda m, a, o: seen.append((o[0] if isinstance(o, tuple) else o).detach().clone()))
    return seen, h


def test_resid_pre_equals_previous_resid_post(llama):
    model, tok = llama
    enc = _enc(tok, PROMPTS)
    v = torch.randn(64)
    with attach(model, [{"op": "add", "layer": "blocks.1.hook_resid_pre", "vector": v, "coeff": 2.0}]):
        pre = _logits(model, enc)
    with attach(model, [{"op": "add", "layer": "blocks.0.hook_resid_post", "vector": v, "coeff": 2.0}]):
        post = _logits(model, enc)
    assert torch.equal(pre, post)


def test_interventions_apply_in_spec_order(llama):
    model, tok = llama
    enc = _enc(tok, PROMPTS[:1])
    v = torch.randn(64)
    u = v / v.norm()
    add = {"op": "add", "layer": 0, "vector": v, "coeff": 3.0}
    clamp = {"op": "clamp_projection", "layer": 0, "vector": v, "value": 0.0}
    for order, expected in (([add, clamp], 0.0), ([clamp, add], 3.0 * float(v.norm()))):
        with attach(model, order):
            seen, h = _capture(model, 0)  # registered after the steering hook: sees its output
            try:
                _logits(model, enc)
            finally:
                h.remove()
        proj = seen[0] @ u
        torch.testing.assert_close(proj, torch.full_like(proj, expected), rtol=1e-4, atol=1e-4)
    # and the steered model sees different things in the two orders
    with attach(model, [add, clamp]):
        a = _logits(model, enc)
    with attach(model, [clamp, add]):
        b = _logits(model, enc)
    assert not torch.allclose(a, b)


def test_clamp_projection_matches_lm_eval_steered_formula(llama):
    from lm_eval.models.hf_steered import SteeredModel

    model, tok = llama
    enc = _enc(tok, PROMPTS[:1])
    v, bias = torch.randn(64), torch.randn(64)
    seen, h = _capture(model, 0)
    _logits(model, enc)
    h.remove()
    x = seen[0]
    expected = SteeredModel.clamp(x, direction=v / v.norm(), value=1.5, head_index=None, bias=bias)
    compiled = compile_spec(model, [{"op": "clamp_projection", "layer": 0, "vector": v, "value": 1.5}])
    compiled.interventions[0].bias = bias
    got = compiled.interventions[0].apply(x, None)
    torch.testing.assert_close(got, expected)


def test_resid_norm_scale(llama):
    model, tok = llama
    enc = _enc(tok, PROMPTS[:1])
    seen, h = _capture(model, 0)
    _logits(model, enc)
    h.remove()
    x = seen[0]
    compiled = compile_spec(model, [{"op": "add", "layer": 0, "vector": torch.randn(64), "coeff": 0.25,
                                     "scale": "resid_norm"}])
    delta = compiled.interventions[0].apply(x, None) - x
    torch.testing.assert_close(delta.norm(dim=-1), 0.25 * x.norm(dim=-1))


def test_ablate_direction_projects_out(llama):
    model, _ = llama
    v = torch.randn(64)
    x = torch.randn(2, 3, 64)
    compiled = compile_spec(model, [{"op": "ablate", "layer": 0, "vector": v}])
    out = compiled.interventions[0].apply(x, None)
    assert torch.allclose(out @ (v / v.norm()), torch.zeros(2, 3), atol=1e-5)


def test_sae_decoder_row_add_is_100_w_dec(llama, sae_dir):
    from sae_lens import SAE

    model, _ = llama
    w = SAE.load_from_disk(str(sae_dir)).W_dec[9].detach()
    compiled = compile_spec(model, [{"op": "add", "sae": str(sae_dir), "feature": 9, "coeff": 100}])
    x = torch.randn(1, 4, 64)
    torch.testing.assert_close(compiled.interventions[0].apply(x, None) - x, (100 * w).expand(1, 4, 64))


# -- scopes, padding, spans -------------------------------------------------------------------
def test_span_positions_match_text(llama):
    _, tok = llama
    ids = tok("Answer the Question according to your values please.")["input_ids"]
    pos = find_span_positions(tok, ids, " your values", "Answer the Question according to your values please.")
    assert pos and tok.decode([ids[i] for i in pos]).strip() == "your values"
    # the decode-based fallback (no text) agrees
    assert find_span_positions(tok, ids, " your values") == pos
    assert find_span_positions(tok, ids, " nowhere") == ()


@pytest.mark.parametrize("scope", ['span:" your values"', "last:2", "prompt", "all"])
def test_padding_side_and_batching_do_not_change_results(llama, scope):
    model, tok = llama
    spec = [{"op": "add", "layer": 0, "vector": torch.linspace(-1, 1, 64), "coeff": 2.0, "positions": scope}]
    single = []
    for p in PROMPTS:
        enc = _enc(tok, [p])
        with attach(model, spec, tokenizer=tok):
            single.append(_logits(model, enc)[0])
    for side in ("left", "right"):
        enc = _enc(tok, PROMPTS, side)
        with attach(model, spec, tokenizer=tok) as s:
            out = _logits(model, enc)
        for b, ref in enumerate(single):
            valid = enc["attention_mask"][b].bool()
            torch.testing.assert_close(out[b][valid], ref, rtol=1e-4, atol=1e-4)
        if scope.startswith("span"):
            r = s.receipt.interventions[0]
            steered = [[int(enc["input_ids"][b, p]) for p in r.last_positions[b]] for b in range(2)]
            assert all(tok.decode(t).strip() == "your values" for t in steered)


def test_required_span_absent_is_an_error(llama):
    model, tok = llama
    enc = _enc(tok, ["no such text here"])
    spec = [{"op": "add", "layer": 0, "vector": torch.ones(64), "positions": 'span:" your values"'}]
    with pytest.raises(SpecError) as e:
        with attach(model, spec, tokenizer=tok):
            _logits(model, enc)
    assert str(e.value).startswith("interventions[0].positions") and "not found" in str(e.value)
    assert _n_hooks(model) == 0
    with attach(model, [{**spec[0], "required": False}], tokenizer=tok) as s:
        out = _logits(model, enc)
    assert s.receipt.positions_steered == 0 and torch.equal(out, _logits(model, enc))


def test_prompt_scope_in_generation_steers_only_the_prefill(llama):
    model, tok = llama
    enc = _enc(tok, PROMPTS, "left")
    n_prompt = int(enc["attention_mask"].sum())
    kw = dict(max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
    for scope, expected in (("prompt", n_prompt), ("generated", 2 * 3), ("all", n_prompt + 2 * 3)):
        spec = [{"op": "add", "layer": 1, "vector": torch.ones(64), "coeff": 1.0, "positions": scope}]
        with torch.no_grad(), attach(model, spec, tokenizer=tok) as s:
            model.generate(**enc, **kw, min_new_tokens=4)
        r = s.receipt.interventions[0]
        assert r.positions_steered == expected, scope  # 3 decode steps after the prefill, 2 rows
        assert r.forwards == 4


def test_context_masks_exclude_continuation(llama):
    """An explicit context: the hook leaves continuation and padding columns untouched."""
    model, tok = llama
    enc = _enc(tok, PROMPTS)
    T = enc["input_ids"].shape[1]
    lengths = enc["attention_mask"].sum(1).tolist()
    ctx = BatchContext.from_rows(T, lengths, [n - 3 for n in lengths])
    seen_in, h1 = _capture(model, 0)
    with attach(model, [{"op": "add", "layer": 0, "vector": torch.ones(64), "positions": "prompt"}], context=ctx):
        seen_out, h2 = _capture(model, 0)  # registered after the steering hook: sees the steered output
        try:
            _logits(model, enc)
        finally:
            h2.remove()
    h1.remove()
    diff = (seen_out[0] - seen_in[0]).abs().sum(-1) > 0
    assert torch.equal(diff, ctx.prompt)


def test_hooks_removed_after_exception(llama):
    model, tok = llama
    enc = _enc(tok, PROMPTS)
    before = _n_hooks(model)
    with pytest.raises(RuntimeError, match="boom"):
        with attach(model, [{"op": "add", "layer": 1, "vector": torch.ones(64)}]):
            _logits(model, enc)
            assert _n_hooks(model) > before
            raise RuntimeError("boom")
    assert _n_hooks(model) == before


def test_diff_of_means_independent_of_padding(llama):
    model, tok = llama
    pos, neg = ["You value tradition.", "Family customs matter a lot to you."], ["You value freedom."]
    tok.padding_side = "left"
    a = diff_of_means(model, tok, pos, neg, layer=1)
    tok.padding_side = "right"
    b = diff_of_means(model, tok, pos, neg, layer=1, batch_size=1)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert a.shape == (64,) and float(a.norm()) > 0


def test_vector_file_formats_agree(llama, tmp_path):
    import numpy as np
    from safetensors.torch import save_file

    from steering_hooks import load_vector

    v = torch.randn(64)
    save_file({"a": v, "b": torch.zeros(64)}, str(tmp_path / "v.safetensors"))
    np.save(tmp_path / "v.npy", v.numpy())
    np.savez(tmp_path / "v.npz", vec=v.numpy())
    torch.save(v, tmp_path / "v.pt")
    torch.save({"layers.1": {"steering_vector": v, "steering_coefficient": 1.0, "action": "add"}}, tmp_path / "s.pt")
    loaded = [load_vector(str(tmp_path / "v.safetensors"), "a")[0], load_vector(str(tmp_path / "v.npy"))[0],
              load_vector(str(tmp_path / "v.npz"))[0], load_vector(str(tmp_path / "v.pt"))[0],
              load_vector(str(tmp_path / "s.pt"), "layers.1")[0]]
    for t in loaded:
        assert torch.equal(t, v)
    with pytest.raises(SpecError, match="vector_key"):
        compile_spec(llama[0], [{"op": "add", "layer": 1, "vector": str(tmp_path / "v.safetensors")}])


def test_feature_act_scale_uses_calibrated_typical_activation(llama, sae_dir):
    from sae_lens import SAE

    from steering_hooks import calibrate_typical_act

    model, tok = llama
    sae = SAE.load_from_disk(str(sae_dir))
    seen, h = _capture(model, 0)
    _logits(model, _enc(tok, PROMPTS[:1]))
    h.remove()
    f = int(sae.encode(seen[0]).sum((0, 1)).argmax())  # a feature that fires on these prompts
    typical = calibrate_typical_act(model, tok, sae, f, PROMPTS)
    assert typical > 0
    assert calibrate_typical_act(model, tok, sae, 5, PROMPTS) == 0.0  # the dead feature
    compiled = compile_spec(model, [{"op": "add", "sae": str(sae_dir), "feature": f, "coeff": 2.0,
                                     "scale": "feature_act", "typical_act": typical}])
    x = torch.randn(1, 3, 64)
    torch.testing.assert_close(compiled.interventions[0].apply(x, None) - x,
                               (2.0 * typical * sae.W_dec[f].detach()).expand(1, 3, 64), rtol=1e-5, atol=1e-6)


def test_generated_scope_with_context_is_the_continuation(llama):
    model, tok = llama
    enc = _enc(tok, PROMPTS)
    T = enc["input_ids"].shape[1]
    lengths = enc["attention_mask"].sum(1).tolist()
    ctx = BatchContext.from_rows(T, lengths, [n - 3 for n in lengths])
    with attach(model, [{"op": "add", "layer": 0, "vector": torch.ones(64), "positions": "generated"}],
                context=ctx) as s:
        _logits(model, enc)
    r = s.receipt.interventions[0]
    assert r.positions_steered == 6
    assert r.last_positions == [[n - 3, n - 2, n - 1] for n in lengths]
