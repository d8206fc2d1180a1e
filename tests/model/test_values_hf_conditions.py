"""``values_hf``: every logged sample names its condition; the condition hash covers file contents;
model arguments and steering are checked before any weights load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

ROLE = "You are a devout person who honours tradition."


@pytest.fixture(scope="module")
def vlm(tiny_model_dir):
    from lm_eval_values.model.values_hf import ValuesHFLM

    return ValuesHFLM(pretrained=str(tiny_model_dir), batch_size=4, device="cpu", dtype="float32")


def _save_vector(path: Path, seed: int) -> None:
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    save_file({"v": torch.randn(64)}, str(path))


def test_logged_samples_show_role_and_condition_hash(vlm, tmp_path):
    """A role without a chat template: the logged prompt carries the role; every request names the condition."""
    import lm_eval

    from lm_eval_values.integration.registration import get_task_manager
    from lm_eval_values.model.values_hf import SAMPLE_TAG_KEY

    vec = tmp_path / "v.safetensors"
    _save_vector(vec, 0)
    vlm.set_condition(role=ROLE, role_id="devout",
                      steer=[{"op": "add", "layer": 1, "vector": str(vec), "coeff": 2.0, "positions": "prompt"}])
    res = lm_eval.simple_evaluate(model=vlm, tasks=["values_schwartz_power"], task_manager=get_task_manager(),
                                  limit=2, log_samples=True, verbosity="ERROR")
    record = res["config"]["values_condition"]
    assert record["condition_hash"] == vlm.condition_hash and len(vlm.condition_hash) == 64
    assert set(record["steer_files"]) == {str(vec)}
    samples = res["samples"]["values_schwartz_power"]
    assert len(samples) == 2
    for s in samples:
        assert len(s["arguments"]) == 4  # yes / Yes / no / No
        for args in s["arguments"]:
            ctx, cont, tag = args
            assert ctx.startswith(ROLE + "\n\nAnswer the Question according to your values.")
            assert cont in (" yes", " Yes", " no", " No")
            assert tag == {SAMPLE_TAG_KEY: vlm.condition_hash, "role_id": "devout"}
    vlm.set_condition()


def test_condition_hash_follows_vector_file_contents(vlm, tmp_path):
    """Overwriting the vector file changes the hash; the same bytes give the same hash again."""
    vec = tmp_path / "v.safetensors"
    spec = [{"op": "add", "layer": 1, "vector": str(vec), "coeff": 2.0}]
    _save_vector(vec, 0)
    vlm.set_condition(steer=spec)
    first = vlm.condition_hash
    steer_hash = vlm.condition_record()["steer_hash"]
    _save_vector(vec, 1)  # same path, same spec text, other contents
    vlm.set_condition(steer=spec)
    assert vlm.condition_record()["steer_hash"] == steer_hash  # the spec text alone did not change...
    assert vlm.condition_hash != first  # ...the condition did
    _save_vector(vec, 0)
    vlm.set_condition(steer=spec)
    assert vlm.condition_hash == first
    vlm.set_condition(role=ROLE, steer=spec)
    assert vlm.condition_hash != first  # the role is part of the condition
    vlm.set_condition()


def test_condition_hash_follows_sae_weights(vlm, tmp_path):
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    def save(seed: int) -> None:
        torch.manual_seed(seed)
        sae = StandardSAE(StandardSAEConfig(d_in=64, d_sae=16, metadata=SAEMetadata(hook_name="blocks.1.hook_resid_post")))
        sae.save_model(tmp_path / "sae")

    spec = [{"op": "add", "sae": str(tmp_path / "sae"), "feature": 3, "coeff": 2.0}]
    save(0)
    vlm.set_condition(steer=spec)
    first = vlm.condition_hash
    save(1)
    vlm.set_condition(steer=spec)
    assert vlm.condition_hash != first
    vlm.set_condition()


@pytest.fixture()
def no_weights(monkeypatch):
    """Fail the test if HFLM starts loading the model."""
    from lm_eval.models.huggingface import HFLM

    def _refuse(self, *a, **k):
        raise AssertionError("weights were loaded before the bad argument was reported")

    monkeypatch.setattr(HFLM, "__init__", _refuse)


def test_unknown_model_argument_names_the_closest_before_loading(tiny_model_dir, no_weights):
    from lm_eval_values.core.errors import UserError
    from lm_eval_values.model.values_hf import ValuesHFLM

    with pytest.raises(UserError) as err:
        ValuesHFLM.create_from_arg_string(f"pretrained={tiny_model_dir},layer=1,vector=x.pt,coef=2,device=cpu")
    line = str(err.value)
    assert line.startswith("model_args.coef: unknown model argument") and "did you mean coeff?" in line
    assert "\n" not in line and "role_file" in line and "dtype" in line  # lists the valid keys


def test_layer_beyond_the_model_before_loading(tiny_model_dir, tmp_path, no_weights):
    from steering_hooks import SpecError

    from lm_eval_values.model.values_hf import ValuesHFLM

    vec = tmp_path / "v.safetensors"
    _save_vector(vec, 0)
    with pytest.raises(SpecError) as err:
        ValuesHFLM.create_from_arg_string(f"pretrained={tiny_model_dir},vector={vec},coeff=2,layer=999,device=cpu")
    assert str(err.value).startswith("layer: layer 999 is beyond") and "2 decoder layers: 0..1" in str(err.value)
    with pytest.raises(SpecError, match="^vector: .*missing.pt does not exist"):
        ValuesHFLM.create_from_arg_string(f"pretrained={tiny_model_dir},vector={tmp_path / 'missing.pt'},layer=1")


def test_model_layer_count_reads_config_only(tiny_model_dir, tmp_path):
    from lm_eval_values.model.preload import model_layer_count

    assert model_layer_count(str(tiny_model_dir)) == json.loads((tiny_model_dir / "config.json").read_text())[
        "num_hidden_layers"]
    assert model_layer_count("google/gemma-2-2b-it") == 26  # built-in table, nothing downloaded
    assert model_layer_count(str(tmp_path / "nowhere")) is None
