"""The GPU configs' code path on CPU: tiny random Gemma 2, Gemma (1) and Llama models, sae-lens SAEs in
every hook naming scheme, steered through ``values_hf`` on a values task end to end.

For each architecture and scheme: ``check`` accepts a sweep config steering that SAE (offline), and a
tiny ``simple_evaluate`` on ``values_schwartz_tradition`` with the SAE feature added at the prompt
tokens changes the log-likelihoods against the unsteered run, with the hook attached at the layer the
SAE's own hook name says (the receipt records where it was attached).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lm_eval_values import get_task_manager
from lm_eval_values.study.check import check_config

ARCHS = ("gemma2", "gemma", "llama")  # the architectures of the bundled GPU configs
#: scheme -> (SAE metadata, the decoder layer that hook reads)
SCHEMES: dict[str, tuple[dict[str, str], int]] = {
    "transformer_lens": ({"hook_name": "blocks.1.hook_resid_post"}, 1),
    "hf_module": ({"hook_name": "model.layers.0"}, 0),
    "lm_eval": ({"hook_name": "layers.1"}, 1),
    "gemma_scope_hf_hook": ({"hf_hook_name": "model.layers.0.output", "model_name": "google/gemma-scope-like"}, 0),
}
TASK = "values_schwartz_tradition"


@pytest.fixture(scope="module")
def saes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One StandardSAE (d_in 64 = the tiny models' width) per hook naming scheme, saved in sae-lens format."""
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    root = tmp_path_factory.mktemp("scheme_saes")
    out = {}
    for k, (scheme, (meta, _)) in enumerate(SCHEMES.items()):
        torch.manual_seed(k)
        sae = StandardSAE(StandardSAEConfig(d_in=64, d_sae=16, metadata=SAEMetadata(**meta)))
        with torch.no_grad():
            sae.W_dec.mul_(4.0 / sae.W_dec.norm(dim=1, keepdim=True))  # unit-free: every decoder row has norm 4
        sae.save_model(str(root / scheme))
        out[scheme] = root / scheme
    return out


def _lls(results: dict) -> list[float]:
    samples = sorted(results["samples"][TASK], key=lambda s: s["doc_id"])
    return [float(r[0][0]) for s in samples for r in s["resps"]]


@pytest.mark.parametrize("arch", ARCHS)
def test_steering_every_hook_scheme_end_to_end(arch: str, tiny_models: dict[str, Path], saes: dict[str, Path],
                                               tmp_path: Path) -> None:
    import lm_eval

    from lm_eval_values.model.values_hf import ValuesHFLM

    model_dir = tiny_models[arch]
    lm = ValuesHFLM(pretrained=str(model_dir), batch_size=4, device="cpu", dtype="float32")
    assert type(lm.model).__name__.lower().startswith(arch)
    tm = get_task_manager()

    def evaluate() -> dict:
        return lm_eval.simple_evaluate(model=lm, tasks=[TASK], task_manager=tm, limit=2, log_samples=True,
                                       verbosity="ERROR")

    plain = _lls(evaluate())
    assert len(plain) == 8 and all(x < 0 for x in plain)  # 2 items x (yes, Yes, no, No)
    for scheme, (_, layer) in SCHEMES.items():
        # the sweep config a GPU user would write (no layer: the SAE's own hook decides), checked offline
        cfg = tmp_path / f"{scheme}.yaml"
        cfg.write_text(f"model_args: {{pretrained: {model_dir}}}\ntasks: [{TASK}]\nformat: yesno\n"
                       f"steering:\n  - {{type: sae, sae: {saes[scheme]}, features: [3], coefficients: [1]}}\n")
        report = check_config(cfg)
        assert report.ok and not report.warnings, (scheme, [e.line() for e in report.entries])
        assert any(f"layer {layer} of 2" in line for line in report.info), report.info

        lm.set_condition(steer={"name": scheme, "interventions": [
            {"op": "add", "sae": str(saes[scheme]), "feature": 3, "coeff": 1.0, "positions": "prompt"}]})
        steered = evaluate()
        receipt = lm.condition_record()["receipt"]["interventions"][0]
        assert receipt["hook"] == f"model.layers.{layer}:output", (arch, scheme, receipt["hook"])
        assert receipt["positions_steered"] > 0
        lls = _lls(steered)
        assert max(abs(a - b) for a, b in zip(lls, plain)) > 1e-4, (arch, scheme)
        lm.set_condition()
    assert _lls(evaluate()) == plain  # steering leaves nothing behind


def test_registry_reference_reaches_sae_lens_unsplit(saes: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """``release::sae_id`` reaches ``SAE.from_pretrained`` as written, whatever '/' either part holds."""
    import sae_lens

    import steering_hooks.sources as sources

    calls: list[tuple[str, str]] = []
    local = sae_lens.SAE.load_from_disk(str(saes["transformer_lens"]))

    def from_pretrained(release: str, sae_id: str, device: str = "cpu", **kw):
        calls.append((release, sae_id))
        return local

    monkeypatch.setattr(sae_lens.SAE, "from_pretrained", from_pretrained)
    monkeypatch.setattr(sources, "_SAE_CACHE", {})
    sources.load_sae("org/some-repo::layer_1/width_16k/canonical")
    sources.load_sae({"release": "llama-3-8b-it-res-jh", "sae_id": "blocks.25.hook_resid_post"})
    sources.load_sae("gemma-2b-it-res-jb/blocks.12.hook_resid_post")  # the old form, resolved by the registry
    assert calls == [("org/some-repo", "layer_1/width_16k/canonical"),
                     ("llama-3-8b-it-res-jh", "blocks.25.hook_resid_post"),
                     ("gemma-2b-it-res-jb", "blocks.12.hook_resid_post")]
