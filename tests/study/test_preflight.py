"""``lm-eval-values check``: every bundled config passes offline; broken references, layers, widths and
memory are one line each (exit 2); ``study`` and ``sweep`` run the same check before loading a model."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lm_eval_values.cli import main as cli_main
from lm_eval_values.model.refs import KNOWN_MODELS, is_hub_model_id, local_facts
from lm_eval_values.study.check import CheckSettings, check_config
from lm_eval_values.sweep.workload import GIB, estimate_memory, parse_memory
from steering_hooks.errors import SpecError
from steering_hooks.hookpoints import HookLayer, layer_of_hook_name
from steering_hooks.sae_refs import (SaeRegistry, check_registry_sae, installed_registry, parse_sae_ref,
                                     registry_hook_name, registry_width, resolve_sae_ref)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "lm_eval_values" / "configs").glob("*.yaml"))
OLD_LLAMA_REF = "Juliushanhanhan/llama-3-8b-it-res/blocks.25.hook_resid_post"

FAKE = SaeRegistry(releases={
    "rel-a": {"model": "gemma-2-2b", "repo_id": "org/rel-a-res", "saes": [{"id": "layer_3/width_16k/canonical",
                                                                          "path": "layer_3/width_16k/average_l0_50"}]},
    "org": {"model": "m", "repo_id": "o/r1", "saes": [{"id": "x/y/z", "path": "p"}]},
    "org/x": {"model": "m", "repo_id": "o/r2", "saes": [{"id": "y/z", "path": "p"}]},
    "jh-rel": {"model": "meta-llama/Meta-Llama-3-8B-Instruct", "repo_id": "Someone/llama-res",
               "saes": [{"id": "blocks.25.hook_resid_post", "path": "blocks.25.hook_resid_post"}]},
}, source="test", version="test")


# ----------------------------------------------------------------------------- reference syntax
@pytest.mark.parametrize("ref, expected", [
    ("rel-a::layer_3/width_16k/canonical", ("rel-a", "layer_3/width_16k/canonical")),
    ("org/x::y/z", ("org/x", "y/z")),
    ({"release": "org", "sae_id": "x/y/z"}, ("org", "x/y/z")),
    ("rel-a/layer_3/width_16k/canonical", ("rel-a", "layer_3/width_16k/canonical")),  # old form, one release fits
    ("jh-rel/blocks.25.hook_resid_post", ("jh-rel", "blocks.25.hook_resid_post")),
])
def test_registry_references_resolve(ref, expected) -> None:
    r = resolve_sae_ref(ref, registry=FAKE)
    assert (r.release, r.sae_id) == expected and str(r) == f"{expected[0]}::{expected[1]}"


@pytest.mark.parametrize("ref", ["./saes/l6", "/abs/sae", "~/sae", "$LM_EVAL_VALUES_HOME/saes/x", "sae_dir",
                                 {"path": "any/thing"}])
def test_local_references(ref) -> None:
    assert parse_sae_ref(ref).is_local


def test_old_form_ambiguous_or_unresolvable_names_the_reference_and_fix() -> None:
    with pytest.raises(SpecError, match=r"'org/x/y/z' is ambiguous.*fix: write org::x/y/z or org/x::y/z"):
        resolve_sae_ref("org/x/y/z", "sae", FAKE)  # both splits name a release holding that sae_id
    with pytest.raises(SpecError) as exc:
        resolve_sae_ref("Someone/llama-res/blocks.25.hook_resid_post", "steering[0].sae", FAKE)
    assert str(exc.value).startswith("steering[0].sae: 'Someone/llama-res/blocks.25.hook_resid_post': no split")
    assert "fix: write jh-rel::blocks.25.hook_resid_post" in str(exc.value)  # found through the repository
    for bad in ("::x", "rel::", {"release": "a"}, {"path": "x", "release": "y"}, 7):
        with pytest.raises(SpecError):
            parse_sae_ref(bad)


def test_registry_lookup_errors() -> None:
    with pytest.raises(SpecError, match="release 'nope' is not in"):
        check_registry_sae(parse_sae_ref("nope::a"), registry=FAKE)
    with pytest.raises(SpecError, match=r"fix: write jh-rel::blocks.25.hook_resid_post"):
        check_registry_sae(parse_sae_ref("Someone/llama-res::blocks.25.hook_resid_post"), registry=FAKE)
    with pytest.raises(SpecError, match=r"sae_id 'layer_3/width_16k/canonicl' is not in release 'rel-a'.*"
                                        r"use one of: layer_3/width_16k/canonical"):
        check_registry_sae(parse_sae_ref("rel-a::layer_3/width_16k/canonicl"), registry=FAKE)


def test_installed_registry_facts_of_the_bundled_saes() -> None:
    """The three SAEs of the GPU configs, in the sae-lens registry installed here (no network)."""
    reg = installed_registry()
    expected = {"gemma-scope-2b-pt-res-canonical::layer_12/width_16k/canonical": ("blocks.12.hook_resid_post", 16384,
                                                                                   "gemma-2-2b"),
                "gemma-2b-it-res-jb::blocks.12.hook_resid_post": ("blocks.12.hook_resid_post", 16384, "gemma-2b-it"),
                "llama-3-8b-it-res-jh::blocks.25.hook_resid_post": ("blocks.25.hook_resid_post", None,
                                                                    "meta-llama/Meta-Llama-3-8B-Instruct")}
    for text, (hook, width, model) in expected.items():
        ref = resolve_sae_ref(text, registry=reg)
        entry = check_registry_sae(ref, registry=reg)
        assert (registry_hook_name(ref, entry, reg), registry_width(entry), reg.releases[ref.release]["model"]) == \
            (hook, width, model)
    assert reg.releases["llama-3-8b-it-res-jh"]["repo_id"] == "Juliushanhanhan/llama-3-8b-it-res"


@pytest.mark.parametrize("name, expected", [
    ("blocks.12.hook_resid_post", HookLayer(12, "output")), ("blocks.3.hook_resid_pre", HookLayer(3, "input")),
    ("model.layers.7", HookLayer(7, "output")), ("layers.7", HookLayer(7, "output")), (5, HookLayer(5, "output")),
    ("model.layers.4.output", HookLayer(4, "output")), ("model.layers.4.input", HookLayer(4, "input")),
    ("blocks.2.hook_mlp_out", HookLayer(2, "hook_mlp_out")), ("blocks.2.attn.hook_z", HookLayer(2, "attn.hook_z")),
    ("hook_embed", None),
])
def test_layer_of_every_hook_scheme(name, expected) -> None:
    assert layer_of_hook_name(name) == expected


# ----------------------------------------------------------------------------- model facts and estimates
def test_model_facts_reproduce_published_sizes(tiny_models: dict[str, Path]) -> None:
    from transformers import AutoModelForCausalLM

    sizes = {"google/gemma-2-2b-it": 2_614_341_888, "google/gemma-2b-it": 2_506_172_416,
             "meta-llama/meta-llama-3-8b-instruct": 8_030_261_248, "huggingfacetb/smollm2-135m-instruct": 134_515_008}
    assert {k: KNOWN_MODELS[k].n_params for k in sizes} == sizes
    for arch in ("gemma2", "gemma", "llama"):
        facts = local_facts(tiny_models[arch], arch)
        model = AutoModelForCausalLM.from_pretrained(tiny_models[arch])
        assert facts is not None and (facts.n_layers, facts.d_model) == (2, 64)
        assert facts.n_params == sum(p.numel() for p in model.parameters())  # exact, from safetensors headers
    assert [is_hub_model_id(x) for x in ("google/gemma-2-2b-it", "a/b/c", "/x/y", "./a", "org/na me", "org/a--b")] \
        == [True, False, False, False, False, False]


def test_memory_estimate_and_sizes() -> None:
    facts = KNOWN_MODELS["meta-llama/meta-llama-3-8b-instruct"]
    est = estimate_memory(facts, "bfloat16", "cuda", 32, 256, [(4096, 65536)])
    assert est is not None and est.weights == 2 * 8_030_261_248 and est.saes == (2 * 4096 * 65536 + 65536 + 4096) * 4
    assert est.total > est.weights + est.saes + est.activations
    assert est.max_batch(est.total + 16) == 32 and est.max_batch(est.total - 2 * est.per_item) == 30
    assert parse_memory("80GiB") == 80 * GIB and parse_memory("80") == 80 * GIB and parse_memory("24 GB") == 24 * 10 ** 9
    with pytest.raises(ValueError):
        parse_memory("lots")


# ----------------------------------------------------------------------------- the command
def _stand_in_sae(folder: Path, d_in: int, d_sae: int, hook: str) -> None:
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=d_sae, metadata=SAEMetadata(hook_name=hook))).save_model(str(folder))


def test_every_bundled_config_passes_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """On a fresh machine (empty caches): every bundled config checks out with exit 0. The locally trained
    SAE of study_smollm2_sae.yaml is a stand-in of SmolLM2's width (576) at the config's layer 15."""
    monkeypatch.setenv("LM_EVAL_VALUES_HOME", str(tmp_path / "home"))
    _stand_in_sae(tmp_path / "home" / "saes" / "smollm2-135m-instruct-l15", 576, 4096, "model.layers.15")
    assert len(CONFIGS) >= 7
    for cfg in CONFIGS:
        capsys.readouterr()
        assert cli_main(["check", str(cfg)]) == 0, capsys.readouterr()
        out, err = capsys.readouterr()
        assert err == "" and out.splitlines()[-1].startswith("OK: 0 problem(s)"), (cfg.name, out, err)
        assert "work: " in out and "time: about" in out
        if cfg.name == "study_gemma2_2b_it.yaml":  # Gemma Scope: trained on the base model, steered on -it
            assert "trained on gemma-2-2b, the base model, while the config steers its instruction-tuned" in out


def _old_llama(tmp_path: Path) -> Path:
    text = (REPO / "lm_eval_values" / "configs" / "study_llama3_8b_it.yaml").read_text()
    assert "llama-3-8b-it-res-jh::blocks.25.hook_resid_post" in text
    path = tmp_path / "old_llama.yaml"
    path.write_text(text.replace("llama-3-8b-it-res-jh::blocks.25.hook_resid_post", OLD_LLAMA_REF))
    return path


def test_old_llama_reference_fails_with_one_line(tmp_path: Path, capsys) -> None:
    assert cli_main(["check", str(_old_llama(tmp_path)), "--no-items"]) == 2
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: models[llama3-8b-it].steering[jh].sae: '{OLD_LLAMA_REF}': no split")
    assert "(fix: write llama-3-8b-it-res-jh::blocks.25.hook_resid_post" in err
    assert out.splitlines()[-1].startswith("FAILED: 1 problem(s)")


def _sweep(tmp_path: Path, model: str, steering: list, **extra) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"model_args": {"pretrained": model}, "tasks": ["values_schwartz"],
                                    "format": "yesno", "steering": steering, "output_dir": str(tmp_path / "out"),
                                    **extra}))
    return path


def test_one_line_per_problem(tmp_path: Path, tiny_model_dir: Path) -> None:
    """A 2-layer, 64-wide model steered with Gemma-2B's SAE at layer 12, a vector beyond the model, and
    Gemma Scope on Gemma-2-2B with a feature beyond the SAE and a layer the SAE does not read."""
    vec = tmp_path / "v.npy"
    __import__("numpy").save(vec, __import__("numpy").ones(64, dtype="float32"))
    report = check_config(_sweep(tmp_path, str(tiny_model_dir), [
        {"type": "sae", "id": "jb", "sae": "gemma-2b-it-res-jb::blocks.12.hook_resid_post", "features": [1],
         "coefficients": [1]},
        {"type": "vector", "id": "v", "vector": str(vec), "layer": 7, "coefficients": [1]}]),
        CheckSettings(count_items=False))
    lines = [e.line() for e in report.problems]
    assert any("steering[jb].sae" in ln and "trained on gemma-2b-it (d_model 2048)" in ln for ln in lines), lines
    assert any("steering[jb].sae" in ln and "blocks.12.hook_resid_post (layer 12)" in ln for ln in lines), lines
    assert any(ln.startswith("error: steering[v].layer: layer 7 is beyond") for ln in lines), lines
    report = check_config(_sweep(tmp_path, "google/gemma-2-2b", [
        {"type": "sae", "id": "gs", "sae": {"release": "gemma-scope-2b-pt-res-canonical",
                                            "sae_id": "layer_12/width_16k/canonical"},
         "layer": 13, "features": [20000, 5], "coefficients": [1]}]), CheckSettings(count_items=False))
    lines = [e.line() for e in report.problems]
    assert len(lines) == 2 and not report.warnings, lines  # the base model itself: no model warning
    assert "steering[gs].features: feature 20000 is out of range for an SAE of width 16384" in lines[0]
    assert lines[1].startswith("error: steering[gs].layer: steers after layer 13, but the SAE reads "
                               "blocks.12.hook_resid_post (after layer 12) (fix: use layer: 12")


def test_memory_against_the_gpu_and_unknown_models(tmp_path: Path, capsys) -> None:
    cfg = REPO / "lm_eval_values" / "configs" / "study_llama3_8b_it.yaml"
    small = check_config(cfg, CheckSettings(gpu_memory=24 * GIB, count_items=False))
    (line,) = [e.line() for e in small.problems]
    assert line.startswith("error: models[llama3-8b-it].batch_size: needs about") and "(fix: set batch_size: " in line
    tiny = check_config(cfg, CheckSettings(gpu_memory=16 * GIB, count_items=False))
    assert "use a GPU with more than" in tiny.problems[0].line()
    unknown = check_config(_sweep(tmp_path, "some-org/unknown-model", [{"type": "none"}]),
                           CheckSettings(count_items=False))
    assert unknown.ok and "neither the local Hugging Face cache nor" in unknown.warnings[0].line()
    assert cli_main(["check", str(_sweep(tmp_path, "org/na me", [{"type": "none"}]))]) == 2
    assert capsys.readouterr().err.startswith("error: model_args.pretrained:")


def test_study_and_sweep_run_the_check_before_any_model(tmp_path: Path, tiny_model_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from lm_eval_values.cli import study, sweep

    def must_not_run(*a, **k):
        raise AssertionError("the run started although the check failed")

    monkeypatch.setattr(study, "run_study", must_not_run)
    monkeypatch.setattr(sweep, "run_sweep", must_not_run)
    capsys.readouterr()
    assert cli_main(["study", str(_old_llama(tmp_path)), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and OLD_LLAMA_REF in err and "llama-3-8b-it-res-jh::" in err
    bad = _sweep(tmp_path, str(tiny_model_dir), [{"type": "sae", "sae": "no-such-release::x", "features": [1],
                                                  "coefficients": [1]}])
    assert cli_main(["sweep", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "release 'no-such-release' is not in the installed sae-lens" in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "out").exists()
