"""The long steps of train-sae and discover-features show a progress bar with an ETA on stderr."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from lm_eval_values.model.loading import load_model
from lm_eval_values.sae.corpus import CorpusConfig, sample_documents
from lm_eval_values.sae.train import _activations

#: tqdm's "[elapsed<remaining, rate]": the remaining time is the ETA
ETA = re.compile(r"\[\d+:\d\d<\d+:\d\d")


def test_activation_bar_shows_an_eta_and_matches_one_pass(tiny_model_dir: Path, capsys) -> None:
    from lm_eval_values.model.loading import layer_outputs

    model, _tok = load_model(str(tiny_model_dir))
    rows = torch.randint(5, 100, (10, 8))
    acts = _activations(model, 1, rows, progress=True, chunk=3)
    err = capsys.readouterr().err
    assert "activations at layer 1" in err and "10/10" in err and ETA.search(err)
    assert torch.equal(acts, layer_outputs(model, 1, rows))  # chunking changes nothing
    _activations(model, 1, rows, progress=False)
    assert capsys.readouterr().err == ""


def test_corpus_sampling_bar(tiny_model_dir: Path, capsys) -> None:
    model, tok = load_model(str(tiny_model_dir))
    cfg = CorpusConfig(seed=0, n_samples=3, sample_tokens=2, sample_batch=1)
    docs = sample_documents(model, tok, ["Question: Should I help?"], cfg, progress=True)
    err = capsys.readouterr().err
    assert len(docs) == 3 and "corpus: sampling the model" in err and "3/3" in err and ETA.search(err)


def test_feature_encoding_bar(tiny_model_dir: Path, capsys) -> None:
    from sae_lens import StandardSAE, StandardSAEConfig

    from lm_eval_values.sae.features import encode_texts

    model, tok = load_model(str(tiny_model_dir))
    sae = StandardSAE(StandardSAEConfig(d_in=64, d_sae=16))
    out = encode_texts(model, tok, sae, 1, ["one prompt", "another prompt"], desc="value-high prompts")
    err = capsys.readouterr().err
    assert len(out) == 2 and "value-high prompts" in err and "2/2" in err and ETA.search(err)
    encode_texts(model, tok, sae, 1, ["quiet"])
    assert capsys.readouterr().err == ""
