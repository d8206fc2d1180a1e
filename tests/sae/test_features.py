"""discover-features: planted features are ranked first (span and contrastive), output format, bad inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from lm_eval_values import cli
from lm_eval_values.sae.corpus import chat_prompt
from lm_eval_values.sae.discover import DEFAULT_QUESTION, DiscoverConfig, discover, write_result
from lm_eval_values.sae.features import pool_positions, cohens_d, contrastive_prompts, rank_contrastive, span_positions
from lm_eval_values.model.loading import layer_outputs, load_model

D_SAE = 32
LAYER = 1


def _residuals(model, tok, texts):
    out = []
    for t in texts:
        ids = list(tok(t, add_special_tokens=False)["input_ids"])
        out.append((ids, layer_outputs(model, LAYER, torch.tensor([ids]))[0]))
    return out


def _save_sae(path: Path, w_enc: torch.Tensor, b_enc: torch.Tensor, b_dec: torch.Tensor, layer: int = LAYER,
              d_in: int = 64) -> Path:
    from sae_lens import StandardSAE, StandardSAEConfig

    sae = StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=w_enc.shape[1]))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        sae.W_enc.copy_(w_enc)
        sae.b_enc.copy_(b_enc)
        sae.b_dec.copy_(b_dec)
        sae.W_dec.copy_(torch.nn.functional.normalize(torch.randn(w_enc.shape[1], d_in, generator=g), dim=-1))
    sae.cfg.metadata.hook_name = f"model.layers.{layer}"
    sae.save_model(str(path))
    return path


def _base(d_in: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(d_in, D_SAE, generator=g) * 0.01
    b = torch.full((D_SAE,), -1.0)  # every unplanted feature stays silent
    return w, b


@pytest.fixture(scope="module")
def model_tok(tiny_model_dir: Path):
    return load_model(str(tiny_model_dir))


@pytest.fixture(scope="module")
def span_sae(tiny_model_dir: Path, model_tok, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Feature 7 (strong) and 3 (weaker) point along the span tokens' deviation; 9 along the last token's."""
    model, tok = model_tok
    prompt = chat_prompt(tok, DEFAULT_QUESTION, "")
    (ids, x), = _residuals(model, tok, [prompt])
    pos = span_positions(tok, ids, prompt, " your values")
    assert pos
    centre = x[1:].mean(0)
    u = torch.nn.functional.normalize(x[pos].mean(0) - centre, dim=0)
    v = torch.nn.functional.normalize(x[-1] - centre, dim=0)
    w, b = _base()
    w[:, 7], w[:, 3], w[:, 9] = 10 * u, 5 * u, 10 * v
    b[[7, 3, 9]] = 0.0
    return _save_sae(tmp_path_factory.mktemp("span_sae") / "sae", w, b, centre)


