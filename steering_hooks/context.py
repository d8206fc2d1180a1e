"""The per-batch context that tells hooks which positions are prompt, continuation or span.

A hook only sees a hidden-state tensor ``[batch, seq, d_model]``. Whoever runs the model
(``values_hf``, your own loop) describes the batch BEFORE the forward pass with a
:class:`BatchContext`:

* ``valid`` ``[B, W]``: real tokens (False = padding; left or right padding both work);
* ``prompt`` ``[B, W]``: prompt / context tokens (a subset of ``valid``). For a
  log-likelihood request these are the context tokens and the scored continuation tokens
  are ``valid & ~prompt``;
* ``spans`` ``{text: [B, W]}``: the prompt tokens overlapping each occurrence of ``text``;
* ``start``: the key/value-cache length at which column 0 of these masks sits (0 for a
  plain forward; a prefix-reuse path sets it to the cached prefix length).

For a forward pass over ``T`` new tokens after ``L`` cached tokens, the hook uses columns
``L - start .. L - start + T - 1`` of the masks; columns beyond ``W`` are generated tokens
(``generated`` and ``all`` scopes steer them, prompt-derived scopes do not). ``L`` is read
from the ``cache`` / ``past_key_values`` argument of the model's forward (transformers 5 and 4),
so generation needs no extra bookkeeping: the prefill is the prompt, decode steps are generated.

With no context set, each forward with an empty cache counts as an all-prompt prefill (no
padding) and later cached forwards as generated tokens; ``span`` scopes then need a
context (an error says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from steering_hooks.errors import SpecError
from steering_hooks.spec import Positions

_SPAN_CACHE: dict[tuple[Any, ...], tuple[int, ...]] = {}
_SPAN_CACHE_MAX = 8192


def _token_char_spans(tokenizer: Any, ids: Sequence[int]) -> tuple[str, list[tuple[int, int]]]:
    """Decoded text of ``ids`` and each token's character range in it (prefix decoding)."""
    ids = list(ids)
    if not ids:
        return "", []
    prefixes = tokenizer.batch_decode([ids[: i + 1] for i in range(len(ids))], skip_special_tokens=False,
                                      clean_up_tokenization_spaces=False)
    spans: list[tuple[int, int]] = []
    prev = 0
    for p in prefixes:
        end = max(prev, len(p))
        spans.append((prev, end))
        prev = end
    return prefixes[-1], spans


def _offsets_from_text(tokenizer: Any, ids: Sequence[int], text: str) -> list[tuple[int, int]] | None:
    """Token character ranges from the tokenizer's offset mapping, if its ids line up with ``ids``."""
    if not getattr(tokenizer, "is_fast", False):
        return None
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    except Exception:  # noqa: BLE001 - fall back to decoding
        return None
    tids, offs = list(enc["input_ids"]), list(enc["offset_mapping"])
    ids = list(ids)
    n, m = len(ids), len(tids)
    if m <= n and ids[n - m:] == tids:  # ids = <special prefix> + text tokens
        return [(0, 0)] * (n - m) + [tuple(o) for o in offs]
    if m > n and tids[m - n:] == ids:  # ids were left-truncated
        return [tuple(o) for o in offs[m - n:]]
    return None


def find_span_positions(tokenizer: Any, ids: Sequence[int], span: str, text: str | None = None) -> tuple[int, ...]:
    """Indices into ``ids`` of the tokens overlapping any occurrence of ``span``.

    ``text`` (the prompt string the ids were encoded from) enables the fast offset-mapping
    path; otherwise (or if the ids do not line up) the ids are decoded prefix by prefix.
    """
    key = (id(tokenizer), tuple(ids), span, text)
    hit = _SPAN_CACHE.get(key)
    if hit is not None:
        return hit
    offsets = _offsets_from_text(tokenizer, ids, text) if text is not None else None
    if offsets is None:
        text, offsets = _token_char_spans(tokenizer, ids)
    out: set[int] = set()
    start = text.find(span)
    while start >= 0:
        end = start + len(span)
        out.update(i for i, (s, e) in enumerate(offsets) if e > s and e > start and s < end)
        start = text.find(span, start + max(1, len(span)))
    res = tuple(sorted(out))
    if len(_SPAN_CACHE) >= _SPAN_CACHE_MAX:
        _SPAN_CACHE.clear()
    _SPAN_CACHE[key] = res
    return res


