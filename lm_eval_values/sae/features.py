"""SAE features on a model's residual stream: loading a checked SAE, encoding texts, ranking features.

Loading goes through :func:`steering_hooks.sources.load_sae` (a local sae-lens folder or a hub
reference ``release/sae_id``). Ranking: the study's span method (max activation over a span's
tokens; Kang et al. 2025) and a value-high vs value-low contrast (Cohen's d with the pooled SD;
Cohen 1988). :mod:`lm_eval_values.sae.discover` puts them together.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from steering_hooks.sources import is_local_ref

from lm_eval_values.core.errors import UserError
from lm_eval_values.model.loading import layer_outputs
from lm_eval_values.model.roles import generate_roles
from lm_eval_values.sae.corpus import CorpusConfig, chat_prompt, project_documents
from lm_eval_values.values.definitions import definition_prompt


def sae_layer(sae: Any) -> int | None:
    """The decoder layer an SAE was trained on, from its metadata (``hook_layer`` or ``hook_name``)."""
    meta = getattr(sae.cfg, "metadata", None)
    layer = getattr(meta, "hook_layer", None) if meta is not None else None
    if isinstance(layer, int):
        return layer
    name = getattr(meta, "hook_name", None) if meta is not None else None
    if not name:
        return None
    m = re.search(r"(?:^|\.)(?:layers|blocks|h)\.(\d+)(?:\.hook_resid_post)?$", str(name))
    return int(m.group(1)) if m else None


def sae_ref_record(ref: str) -> str:
    """How an SAE reference is recorded in outputs: a local folder as its absolute path, else as given."""
    return str(Path(ref).expanduser().resolve()) if is_local_ref(ref) else ref


def load_sae_checked(path: str, d_model: int, layer: int | None, n_layers: int, field_name: str = "--sae",
                     device: str = "cpu") -> tuple[Any, int]:
    """Load an SAE (local sae-lens folder or ``release/sae_id``) and check it against the model.

    Loading goes through :func:`steering_hooks.sources.load_sae` (one loader, cached per
    process: the returned SAE may be shared, so it is never modified here). Returns
    ``(sae, layer)``. Raises :class:`UserError` naming ``field_name`` when the folder is not an
    SAE, its weights disagree with its width, the hub reference cannot be loaded, its ``d_in``
    differs from the model's hidden size, or ``layer`` contradicts the layer it was trained on.
    Local folders are checked from ``cfg.json`` and the safetensors header before loading
    (:func:`steering_hooks.sources.check_sae_folder`, inside ``load_sae``).
    """
    from steering_hooks.errors import SpecError
    from steering_hooks.sources import load_sae

    try:
        sae = load_sae(path, field_name, device=device)
    except SpecError as exc:
        raise UserError(field_name, exc.problem, exc.fix) from None
    if sae.cfg.d_in != d_model:
        raise UserError(field_name, f"the SAE's d_in {sae.cfg.d_in} does not match the model's hidden size {d_model}",
                        "use an SAE trained on this model")
    own = sae_layer(sae)
    if layer is None:
        if own is None:
            raise UserError("--layer", "the SAE records no hook layer", f"give --layer (0..{n_layers - 1})")
        layer = own
    elif own is not None and own != layer:
        raise UserError("--layer", f"the SAE was trained on layer {own}, not {layer}",
                        f"use --layer {own} or the SAE for layer {layer}")
    if not 0 <= layer < n_layers:
        raise UserError("--layer", f"layer {layer} is beyond the model ({n_layers} decoder layers)",
                        f"use a layer between 0 and {n_layers - 1}")
    return sae, layer


# ----------------------------------------------------------------------------- encoding
def _tokenize(tok: Any, text: str) -> list[int]:
    special = not getattr(tok, "chat_template", None)  # chat-formatted text carries its own specials
    return list(tok(text, add_special_tokens=special)["input_ids"])


def span_positions(tok: Any, ids: Sequence[int], text: str, span: str) -> list[int]:
    """Token indices of ``ids`` (encoded from ``text``) overlapping any occurrence of ``span``."""
    from steering_hooks.context import find_span_positions

    return list(find_span_positions(tok, ids, span, text=text))


def encode_texts(model: Any, tok: Any, sae: Any, layer: int, texts: Sequence[str],
                 desc: str | None = None) -> list[tuple[list[int], Any, Any]]:
    """For each text: (token ids, residual stream [T, d], SAE feature activations [T, d_sae]).

    ``desc``: show a progress bar with an ETA on stderr under this label (None: silent).
    """
    import torch
    from tqdm.auto import tqdm

    out = []
    for text in tqdm(texts, desc=desc, unit="prompt", disable=desc is None, file=sys.stderr, dynamic_ncols=True):
        ids = _tokenize(tok, text)
        resid = layer_outputs(model, layer, torch.tensor([ids], dtype=torch.long))[0]
        with torch.no_grad():
            feats = sae.encode(resid.to(sae.W_enc.dtype))
        out.append((ids, resid, feats))
    return out


def reference_stats(model: Any, tok: Any, sae: Any, layer: int, n_docs: int, seed: int,
                    progress: bool = False) -> dict[str, Any]:
    """Per-feature activation statistics on ``n_docs`` project documents (non-special tokens).

    Returns tensors ``mean``, ``std``, ``density`` (fraction active), ``typical`` (mean when
    active) and the token count.
    """
    import torch

    d_sae = sae.cfg.d_sae
    if n_docs <= 0:
        z = torch.zeros(d_sae)
        return {"mean": z, "std": torch.ones(d_sae), "density": z, "typical": z, "tokens": 0}
    docs = project_documents(CorpusConfig(seed=seed, n_roles=8, n_prompts=max(4, n_docs)), tok)
    rng = random.Random(f"lm-eval-values-reference|{seed}")
    picked = rng.sample(docs, min(n_docs, len(docs)))
    special = set(int(i) for i in tok.all_special_ids)
    s1 = torch.zeros(d_sae, dtype=torch.float64)
    s2 = torch.zeros(d_sae, dtype=torch.float64)
    active = torch.zeros(d_sae, dtype=torch.float64)
    n = 0
    for ids, _resid, feats in encode_texts(model, tok, sae, layer, [d.text for d in picked],
                                           desc="reference documents" if progress else None):
        keep = torch.tensor([i > 0 and t not in special for i, t in enumerate(ids)], dtype=torch.bool)
        f = feats[keep].double()
        s1 += f.sum(0)
        s2 += (f ** 2).sum(0)
        active += (f > 0).double().sum(0)
        n += int(keep.sum())
    n = max(n, 1)
    mean = s1 / n
    std = (s2 / n - mean ** 2).clamp(min=0).sqrt()
    typical = torch.where(active > 0, s1 / active.clamp(min=1), torch.zeros_like(s1))
    return {"mean": mean.float(), "std": std.float(), "density": (active / n).float(), "typical": typical.float(),
            "tokens": n}


# ----------------------------------------------------------------------------- methods
def decoder_norms(sae: Any) -> Any:
    """``||W_dec[f]||`` for every feature ``f``."""
    return sae.W_dec.detach().float().norm(dim=-1)


def rank_span(feats: Any, positions: Sequence[int], top: int) -> list[tuple[int, float, float, float]]:
    """Study method core: (feature, max over span, mean over span, 0) for the ``top`` active features."""
    import torch

    span = feats[list(positions)].float()
    mx = span.max(0).values
    mean = span.mean(0)
    order = torch.argsort(mx, descending=True, stable=True)
    res = []
    for f in order.tolist():
        if mx[f] <= 0 or len(res) >= top:
            break
        res.append((f, float(mx[f]), float(mean[f]), 0.0))
    return res


def cohens_d(high: Any, low: Any) -> tuple[Any, Any, Any, Any]:
    """Per-feature mean_high, mean_low, diff and Cohen's d (pooled SD) for [n, d_sae] groups.

    A zero pooled SD with a non-zero difference gives a d of +/-1e6 (a perfect separator);
    zero difference gives 0.
    """
    import torch

    h, lo = high.double(), low.double()
    mh, ml = h.mean(0), lo.mean(0)
    nh, nl = h.shape[0], lo.shape[0]
    vh = h.var(0, unbiased=True) if nh > 1 else torch.zeros_like(mh)
    vl = lo.var(0, unbiased=True) if nl > 1 else torch.zeros_like(ml)
    pooled = (((nh - 1) * vh + (nl - 1) * vl) / max(nh + nl - 2, 1)).sqrt()
    diff = mh - ml
    tiny = 1e-9
    d = torch.where(pooled > tiny, diff / pooled.clamp(min=tiny), torch.sign(diff) * 1e6)
    d = torch.where(diff.abs() <= tiny, torch.zeros_like(d), d)
    return mh.float(), ml.float(), diff.float(), d.float()


def rank_contrastive(high: Any, low: Any, top: int, direction: str = "both") -> list[tuple[int, float, float, float, float, float]]:
    """(feature, d, mean_high, mean_low, diff, sign) for the ``top`` features by |d| (ties: |diff|)."""
    import torch

    mh, ml, diff, d = cohens_d(high, low)
    key = d.abs().double() * 1e6 + diff.abs().double()  # |d| first, |diff| breaks ties
    if direction == "up":
        key = torch.where(diff > 0, key, torch.full_like(key, -1.0))
    elif direction == "down":
        key = torch.where(diff < 0, key, torch.full_like(key, -1.0))
    order = torch.argsort(key, descending=True, stable=True)
    res = []
    for f in order.tolist():
        if len(res) >= top or key[f] <= 0:
            break
        res.append((f, float(d[f]), float(mh[f]), float(ml[f]), float(diff[f]), 1.0 if diff[f] > 0 else -1.0))
    return res


def contrastive_prompts(tok: Any, value: str, definition: str, n_roles: int, seed: int,
                        question: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(prompt, role hint) pairs for value-high and value-low prompts (``n_roles`` personas + no persona)."""
    personas = [""] + [r.text for r in generate_roles(n_train=n_roles, n_test=0, seed=seed)] if n_roles > 0 else [""]
    out: dict[str, list[tuple[str, str]]] = {"inclined": [], "disinclined": []}
    for persona in personas:
        for direction in out:
            hint = definition_prompt(value, direction, definition)
            role = f"{persona} {hint}" if persona else hint
            out[direction].append((chat_prompt(tok, question, role), role))
    return out["inclined"], out["disinclined"]


def pool_positions(tok: Any, ids: Sequence[int], text: str, pool: str, span: str, role: str) -> list[int]:
    """The positions a contrastive prompt's activations are pooled over (``span``, ``role``, ``last`` or ``prompt``)."""
    special = set(int(i) for i in tok.all_special_ids)
    if pool == "span":
        return span_positions(tok, ids, text, span)
    if pool == "role":
        return span_positions(tok, ids, text, role)
    if pool == "last":
        return [len(ids) - 1]
    return [i for i, t in enumerate(ids) if i > 0 and t not in special]