@pytest.fixture(scope="module")
def contrast_sae(tiny_model_dir: Path, model_tok, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Feature 11 is higher for value-high prompts, feature 5 for value-low prompts (at the span)."""
    model, tok = model_tok
    from lm_eval_values.sae.corpus import value_definitions

    high, low = contrastive_prompts(tok, "Power", value_definitions()["Power"], 3, 0, DEFAULT_QUESTION)
    pooled = {}
    for name, group in (("high", high), ("low", low)):
        rows = []
        for (ids, x), (text, role) in zip(_residuals(model, tok, [t for t, _ in group]), group):
            rows.append(x[pool_positions(tok, ids, text, "span", " your values", role)].mean(0))
        pooled[name] = torch.stack(rows)
    mh, ml = pooled["high"].mean(0), pooled["low"].mean(0)
    d = torch.nn.functional.normalize(mh - ml, dim=0)
    w, b = _base()
    w[:, 11], w[:, 5] = 50 * d, -50 * d
    b[[11, 5]] = 0.0
    return _save_sae(tmp_path_factory.mktemp("con_sae") / "sae", w, b, (mh + ml) / 2)


def test_span_method_ranks_planted_features(tiny_model_dir: Path, span_sae: Path, tmp_path: Path) -> None:
    out = tmp_path / "span.json"
    res = discover(DiscoverConfig(model=str(tiny_model_dir), sae=str(span_sae), out=str(out), top=5, reference=3))
    assert res["feature_ids"][:2] == [7, 3]
    f7, f3 = res["features"][0], res["features"][1]
    assert f7["score"] == pytest.approx(2 * f3["score"], rel=1e-4)  # max over the span, linear in the weight
    assert f7["max_act"] >= f7["mean_act"] > 0 and f7["sign"] == 1
    assert res["layer"] == LAYER and res["hook_names"]["transformer_lens"] == "blocks.1.hook_resid_post"
    assert "your" in "".join(res["span_tokens"]) and "values" in "".join(res["span_tokens"])
    # the last-token feature wins if scored at the last position instead of the span
    res_last = discover(DiscoverConfig(model=str(tiny_model_dir), sae=str(span_sae), out=str(out), top=5,
                                       reference=0, span="Answer:"))
    assert res_last["feature_ids"][0] == 9


def test_contrastive_method_ranks_and_signs(tiny_model_dir: Path, contrast_sae: Path, tmp_path: Path) -> None:
    out = tmp_path / "power.csv"
    cfg = DiscoverConfig(model=str(tiny_model_dir), sae=str(contrast_sae), out=str(out), method="contrastive",
                         value="Power", roles=3, top=4, reference=2)
    res = discover(cfg)
    assert set(res["feature_ids"][:2]) == {11, 5}
    by_id = {f["feature"]: f for f in res["features"]}
    assert by_id[11]["sign"] == 1 and by_id[11]["mean_high"] > by_id[11]["mean_low"]
    assert by_id[5]["sign"] == -1 and by_id[5]["effect_size"] < 0
    assert res["n_prompts"] == {"high": 4, "low": 4}
    up = discover(DiscoverConfig(**{**cfg.__dict__, "direction": "up"}))
    assert up["feature_ids"] == [11]

    write_result(res, out)
    rows = list(csv.DictReader(out.open()))
    assert [int(r["feature"]) for r in rows] == res["feature_ids"]
    assert rows[0]["method"] == "contrastive" and rows[0]["value"] == "Power" and rows[0]["hook_name"] == "model.layers.1"
    side = json.loads(out.with_suffix(".json").read_text())
    entries = {e["id"]: e for e in side["sweep_steering"]}
    assert entries["sae-contrastive-power-up"]["features"] == [11]
    assert entries["sae-contrastive-power-down"]["features"] == [5]
    assert all(c < 0 for c in entries["sae-contrastive-power-down"]["coefficients"])
    from steering_hooks.spec import parse_positions

    pos = parse_positions(entries["sae-contrastive-power-up"]["positions"])
    assert (pos.kind, pos.text) == ("span", " your values")


def test_cohens_d_by_hand() -> None:
    high = torch.tensor([[1.0, 0.0, 2.0], [3.0, 0.0, 2.0]])
    low = torch.tensor([[0.0, 0.0, 1.0], [2.0, 0.0, 1.0]])
    mh, ml, diff, d = cohens_d(high, low)
    # feature 0: means 2 vs 1, pooled SD sqrt(2) -> d = 1/sqrt(2); feature 1: no difference; feature 2: perfect separation
    assert d[0].item() == pytest.approx(1 / 2 ** 0.5, rel=1e-5)
    assert d[1].item() == 0.0 and d[2].item() > 1e5
    assert [r[0] for r in rank_contrastive(high, low, 3)] == [2, 0]


@pytest.mark.parametrize("extra, field", [
    (["--layer", "0"], "--layer"),  # SAE trained on layer 1
    (["--layer", "7"], "--layer"),  # beyond the model
    (["--span", "no such text"], "--span"),
    (["--method", "contrastive"], "--value"),
    (["--method", "contrastive", "--value", "Wisdom"], "--value"),
    (["--method", "magic"], "--method"),
    (["--top", "0"], "--top"),
    (["--top", "999"], "--top"),
    (["--out", "x.txt"], "--out"),
])
def test_bad_inputs_one_line(tiny_model_dir: Path, span_sae: Path, tmp_path: Path, capsys, extra, field) -> None:
    args = {"--model": str(tiny_model_dir), "--sae": str(span_sae), "--out": str(tmp_path / "f.json"),
            "--reference": "0"}
    for i in range(0, len(extra), 2):
        args[extra[i]] = extra[i + 1] if extra[i] != "--out" else str(tmp_path / extra[i + 1])
    assert cli.main(["discover-features"] + [x for kv in args.items() for x in kv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"error: {field}"), err
    assert not (tmp_path / "f.json").exists()


def test_sae_shape_mismatches(tiny_model_dir: Path, tmp_path: Path, capsys) -> None:
    w, b = torch.zeros(32, D_SAE), torch.zeros(D_SAE)
    small = _save_sae(tmp_path / "d32", w, b, torch.zeros(32), d_in=32)
    argv = ["discover-features", "--model", str(tiny_model_dir), "--sae", str(small), "--out", str(tmp_path / "f.json")]
    assert cli.main(argv) == 2
    assert "d_in 32 does not match the model's hidden size 64" in capsys.readouterr().err
    w, b = _base()
    bad = _save_sae(tmp_path / "width", w, b, torch.zeros(64))
    cfg = json.loads((bad / "cfg.json").read_text())
    cfg["d_sae"] = 48
    (bad / "cfg.json").write_text(json.dumps(cfg))
    argv[4] = str(bad)
    assert cli.main(argv) == 2
    assert "width mismatch" in capsys.readouterr().err
    argv[4] = str(tmp_path / "missing")
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith("error: --sae")


HUB_REF = "gemma-scope-2b-pt-res-canonical/layer_1/width_32/canonical"  # release/sae_id, never downloaded here


@pytest.fixture
def fake_hub(span_sae: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """``sae_lens.SAE.from_pretrained`` replaced by an offline stand-in returning a small StandardSAE."""
    import sae_lens

    import steering_hooks.sources as sources

    sae = sae_lens.SAE.load_from_disk(str(span_sae))  # offline: the planted span SAE (a StandardSAE)
    assert isinstance(sae, sae_lens.StandardSAE)
    calls: list[tuple[str, str, str]] = []

    def from_pretrained(release: str, sae_id: str, device: str = "cpu", **kw):
        calls.append((release, sae_id, device))
        return sae

    monkeypatch.setattr(sae_lens.SAE, "from_pretrained", from_pretrained)
    monkeypatch.setattr(sources, "_SAE_CACHE", {})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # the ref is no local folder
    return calls


def test_hub_reference_reaches_from_pretrained(tiny_model_dir: Path, fake_hub, tmp_path: Path, capsys) -> None:
    """``--sae release/sae_id`` loads through steering_hooks' loader (SAE.from_pretrained), never mutated."""
    import steering_hooks.sources as sources

    out = tmp_path / "hub.json"
    assert cli.main(["discover-features", "--model", str(tiny_model_dir), "--sae", HUB_REF, "--out", str(out),
                     "--top", "3", "--reference", "0"]) == 0
    assert fake_hub == [("gemma-scope-2b-pt-res-canonical", "layer_1/width_32/canonical", "cpu")]
    res = json.loads(out.read_text())
    assert res["sae"] == HUB_REF and res["layer"] == LAYER and res["feature_ids"][:2] == [7, 3]
    assert all(e["sae"] == HUB_REF for e in res["sweep_steering"])
    assert HUB_REF in capsys.readouterr().out
    sae = sources.load_sae(HUB_REF, "--sae")  # the per-process cache: no second hub call
    assert fake_hub == [("gemma-scope-2b-pt-res-canonical", "layer_1/width_32/canonical", "cpu")]
    before = {k: v.clone() for k, v in sae.state_dict().items()}
    discover(DiscoverConfig(model=str(tiny_model_dir), sae=HUB_REF, out=str(out), top=3, reference=2))
    assert all(torch.equal(before[k], v) for k, v in sae.state_dict().items())  # the shared SAE is not modified
    # the post-load checks still apply to hub SAEs
    assert cli.main(["discover-features", "--model", str(tiny_model_dir), "--sae", HUB_REF, "--layer", "0",
                     "--out", str(tmp_path / "x.json")]) == 2
    assert capsys.readouterr().err.startswith("error: --layer: the SAE was trained on layer 1")


def test_hub_reference_failure_is_one_line(tiny_model_dir: Path, fake_hub, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import sae_lens

    def missing(release: str, sae_id: str, device: str = "cpu", **kw):
        raise ValueError(f"ID {sae_id} not found in release {release}. Valid IDs are [...]\nmore detail")

    monkeypatch.setattr(sae_lens.SAE, "from_pretrained", missing)
    out = tmp_path / "f.json"
    assert cli.main(["discover-features", "--model", str(tiny_model_dir), "--sae", "some-release::no_such_id",
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: --sae: some-release::no_such_id is no local folder"), err
    assert "no_such_id not found in release some-release" in err and "(fix: " in err
    # the old release/sae_id form is resolved against the installed registry first: no such release, one line
    assert cli.main(["discover-features", "--model", str(tiny_model_dir), "--sae", "some-release/no_such_id",
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'some-release/no_such_id': no split at a '/' names a release" in err, err
    assert not out.exists()
