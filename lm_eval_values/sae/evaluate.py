"""Held-out quality of a trained SAE: explained variance, L0, dead features, and the LM loss with the
SAE's reconstruction spliced in (the fraction of the zero-ablation loss gap it recovers).
"""

from __future__ import annotations

from typing import Any, Sequence

from lm_eval_values.model.loading import decoder_layer, layer_outputs


def evaluate_sae(sae: Any, model: Any, layer: int, rows: Any, exclude_ids: Sequence[int],
                 all_acts: Any | None = None, batch_size: int = 16) -> dict[str, float]:
    """Held-out metrics of an SAE at the output of decoder layer ``layer``.

    ``rows`` [N, T] are evaluation token rows. Returns explained variance
    (1 - SSE / total variance around the mean, over non-special tokens), L0 (mean active
    features per token), dead features (never active on the evaluation tokens nor on
    ``all_acts`` [M, d], e.g. the training activations), the LM cross-entropy clean, with the
    reconstruction spliced in, and with the layer output zero-ablated, and the fraction of the
    loss gap recovered.
    """
    import torch

    acts = layer_outputs(model, layer, rows, batch_size=batch_size)
    keep = ~torch.isin(rows, torch.tensor(list(exclude_ids), dtype=rows.dtype)) if exclude_ids else \
        torch.ones_like(rows, dtype=torch.bool)
    x = acts[keep]
    fired = torch.zeros(sae.cfg.d_sae, dtype=torch.bool)
    with torch.no_grad():
        feats = sae.encode(x)
        recon = sae.decode(feats)
        fired |= (feats > 0).any(0)
        if all_acts is not None:
            for i in range(0, all_acts.shape[0], 4096):
                fired |= (sae.encode(all_acts[i:i + 4096]) > 0).any(0)
    sse = ((x - recon) ** 2).sum()
    sst = ((x - x.mean(0, keepdim=True)) ** 2).sum()
    l0 = (feats > 0).float().sum(-1).mean()
    ce = _spliced_losses(sae, model, layer, rows, keep, batch_size)
    gap = ce["ce_loss_zero_ablated"] - ce["ce_loss_clean"]
    recovered = (ce["ce_loss_zero_ablated"] - ce["ce_loss_with_sae"]) / gap if gap > 1e-9 else float("nan")
    return {
        "explained_variance": float(1.0 - sse / sst),
        "mse_per_token": float(sse / x.shape[0]),
        "l0": float(l0),
        "dead_features": int((~fired).sum()),
        "dead_fraction": float((~fired).float().mean()),
        "eval_tokens": int(x.shape[0]),
        **ce,
        "ce_loss_recovered": float(recovered),
    }


def _spliced_losses(sae: Any, model: Any, layer: int, rows: Any, keep: Any, batch_size: int) -> dict[str, float]:
    """Next-token loss on ``rows`` clean, with the SAE reconstruction, and zero-ablated (non-special targets)."""
    import torch
    import torch.nn.functional as F

    mode = {"m": "clean"}

    def hook(_mod: Any, _inp: Any, out: Any) -> Any:
        if mode["m"] == "clean":
            return None
        h = out[0] if isinstance(out, (tuple, list)) else out
        new = sae.decode(sae.encode(h.float())).to(h.dtype) if mode["m"] == "sae" else torch.zeros_like(h)
        return (new, *out[1:]) if isinstance(out, tuple) else new

    totals = {"clean": 0.0, "sae": 0.0, "zero": 0.0}
    count = 0
    handle = decoder_layer(model, layer).register_forward_hook(hook)
    try:
        with torch.no_grad():
            for i in range(0, rows.shape[0], batch_size):
                ids = rows[i:i + batch_size]
                tgt_keep = keep[i:i + batch_size, 1:]
                n = int(tgt_keep.sum())
                if n == 0:
                    continue
                for m in totals:
                    mode["m"] = m
                    logits = model(input_ids=ids, use_cache=False).logits[:, :-1].float()
                    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                           reduction="none").view_as(tgt_keep)
                    totals[m] += float(loss[tgt_keep].sum())
                count += n
    finally:
        handle.remove()
    count = max(count, 1)
    return {"ce_loss_clean": totals["clean"] / count, "ce_loss_with_sae": totals["sae"] / count,
            "ce_loss_zero_ablated": totals["zero"] / count}
