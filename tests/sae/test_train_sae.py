"""train-sae: offline corpus, real sae-lens training on a tiny model, metrics, input validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lm_eval_values import cli
from lm_eval_values.sae.corpus import CorpusConfig, pack_tokens, project_documents, split_documents
from lm_eval_values.core.errors import UserError
from lm_eval_values.model.loading import hook_names, layer_outputs, load_model
from lm_eval_values.sae.evaluate import evaluate_sae
from lm_eval_values.sae.train import TrainSAEConfig, train, validate

TINY_CORPUS = CorpusConfig(seed=0, n_roles=3, n_prompts=8, n_samples=2, sample_tokens=6, max_items=8)


def _cfg(model_dir: Path, out: Path, **kw) -> TrainSAEConfig:
    base = dict(model=str(model_dir), layer=1, width=64, tokens=6144, k=4, out=str(out), seed=0, context_size=16,
                batch_tokens=64, lr=2e-3, corpus=TINY_CORPUS)
    base.update(kw)
    return TrainSAEConfig(**base)


@pytest.fixture(scope="module")
def trained(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sae") / "tiny-l1"
    record = train(validate(_cfg(tiny_model_dir, out)), log=lambda _m: None)
    return out, record


def test_corpus_sources_and_determinism(tiny_model_dir: Path) -> None:
    _, tok = load_model(str(tiny_model_dir))
    a = project_documents(TINY_CORPUS, tok)
    b = project_documents(TINY_CORPUS, tok)
    assert a == b
    assert {d.source for d in a} == {"roles", "items", "definitions", "prompts"}
    prompts = [d.text for d in a if d.source == "prompts"]
    assert all("according to your values" in p and p.endswith("Answer:") for p in prompts)
    assert any("You are inclined to the value of" in d.text for d in a)
    train_docs, eval_docs = split_documents(a, 0.2, seed=0)
    assert len(train_docs) + len(eval_docs) == len(a) and eval_docs and not set(map(id, train_docs)) & set(map(id, eval_docs))
    rows = pack_tokens(train_docs, tok, 16)
    assert rows and all(len(r) == 16 and r[0] == tok.bos_token_id for r in rows)


def test_training_produces_loadable_sae_with_metrics(trained: tuple[Path, dict]) -> None:
    from sae_lens import SAE

    out, record = trained
    assert (out / "cfg.json").is_file() and (out / "sae_weights.safetensors").is_file()
    sae = SAE.load_from_disk(str(out))
    assert (sae.cfg.d_in, sae.cfg.d_sae) == (64, 64)
    meta = json.loads((out / "cfg.json").read_text())["metadata"]
    assert meta["hook_name"] == "model.layers.1"
    assert meta["hook_names"]["transformer_lens"] == "blocks.1.hook_resid_post"
    assert meta["hook_names"]["lm_eval"] == "layers.1"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metrics"] == pytest.approx(record["metrics"], nan_ok=True)
    m = saved["metrics"]
    # trained beyond a random init: a random TopK SAE explains ~nothing (negative EV)
    assert m["explained_variance"] > 0.2
    assert 0 < m["l0"] <= 4 + 1e-6  # TopK k=4
    assert 0 <= m["dead_features"] <= 64
    assert saved["training_tokens"] == 6144 and saved["corpus_tokens"] > 0
    assert set(saved["corpus"]["documents"]) == {"roles", "items", "definitions", "prompts", "samples"}
    assert not list(out.parent.glob(".tmp-*"))


def test_same_config_same_bytes(trained: tuple[Path, dict], tiny_model_dir: Path, tmp_path: Path) -> None:
    out, _ = trained
    again = tmp_path / "again"
    train(validate(_cfg(tiny_model_dir, again)), log=lambda _m: None)
    for name in ("sae_weights.safetensors", "cfg.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    a, b = (json.loads((d / "runner_cfg.json").read_text()) for d in (out, again))
    a.pop("output_path"), b.pop("output_path")
    assert a == b


def test_metrics_of_a_perfect_sae(tiny_model_dir: Path) -> None:
    """An SAE that reconstructs exactly (features = relu(x), relu(-x)) scores EV 1 and loses no CE."""
    from sae_lens import StandardSAE, StandardSAEConfig

    model, tok = load_model(str(tiny_model_dir))
    sae = StandardSAE(StandardSAEConfig(d_in=64, d_sae=128))
    eye = torch.eye(64)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], dim=1))
        sae.W_dec.copy_(torch.cat([eye, -eye], dim=0))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    rows = torch.tensor(pack_tokens(project_documents(TINY_CORPUS, tok)[:6], tok, 16), dtype=torch.long)
    m = evaluate_sae(sae, model, 1, rows, exclude_ids=[tok.bos_token_id])
    assert m["explained_variance"] == pytest.approx(1.0, abs=1e-5)
    assert m["ce_loss_with_sae"] == pytest.approx(m["ce_loss_clean"], abs=1e-4)
    assert m["ce_loss_zero_ablated"] != pytest.approx(m["ce_loss_clean"], abs=1e-4)
    x = layer_outputs(model, 1, rows)
    assert m["l0"] == pytest.approx(float((x[rows != tok.bos_token_id] != 0).sum(-1).float().mean()), rel=1e-5)
    assert m["dead_features"] == 0


def test_hook_names() -> None:
    assert hook_names(15) == {"hf": "model.layers.15", "sae_lens": "model.layers.15",
                              "transformer_lens": "blocks.15.hook_resid_post", "lm_eval": "layers.15", "layer": "15"}


@pytest.mark.parametrize("extra, field", [
    (["--layer", "5"], "--layer"),
    (["--layer", "-1"], "--layer"),
    (["--width", "0"], "--width"),
    (["--tokens", "-5"], "--tokens"),
    (["--k", "100"], "--k"),
    (["--arch", "jumprelu"], "--arch"),
])
def test_bad_inputs_one_line_and_nothing_written(tiny_model_dir: Path, tmp_path: Path, capsys, extra, field) -> None:
    out = tmp_path / "sae"
    args = {"--model": str(tiny_model_dir), "--layer": "1", "--width": "64", "--tokens": "1000", "--out": str(out)}
    for i in range(0, len(extra), 2):
        args[extra[i]] = extra[i + 1]
    argv = ["train-sae"] + [x for kv in args.items() for x in kv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"error: {field}")
    assert not out.exists()


def test_missing_model_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--model"):
        validate(TrainSAEConfig(model=str(tmp_path / "nope"), layer=0, width=8, tokens=10, k=4))


def test_hub_model_id_reads_its_config_through_transformers(tiny_model_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """`--model org/name` (online users): the shape comes from AutoConfig; nothing here touches the network."""
    import transformers

    from lm_eval_values.model.loading import resolve_local_model

    calls: list[str] = []
    tiny_cfg = transformers.AutoConfig.from_pretrained(str(tiny_model_dir))

    def fake_from_pretrained(name: str, *a, **kw):
        calls.append(name)
        if name == "org/missing":
            raise OSError("org/missing is not a local folder and is not a valid model identifier\nmore")
        return tiny_cfg

    monkeypatch.chdir(tmp_path)   # so "org/tiny" is not a local folder
    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", fake_from_pretrained)
    shape = resolve_local_model("org/tiny")
    assert calls == ["org/tiny"]
    assert (shape.path, shape.name) == ("org/tiny", "tiny")
    assert (shape.n_layers, shape.d_model) == (tiny_cfg.num_hidden_layers, tiny_cfg.hidden_size)
    with pytest.raises(UserError) as err:
        resolve_local_model("org/missing")
    assert str(err.value).startswith("--model: cannot read the hub model 'org/missing'") and "\n" not in str(err.value)
    with pytest.raises(UserError, match="config.json missing"):   # a path-like name is never sent to the hub
        resolve_local_model("./org/tiny")
    assert calls == ["org/tiny", "org/missing"]
