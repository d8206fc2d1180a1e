"""What a model reference names, and the shape of that model, learnt offline (nothing is downloaded).

A ``pretrained`` value is an embedded alias (``smollm2-135m-instruct``), a local Hugging Face folder,
or a hub id ``org/name`` (loaded from the hub by online users). :func:`model_facts` finds the
model's shape (layers, width, vocabulary, parameter count) from, in order:

1. a local folder's ``config.json`` (parameters counted exactly from the safetensors headers);
2. an embedded alias's converted folder, when fetched;
3. the local Hugging Face cache, when it already holds the model's ``config.json``;
4. :data:`KNOWN_MODELS`, a small table of well-known hub models (dimensions from each model's
   ``config.json`` on the hub, linked from its model card);

else the shape is unknown (the caller warns). Parameter counts not read from weights are computed
from the dimensions (embeddings + attention + gated MLP + norms), which reproduces the published
sizes: Gemma-2-2B 2,614,341,888, Gemma-2B 2,506,172,416, Llama-3-8B 8,030,261,248.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

_HUB_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def is_hub_model_id(name: str) -> bool:
    """Whether ``name`` is a well-formed Hugging Face hub model id ``org/name`` (no path syntax).

    Each part: letters, digits, ``-``, ``_``, ``.``; starts with a letter or digit; no ``--`` or
    ``..``; at most 96 characters (the hub's rules for repository names).
    """
    if not isinstance(name, str) or name.count("/") != 1:
        return False
    return all(_HUB_PART.match(p) and "--" not in p and ".." not in p and not p.endswith(".")
               for p in name.split("/"))


@dataclass(frozen=True)
class ModelFacts:
    """The shape of a decoder-only LM; ``source`` says where the facts come from."""

    name: str
    n_layers: int
    d_model: int
    vocab: int | None = None
    d_ff: int | None = None
    n_heads: int | None = None
    n_kv_heads: int | None = None
    head_dim: int | None = None
    tied_embeddings: bool = True
    norms_per_layer: int = 2
    n_params: int | None = None
    source: str = ""

    def with_params(self) -> "ModelFacts":
        """These facts with ``n_params`` computed from the dimensions when not known."""
        if self.n_params is not None or self.vocab is None or self.d_ff is None:
            return self
        heads = self.n_heads or max(1, self.d_model // 64)
        hd = self.head_dim or self.d_model // heads
        kv = self.n_kv_heads or heads
        attn = 2 * self.d_model * heads * hd + 2 * self.d_model * kv * hd
        per_layer = attn + 3 * self.d_model * self.d_ff + self.norms_per_layer * self.d_model
        emb = self.vocab * self.d_model * (1 if self.tied_embeddings else 2)
        return replace(self, n_params=self.n_layers * per_layer + emb + self.d_model)


def _card(repo: str) -> str:
    return f"built-in table (config.json of https://huggingface.co/{repo})"


def _known(repo: str, **kw: Any) -> tuple[str, ModelFacts]:
    return repo.lower(), ModelFacts(name=repo, source=_card(repo), **kw).with_params()


_GEMMA2_2B = dict(n_layers=26, d_model=2304, vocab=256000, d_ff=9216, n_heads=8, n_kv_heads=4, head_dim=256,
                  norms_per_layer=4)
_GEMMA2_9B = dict(n_layers=42, d_model=3584, vocab=256000, d_ff=14336, n_heads=16, n_kv_heads=8, head_dim=256,
                  norms_per_layer=4)
_GEMMA_2B = dict(n_layers=18, d_model=2048, vocab=256000, d_ff=16384, n_heads=8, n_kv_heads=1, head_dim=256)
_LLAMA3_8B = dict(n_layers=32, d_model=4096, vocab=128256, d_ff=14336, n_heads=32, n_kv_heads=8, head_dim=128,
                  tied_embeddings=False)
_GEMMA3_270M = dict(n_layers=18, d_model=640, vocab=262144, d_ff=2048, n_heads=4, n_kv_heads=1, head_dim=256,
                    norms_per_layer=4)
_SMOLLM2_135M = dict(n_layers=30, d_model=576, vocab=49152, d_ff=1536, n_heads=9, n_kv_heads=3, head_dim=64)

#: Well-known hub models (lower-cased id -> facts). Base and instruction-tuned variants share a shape.
KNOWN_MODELS: dict[str, ModelFacts] = dict([
    _known("google/gemma-2-2b", **_GEMMA2_2B), _known("google/gemma-2-2b-it", **_GEMMA2_2B),
    _known("google/gemma-2-9b", **_GEMMA2_9B), _known("google/gemma-2-9b-it", **_GEMMA2_9B),
    _known("google/gemma-2b", **_GEMMA_2B), _known("google/gemma-2b-it", **_GEMMA_2B),
    _known("meta-llama/Meta-Llama-3-8B", **_LLAMA3_8B), _known("meta-llama/Meta-Llama-3-8B-Instruct", **_LLAMA3_8B),
    _known("meta-llama/Llama-3.1-8B", **_LLAMA3_8B), _known("meta-llama/Llama-3.1-8B-Instruct", **_LLAMA3_8B),
    _known("google/gemma-3-270m", **_GEMMA3_270M), _known("google/gemma-3-270m-it", **_GEMMA3_270M),
    _known("HuggingFaceTB/SmolLM2-135M-Instruct", **_SMOLLM2_135M),
])
#: Embedded aliases -> the hub model they are a conversion of (for the table, before a fetch).
ALIAS_MODELS = {"smollm2-135m-instruct": "huggingfacetb/smollm2-135m-instruct", "gemma-3-270m": "google/gemma-3-270m"}


def short_name(model: str) -> str:
    """``google/gemma-2-2b-it`` -> ``gemma-2-2b-it`` (lower case), for comparing model names across registries."""
    return str(model).strip().lower().rsplit("/", 1)[-1]


def known_model(name: str) -> ModelFacts | None:
    """Facts of a well-known model by hub id, alias or bare name (``gemma-2-2b`` as sae-lens writes it)."""
    key = str(name).strip().lower()
    key = ALIAS_MODELS.get(key, key)
    if key in KNOWN_MODELS:
        return KNOWN_MODELS[key]
    matches = [f for k, f in KNOWN_MODELS.items() if short_name(k) == short_name(key)]
    return matches[0] if len(matches) == 1 else None


def facts_from_config(raw: Mapping[str, Any], name: str, source: str, n_params: int | None = None) -> ModelFacts | None:
    """Facts from a ``config.json`` mapping (multimodal configs: their ``text_config``); None if not a decoder LM."""
    text = raw.get("text_config") or raw
    n_layers = text.get("num_hidden_layers") or text.get("n_layer")
    d_model = text.get("hidden_size") or text.get("n_embd") or text.get("d_model")
    if not isinstance(n_layers, int) or not isinstance(d_model, int):
        return None
    tied = raw.get("tie_word_embeddings", text.get("tie_word_embeddings", True))
    return ModelFacts(name=name, n_layers=n_layers, d_model=d_model, vocab=text.get("vocab_size"),
                      d_ff=text.get("intermediate_size") or text.get("n_inner") or 4 * d_model,
                      n_heads=text.get("num_attention_heads") or text.get("n_head"),
                      n_kv_heads=text.get("num_key_value_heads"), head_dim=text.get("head_dim"),
                      tied_embeddings=bool(tied), n_params=n_params, source=source).with_params()


def safetensors_param_count(folder: Path) -> int | None:
    """Exact parameter count from the headers of a folder's ``*.safetensors`` files (no weights read)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    try:
        for f in files:
            with open(f, "rb") as fh:
                (n,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(n))
            for key, info in header.items():
                if key != "__metadata__":
                    count = 1
                    for d in info["shape"]:
                        count *= int(d)
                    total += count
    except (OSError, ValueError, KeyError, struct.error):
        return None
    return total


def local_facts(folder: Path, name: str) -> ModelFacts | None:
    """Facts of a local Hugging Face folder (``config.json`` + safetensors headers); None if unreadable."""
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    return facts_from_config(raw, name, f"{folder / 'config.json'}", safetensors_param_count(folder))


def cached_hub_config(repo_id: str) -> Path | None:
    """The ``config.json`` of a hub model if the local Hugging Face cache already holds it (never downloads)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        return None
    hit = try_to_load_from_cache(repo_id, "config.json")
    return Path(hit) if isinstance(hit, str) and Path(hit).is_file() else None


def hub_facts(repo_id: str) -> ModelFacts | None:
    """Facts of a hub id: the local HF cache's ``config.json`` if present, else :data:`KNOWN_MODELS`."""
    cfg = cached_hub_config(repo_id)
    if cfg is not None:
        try:
            raw = json.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = None
        if isinstance(raw, dict):
            facts = facts_from_config(raw, repo_id, f"the local Hugging Face cache ({cfg})")
            if facts is not None:
                return facts
    return known_model(repo_id)