@dataclass
class BatchContext:
    """Token masks for the next forward pass(es); see the module docstring."""

    valid: torch.Tensor
    prompt: torch.Tensor
    spans: dict[str, torch.Tensor] = field(default_factory=dict)
    start: int = 0
    _cache: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.valid = self.valid.bool()
        self.prompt = self.prompt.bool() & self.valid
        if self.valid.shape != self.prompt.shape:
            raise ValueError("valid and prompt masks must have the same shape")

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.valid.shape)  # type: ignore[return-value]

    @classmethod
    def from_rows(cls, width: int, valid_lengths: Sequence[int], prompt_lengths: Sequence[int],
                  span_positions: dict[str, Sequence[Sequence[int]]] | None = None,
                  left_pad: Sequence[int] | None = None) -> "BatchContext":
        """Build from per-row lengths: row ``b`` has ``left_pad[b]`` pads, then ``valid_lengths[b]``
        real tokens whose first ``prompt_lengths[b]`` are prompt; span positions index the real tokens."""
        B = len(valid_lengths)
        left = list(left_pad) if left_pad is not None else [0] * B
        valid = torch.zeros(B, width, dtype=torch.bool)
        prompt = torch.zeros(B, width, dtype=torch.bool)
        for b in range(B):
            valid[b, left[b]:left[b] + valid_lengths[b]] = True
            prompt[b, left[b]:left[b] + prompt_lengths[b]] = True
        spans: dict[str, torch.Tensor] = {}
        for text, rows in (span_positions or {}).items():
            m = torch.zeros(B, width, dtype=torch.bool)
            for b, pos in enumerate(rows):
                idx = [left[b] + p for p in pos if 0 <= p < prompt_lengths[b]]
                if idx:
                    m[b, idx] = True
            spans[text] = m
        return cls(valid=valid, prompt=prompt, spans=spans)

    @classmethod
    def from_prompts(cls, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                     tokenizer: Any = None, spans: Sequence[str] = (), texts: Sequence[str] | None = None) -> "BatchContext":
        """A prompt-only batch (generation prefill): every real token is prompt.

        ``spans`` are located with ``tokenizer`` (decoding the ids, or ``texts`` when given)."""
        ids = input_ids.detach().cpu()
        valid = (attention_mask.detach().cpu().bool() if attention_mask is not None
                 else torch.ones_like(ids, dtype=torch.bool))
        span_masks: dict[str, torch.Tensor] = {}
        for span in spans:
            if tokenizer is None:
                raise SpecError("positions", f"span:{span!r} needs a tokenizer to locate the text",
                                "pass tokenizer= to attach() or BatchContext.from_prompts")
            m = torch.zeros_like(valid)
            for b in range(ids.shape[0]):
                cols = valid[b].nonzero().flatten().tolist()
                row_ids = ids[b, cols].tolist()
                pos = find_span_positions(tokenizer, row_ids, span, None if texts is None else texts[b])
                if pos:
                    m[b, [cols[p] for p in pos]] = True
            span_masks[span] = m
        return cls(valid=valid, prompt=valid.clone(), spans=span_masks)

    def full_mask(self, pos: Positions) -> torch.Tensor:
        """The ``[B, W]`` mask of a scope over this context's columns."""
        key = str(pos)
        m = self._cache.get(key)
        if m is not None:
            return m
        if pos.kind == "all":
            m = self.valid
        elif pos.kind == "prompt":
            m = self.prompt
        elif pos.kind == "generated":
            m = self.valid & ~self.prompt
        elif pos.kind == "span":
            if pos.text not in self.spans:
                raise SpecError("positions", f"span {pos.text!r} was not located for this batch",
                                "build the BatchContext with this span text")
            m = self.spans[pos.text] & self.prompt
        else:  # last:k of the prompt tokens of each row
            k = int(pos.k or 1)
            csum = self.prompt.flip(1).cumsum(1).flip(1)  # number of prompt tokens at or after each column
            m = self.prompt & (csum <= k)
        self._cache[key] = m
        return m

    def window(self, pos: Positions, cache_len: int, T: int) -> torch.Tensor:
        """The ``[B, T]`` mask for a forward over ``T`` tokens after ``cache_len`` cached ones."""
        full = self.full_mask(pos)
        B, W = full.shape
        lo = cache_len - self.start
        out = torch.zeros(B, T, dtype=torch.bool)
        a, b = max(lo, 0), min(lo + T, W)
        if b > a:
            out[:, a - lo:b - lo] = full[:, a:b]
        if lo + T > W and pos.kind in ("all", "generated"):  # tokens beyond the context: generated
            out[:, max(W - lo, 0):] = True
        return out
