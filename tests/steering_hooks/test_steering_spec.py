"""steering_hooks spec parsing and validation: every bad spec gives its one-line SpecError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from steering_hooks import SpecError, SteeringSpec, compile_spec, load_spec, parse_positions, resolve_hook
from steering_hooks.spec import Positions



@pytest.fixture(scope="module")
def llama(tiny_models):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_models["llama"]).eval()


@pytest.fixture(scope="module")
def gpt2(tiny_models):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_models["gpt2"]).eval()


@pytest.fixture(scope="module")
def sae_dir(tmp_path_factory) -> Path:
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    torch.manual_seed(0)
    sae = StandardSAE(StandardSAEConfig(d_in=64, d_sae=32, metadata=SAEMetadata(hook_name="blocks.1.hook_resid_post")))
    out = tmp_path_factory.mktemp("sae") / "sae"
    sae.save_model(out)
    return out


@pytest.fixture(scope="module")
def sae_wrong_width(tmp_path_factory) -> Path:
    from sae_lens import StandardSAE, StandardSAEConfig

    sae = StandardSAE(StandardSAEConfig(d_in=48, d_sae=16))
    out = tmp_path_factory.mktemp("sae48") / "sae"
    sae.save_model(out)
    return out


def _one_line(exc: pytest.ExceptionInfo, field: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(field), msg


# -- positions ------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("all", Positions("all")), ("prompt", Positions("prompt")), ("generated", Positions("generated")),
    ('span:" your values"', Positions("span", text=" your values")), ("span:'a b'", Positions("span", text="a b")),
    ("span:plain", Positions("span", text="plain")), ("last:3", Positions("last", k=3)),
])
def test_parse_positions(text, expected):
    assert parse_positions(text) == expected
    assert parse_positions(str(expected)) == expected  # round trip


@pytest.mark.parametrize("text", ["span:", 'span:""', "span"])
def test_span_without_text_is_an_error(text):
    with pytest.raises(SpecError) as e:
        SteeringSpec.from_dict({"interventions": [{"op": "add", "layer": 1, "vector": [0.0] * 64, "positions": text}]})
    _one_line(e, "interventions[0].positions")
    assert "span scope with no text" in str(e.value)


@pytest.mark.parametrize("text", ["last:0", "last:x", "middle"])
def test_bad_positions(text):
    with pytest.raises(SpecError) as e:
        parse_positions(text, "positions")
    _one_line(e, "positions")


# -- parsing ----------------------------------------------------------------------------
def test_unknown_key():
    with pytest.raises(SpecError) as e:
        SteeringSpec.from_dict({"interventions": [{"op": "add", "layer": 1, "coef": 2.0}]})
    _one_line(e, "interventions[0].coef")
    assert "unknown key" in str(e.value)


def test_unknown_top_level_key():
    with pytest.raises(SpecError) as e:
        SteeringSpec.from_dict({"interventions": [], "steering": 1})
    _one_line(e, "spec.steering")


def test_unknown_op():
    with pytest.raises(SpecError) as e:
        SteeringSpec.from_dict([{"op": "multiply", "layer": 1}])
    _one_line(e, "interventions[0].op")


def test_missing_op():
    with pytest.raises(SpecError) as e:
        SteeringSpec.from_dict([{"layer": 1}])
    _one_line(e, "interventions[0].op")


def test_yaml_and_json_files_and_hash(tmp_path):
    import yaml

    data = {"name": "x", "interventions": [{"op": "add", "layer": "model.layers.1", "vector": "v.npy", "coeff": 2,
                                            "positions": 'span:" your values"'}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "s.json").write_text(json.dumps(data))
    a, b = load_spec(tmp_path / "s.yaml"), load_spec(tmp_path / "s.json")
    assert a.to_dict() == b.to_dict()
    assert a.spec_hash() == b.spec_hash() and len(a.spec_hash()) == 64
    assert a.interventions[0].positions == 'span:" your values"'
    assert a.interventions[0].coeff == 2.0
    c = SteeringSpec.from_dict({**data, "interventions": [{**data["interventions"][0], "coeff": 3}]})
    assert c.spec_hash() != a.spec_hash()


def test_bad_yaml_is_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("interventions: [\n  - op: add\n")
    with pytest.raises(SpecError) as e:
        load_spec(tmp_path / "bad.yaml")
    _one_line(e, "steer")


# -- validation against a model ----------------------------------------------------------
def test_missing_layer(llama):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "add", "vector": [0.0] * 64}])
    _one_line(e, "interventions[0].layer")
    assert "missing layer" in str(e.value)


@pytest.mark.parametrize("layer", [2, 7, "model.layers.5", "blocks.9.hook_resid_post", "layers.3"])
def test_layer_beyond_model(llama, layer):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "add", "layer": layer, "vector": [0.0] * 64}])
    _one_line(e, "interventions[0].layer")
    assert "beyond the model" in str(e.value)


def test_unknown_hook_name(llama):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "add", "layer": "model.nothing", "vector": [0.0] * 64}])
    _one_line(e, "interventions[0].layer")


def test_feature_out_of_range(llama, sae_dir):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "add", "sae": str(sae_dir), "feature": 32, "coeff": 1.0}])
    _one_line(e, "interventions[0].feature")
    assert "out of range" in str(e.value) and "32" in str(e.value)


def test_sae_width_mismatch(llama, sae_wrong_width):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "add", "layer": 1, "sae": str(sae_wrong_width), "feature": 0}])
    _one_line(e, "interventions[0].sae")
    assert "d_in 48" in str(e.value) and "64" in str(e.value)


def test_vector_width_mismatch(llama, tmp_path):
    import numpy as np

    np.save(tmp_path / "v.npy", np.ones(10, dtype=np.float32))
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "add", "layer": 1, "vector": str(tmp_path / "v.npy")}])
    _one_line(e, "interventions[0].vector")


def test_missing_sae_folder(llama, tmp_path):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "add", "layer": 1, "sae": str(tmp_path / "nope"), "feature": 0}])
    _one_line(e, "interventions[0].sae")


def test_feature_without_sae(llama):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "add", "layer": 1, "feature": 3}])
    _one_line(e, "interventions[0].feature")


def test_sae_clamp_needs_value_or_multiply(llama, sae_dir):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "sae_clamp", "sae": str(sae_dir), "feature": 1}])
    _one_line(e, "interventions[0].value")


def test_feature_act_needs_typical_act(llama, sae_dir):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "add", "sae": str(sae_dir), "feature": 1, "scale": "feature_act"}])
    _one_line(e, "interventions[0].typical_act")


def test_clamp_projection_needs_value(llama):
    with pytest.raises(SpecError) as e:
        compile_spec(llama, [{"op": "clamp_projection", "layer": 1, "vector": [1.0] * 64}])
    _one_line(e, "interventions[0].value")


class _Arbitrary:
    """An arbitrary class: loading it would need unpickling code objects."""


def test_unpicklable_pt_is_refused(llama, tmp_path):
    torch.save({"layers.1": {"steering_vector": torch.ones(64), "action": "add", "extra": _Arbitrary()}},
               tmp_path / "evil.pt")
    with pytest.raises(SpecError) as e:
        load_spec(tmp_path / "evil.pt")
    _one_line(e, "steer")
    assert "weights_only=True" in str(e.value)


def test_sae_hook_name_used_when_no_layer(llama, sae_dir):
    compiled = compile_spec(llama, [{"op": "add", "sae": str(sae_dir), "feature": 3, "coeff": 100}])
    ci = compiled.interventions[0]
    assert ci.hook.module_name == "model.layers.1" and ci.hook.site == "output"
    from sae_lens import SAE

    w = SAE.load_from_disk(str(sae_dir)).W_dec[3]
    assert torch.equal(ci.direction, w.detach().float())


# -- hook names ---------------------------------------------------------------------------
@pytest.mark.parametrize("ref,name,site", [
    (1, "model.layers.1", "output"), ("1", "model.layers.1", "output"),
    ("model.layers.1", "model.layers.1", "output"), ("layers.1", "model.layers.1", "output"),
    ("blocks.1.hook_resid_post", "model.layers.1", "output"), ("blocks.1.hook_resid_pre", "model.layers.1", "input"),
    ("model.layers.0.mlp", "model.layers.0.mlp", "output"),
])
def test_hook_name_schemes_llama(llama, ref, name, site):
    hp = resolve_hook(llama, ref)
    assert (hp.module_name, hp.site) == (name, site)


@pytest.mark.parametrize("ref,name", [(0, "transformer.h.0"), ("h.1", "transformer.h.1"),
                                      ("blocks.1.hook_resid_post", "transformer.h.1"),
                                      ("model.layers.1", "transformer.h.1")])
def test_hook_name_schemes_gpt2(gpt2, ref, name):
    assert resolve_hook(gpt2, ref).module_name == name


@pytest.mark.parametrize("vector", [{}, [], [[1.0, 2.0]], ["a", "b"], [float("nan")], ""])
def test_malformed_inline_vector_is_a_spec_error(vector):
    """Regression (found by hypothesis): `vector: {}` used to pass parsing and crash later in to_dict."""
    with pytest.raises(SpecError, match=r"interventions\[0\]\.vector"):
        SteeringSpec.from_dict({"interventions": [{"op": "add", "layer": 0, "vector": vector, "coeff": 1.0}]})


def test_inline_vector_list_is_accepted_and_summarised():
    spec = SteeringSpec.from_dict({"interventions": [{"op": "add", "layer": 0, "vector": [0.5, -0.5], "coeff": 1.0}]})
    summary = spec.to_dict()["interventions"][0]["vector"]
    assert summary["shape"] == [2] and abs(summary["norm"] - 0.5 ** 0.5) < 1e-6
