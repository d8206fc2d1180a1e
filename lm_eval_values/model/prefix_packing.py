"""Packed suffix forwards for shared-prefix reuse (used by :mod:`lm_eval_values.model.prefix_reuse`).

After the shared prefix of a group has run once, the group's suffixes are scored in ONE row per
forward instead of a padded batch on top of a batch copy of the prefix cache: the suffixes are
laid end to end after the prefix (a "packed" row), each token gets its position id inside its own
request (``P + i``), and a 4-D attention mask lets every suffix token see the prefix and the
earlier tokens of its own suffix only (block-diagonal causal on the suffix columns). This is the
same attention as each request run alone (e.g. the tree attention of speculative decoding,
Miao et al. 2024, "SpecInfer"; Cai et al. 2024, "Medusa"), so the log-likelihoods equal the plain
path's within float tolerance, while the forward pays neither padding nor the cache expansion
copies, and the matrix products see one larger row block.

A pack holds at most ``pack_tokens`` suffix tokens: the mask makes attention cost
``n x (P + n)`` for ``n`` packed tokens where only about ``n x P`` is needed, so very long packs
waste attention work. Packing is used only where the model is known to honour a custom 4-D mask
together with ``position_ids`` (:data:`PACKED_MODEL_TYPES`, attention ``sdpa`` or ``eager``) and,
for sliding-window models, only while prefix plus pack fit inside the window (else the key/value
cache would drop prefix positions). Everything else keeps the batched suffix path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import torch

from steering_hooks import BatchContext

#: model types whose transformers implementation was checked (tests) to honour a custom 4-D
#: attention mask and ``position_ids`` on the cached forward; others use the batched suffix path
PACKED_MODEL_TYPES = frozenset({"llama", "gemma", "gemma2", "gemma3_text", "gpt2"})
#: attention implementations that accept an additive 4-D float mask as given
PACKED_ATTENTION = frozenset({"sdpa", "eager"})
#: default largest number of suffix tokens in one packed forward
DEFAULT_PACK_TOKENS = 512


class PackableRow(Protocol):
    """What packing needs of a row (``prefix_reuse.Row``)."""

    inp: tuple[int, ...]
    first_needed: int

    @property
    def length(self) -> int: ...


def packing_limit(model: Any, prefix_len: int, pack_tokens: int = DEFAULT_PACK_TOKENS) -> int:
    """The most suffix tokens one packed forward after a ``prefix_len`` prefix may hold (0 = no packing).

    0 for model types or attention implementations outside :data:`PACKED_MODEL_TYPES` /
    :data:`PACKED_ATTENTION`; for a sliding-window model, prefix plus pack must stay below the window.
    """
    cfg = getattr(model, "config", None)
    if cfg is None or getattr(cfg, "model_type", None) not in PACKED_MODEL_TYPES:
        return 0
    if getattr(cfg, "_attn_implementation", None) not in PACKED_ATTENTION:
        return 0
    limit = max(int(pack_tokens), 1)
    window = getattr(cfg, "sliding_window", None)
    if isinstance(window, int) and window > 0:
        limit = min(limit, window - 1 - prefix_len)
    return max(limit, 0)


def pack_rows(rows: Sequence[PackableRow], prefix_len: int, limit: int) -> list[list[PackableRow]]:
    """Consecutive rows filled into packs of at most ``limit`` suffix tokens (a longer row: a pack alone)."""
    packs: list[list[PackableRow]] = []
    cur: list[PackableRow] = []
    used = 0
    for r in rows:
        n = r.length - prefix_len
        if cur and used + n > limit:
            packs.append(cur)
            cur, used = [], 0
        cur.append(r)
        used += n
    if cur:
        packs.append(cur)
    return packs


@dataclass
class Pack:
    """The tensors of one packed forward.

    Attributes:
        input_ids: ``[1, T]`` (the prefix, when included, then) the suffixes end to end.
        position_ids: ``[1, T]`` each token's position in its own request.
        attention_mask: ``[1, 1, T, P + n]`` additive mask (0 = visible, dtype minimum = hidden), ``n``
            suffix tokens; ``T = P + n`` with the prefix included, else ``n`` (the prefix is in the cache).
        keep: indices (into the ``T`` input columns) whose logits are read, ascending.
        starts: input column of each row's first suffix token.
    """

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    attention_mask: torch.Tensor
    keep: torch.Tensor
    starts: list[int]
    _index: dict[int, int]

    def logit_row(self, b: int, q: int, prefix_len: int) -> int:
        """Row of the kept logits that predicts token ``q + 1`` of pack row ``b`` (``q``: position in the request)."""
        return self._index[self.starts[b] + q - prefix_len]


def build_pack(rows: Sequence[PackableRow], prefix_len: int, dtype: torch.dtype, device: Any,
               with_prefix: bool = False) -> Pack:
    """Ids, positions, mask and kept columns of ``rows`` packed after a ``prefix_len`` prefix.

    ``with_prefix``: the forward also runs the prefix (row 0's first ``prefix_len`` tokens, causal among
    themselves) in front of the suffixes, on an empty cache; else the prefix is in the cache.
    """
    P = prefix_len
    lengths = [r.length - P for r in rows]
    n = sum(lengths)
    suffix_ids = [t for r in rows for t in r.inp[P:]]
    seg = torch.repeat_interleave(torch.arange(len(rows)), torch.tensor(lengths))
    offsets = [0]
    for s in lengths[:-1]:
        offsets.append(offsets[-1] + s)
    within = torch.arange(n) - torch.tensor(offsets)[seg]
    visible = (seg[:, None] == seg[None, :]) & (within[None, :] <= within[:, None])
    hidden = torch.finfo(dtype).min
    mask = torch.zeros(n, P + n, dtype=dtype)
    mask[:, P:].masked_fill_(~visible, hidden)
    positions = within + P
    lead = 0
    if with_prefix:
        head = torch.zeros(P, P + n, dtype=dtype)
        head.masked_fill_(torch.ones(P, P + n, dtype=torch.bool).triu(1), hidden)
        mask = torch.cat([head, mask])
        positions = torch.cat([torch.arange(P), positions])
        suffix_ids = list(rows[0].inp[:P]) + suffix_ids
        lead = P
    starts = [lead + o for o in offsets]
    keep = sorted({starts[b] + q - P for b, r in enumerate(rows) for q in range(r.first_needed, r.length)})
    return Pack(input_ids=torch.tensor([suffix_ids], dtype=torch.long, device=device),
                position_ids=positions.unsqueeze(0).to(device), attention_mask=mask[None, None].to(device),
                keep=torch.tensor(keep, dtype=torch.long, device=device), starts=starts,
                _index={c: k for k, c in enumerate(keep)})


def pack_context(rows_context: BatchContext, lengths: Sequence[int], prefix_len: int) -> BatchContext:
    """The packed row's steering context from the plain per-row context of the same rows.

    Columns ``0..P-1`` are row 0's prefix (every scope agrees there across rows), then each row's
    columns ``P..length-1``. Only column-wise scopes (``all``, ``prompt``, ``generated``, ``span``)
    read the same positions packed; ``last:k`` counts from the end of each row and is not packable.
    """
    P = prefix_len

    def cat(m: torch.Tensor) -> torch.Tensor:
        parts = [m[0, :P]] + [m[b, P:n] for b, n in enumerate(lengths)]
        return torch.cat(parts).unsqueeze(0)

    return BatchContext(valid=cat(rows_context.valid), prompt=cat(rows_context.prompt),
                        spans={s: cat(m) for s, m in rows_context.spans.items()})


def packable_spec(compiled: Any) -> bool:
    """Whether every intervention's position scope reads the same columns packed (no ``last:k``)."""
    if not compiled:
        return True
    return all(ci.positions.kind in ("all", "prompt", "generated", "span") for ci in compiled.interventions)
