"""Shared-prefix reuse for log-likelihood requests (used by ``values_hf``).

Questionnaire items asked under the same role, instruction and few-shot examples share a
long token prefix. Instead of running every request from token 0 (lm-eval's HFLM), this
module

1. drops duplicate inputs (requests whose ``context + continuation[:-1]`` tokens are equal
   share one row, as lm-eval does for one-token continuations, generalised);
2. sorts the rows by their tokens and groups neighbours whose longest common prefix is at
   least ``min_prefix`` tokens (the prefix never reaches a scored position, so every logit
   that is read comes from the suffix forward);
3. runs the prefix ONCE (batch 1) with the model's key/value cache, then scores the rows'
   suffixes on top of that cache, asking the model only for the logits of the continuation
   positions (``logits_to_keep``): packed end to end in one row per forward with a block-causal
   4-D mask where the model supports it (:mod:`lm_eval_values.model.prefix_packing`: no padding,
   no cache copies per row), else as right-padded batches on a batch copy of the cache;
4. sends everything else (truncated requests, rows that share no prefix) to the plain path.

Steering (``steering_hooks``) sees correct absolute positions: the prefix forward gets the
:class:`~steering_hooks.BatchContext` of one row of the group (columns ``0..P-1``), the suffix
forward the full-width context of its rows, and the hooks read the cache length ``P`` from
``past_key_values`` and use columns ``P..``. Before a group is run, every intervention's
position mask over the prefix columns is compared across its rows; the prefix is shortened to
the first column where any two rows disagree (e.g. a ``last:k`` scope reaching into the
prefix, or a span that straddles it), so steering is identical to the plain path. The receipt
counts prefix positions once per group (not once per request). A spec with a ``last:k`` scope
(counted from the end of each row) uses the batched suffix path.

Results equal HFLM's within float tolerance (different matmul shapes: about 1e-5 in float32).
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from steering_hooks import BatchContext, SpecError, attach
from steering_hooks.context import find_span_positions

from lm_eval_values.model.prefix_packing import (DEFAULT_PACK_TOKENS, build_pack, pack_context, pack_rows,
                                                 packable_spec, packing_limit)

Request = tuple[tuple[str, str] | None, list[int], list[int]]
Answer = tuple[float, bool]

#: default minimum shared prefix (tokens) worth a separate prefix forward
DEFAULT_MIN_PREFIX = 16
#: default suffix batch size when the model's batch size is ``auto``
DEFAULT_BATCH = 16


@dataclass
class Row:
    """One distinct model input and the requests scored from it."""

    inp: tuple[int, ...]
    ctx_len: int  # context tokens inside ``inp`` (the rest of ``inp`` is continuation)
    text: str | None  # the context string (span location)
    context_enc: list[int]
    requests: list[int] = field(default_factory=list)  # indices into the request list
    first_needed: int = 0  # first position whose logits are read

    @property
    def length(self) -> int:
        return len(self.inp)


@dataclass
class Group:
    """Rows sharing their first ``prefix_len`` tokens."""

    rows: list[Row]
    prefix_len: int


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def build_rows(requests: Sequence[Request], max_length: int, split_key: bool) -> tuple[list[Row], list[int]]:
    """Distinct inputs -> rows; also the indices of requests that need the plain path (truncated).

    ``split_key``: keep requests with equal tokens but a different context/continuation split
    apart (needed when a steering scope depends on the split).
    """
    rows: dict[tuple[Any, ...], Row] = {}
    plain: list[int] = []
    for i, (req_str, ctx, cont) in enumerate(requests):
        if not ctx or not cont or len(ctx) + len(cont) > max_length + 1:
            plain.append(i)
            continue
        inp = tuple(ctx + cont[:-1])
        key = (inp, len(ctx) if split_key else -1)
        row = rows.get(key)
        if row is None:
            text = req_str[0].rstrip() if req_str and isinstance(req_str[0], str) else None
            row = rows[key] = Row(inp=inp, ctx_len=len(ctx), text=text, context_enc=list(ctx),
                                  first_needed=len(inp))
        row.requests.append(i)
        row.first_needed = min(row.first_needed, len(inp) - len(cont))
    return list(rows.values()), plain


#: a segment of rows is split into several groups only if that cuts its forward tokens by this share
#: (extra groups cost extra prefix forwards and smaller suffix batches)
SPLIT_MIN_GAIN = 0.1


def group_rows(rows: list[Row], min_prefix: int) -> tuple[list[Group], list[Row]]:
    """Group lexicographically sorted rows by shared prefix (>= ``min_prefix``).

    Neighbours sharing at least ``min_prefix`` tokens form a segment (one group with the segment's
    common prefix, as a greedy scan would give). A segment is split at its weakest boundaries into
    groups with longer prefixes when that cuts its forward tokens by at least
    :data:`SPLIT_MIN_GAIN` (a group of n rows with prefix P computes P + sum(len - P) tokens):
    e.g. items asked in two option orders give one group per order, each prefix running to the end
    of its instruction, instead of one group whose prefix stops where the orders first differ.

    Returns the groups (two rows or more) and the leftover rows (for the plain path).
    """
    ordered = sorted(rows, key=lambda r: r.inp)
    limit = [min(r.first_needed, r.length - 1) for r in ordered]
    edge = [min(_lcp(a.inp, b.inp), limit[i], limit[i + 1]) for i, (a, b) in enumerate(zip(ordered, ordered[1:]))]
    groups: list[Group] = []
    start = 0
    for i in range(len(ordered)):
        if i == len(ordered) - 1 or edge[i] < min_prefix:
            if i > start:
                groups += [Group(rows=[ordered[j] for j in ix], prefix_len=p)
                           for ix, p in _split_segment(edge, ordered, start, i + 1, 0)[1]]
            start = i + 1
    grouped = {id(r) for g in groups for r in g.rows}
    return groups, [r for r in ordered if id(r) not in grouped]


def _split_segment(edge: list[int], rows: list[Row], lo: int, hi: int,
                   depth: int) -> tuple[int, list[tuple[list[int], int]]]:
    """Rows ``lo..hi-1`` (two or more; shared prefix = the smallest edge between them): the tokens
    saved over running each row alone, and the groups as (row indices, prefix length)."""
    prefix = min(edge[lo:hi - 1])
    whole = (hi - lo - 1) * prefix, [(list(range(lo, hi)), prefix)]
    if depth >= 32:
        return whole
    bounds = [lo, *[i + 1 for i in range(lo, hi - 1) if edge[i] == prefix], hi]
    saved, parts, joined = 0, [], []
    for a, b in zip(bounds, bounds[1:]):
        if b - a >= 2:
            part_saved, part_groups = _split_segment(edge, rows, a, b, depth + 1)
            if part_saved > (b - a) * prefix:
                saved += part_saved
                parts += part_groups
                continue
        joined += range(a, b)
    if len(joined) >= 2:
        saved += (len(joined) - 1) * prefix
        parts.append((joined, prefix))
    cost_whole = sum(rows[j].length for j in range(lo, hi)) - whole[0]
    return (saved, parts) if saved - whole[0] >= SPLIT_MIN_GAIN * cost_whole else whole


def _span_rows(tokenizer: Any, rows: Sequence[Row], spans: Sequence[str]) -> dict[str, list[list[int]]]:
    return {s: [list(find_span_positions(tokenizer, r.context_enc, s, r.text)) for r in rows] for s in spans}


def _context(rows: Sequence[Row], tokenizer: Any, spans: Sequence[str], width: int | None = None) -> BatchContext:
    """The plain path's context for ``rows`` (right padding, context tokens = prompt)."""
    w = width if width is not None else max(r.length for r in rows)
    return BatchContext.from_rows(w, [r.length for r in rows], [r.ctx_len for r in rows],
                                  _span_rows(tokenizer, rows, spans))


def steering_safe_prefix(group: Group, compiled: Any, tokenizer: Any) -> int:
    """The longest prefix (<= ``group.prefix_len``) on which every scope mask agrees across rows.

    Also raises the plain path's error for a required span missing from some row's prompt.
    """
    if not compiled:
        return group.prefix_len
    ctx = _context(group.rows, tokenizer, compiled.span_texts)
    p = group.prefix_len
    for ci in compiled.interventions:
        full = ctx.full_mask(ci.positions)
        if ci.positions.kind == "span" and ci.spec.required:
            missing = [b for b in range(full.shape[0]) if ctx.prompt[b].any() and not full[b].any()]
            if missing:
                raise SpecError(f"interventions[{ci.index}].positions",
                                f"span {ci.positions.text!r} not found in the prompt of a request",
                                "fix the span text, or set required: false")
        head = full[:, :p]
        diff = (head != head[:1]).any(dim=0).nonzero().flatten()
        if diff.numel():
            p = int(diff[0])
    return p


def _batch_cache(cache: Any, n: int) -> Any:
    """A batch-``n`` copy of a batch-1 key/value cache (the original stays untouched)."""
    c = copy.deepcopy(cache)
    if n > 1:
        c.batch_repeat_interleave(n)
    return c


def _cache_kwarg(model: Any) -> str:
    """``cache`` (transformers >= 5.2x) or ``past_key_values`` (older releases)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def _output_cache(output: Any) -> Any:
    """The key/value cache of a model output (``cache`` in transformers >= 5.2x, ``past_key_values`` before)."""
    cache = getattr(type(output), "__dataclass_fields__", {}).get("cache")
    return output.cache if cache is not None else output.past_key_values


def _forward(model: Any, steering: Any, ctx: BatchContext | None, **kw: Any) -> Any:
    if steering is not None:
        steering.set_context(ctx)
    return model(**kw)


def _score_row(lm: Any, row: Row, requests: Sequence[Request], out: list[Answer | None], logp: torch.Tensor,
               index: Callable[[int], int]) -> None:
    """Fill ``out`` for ``row``'s requests; ``logp[index(q)]`` are the log-probabilities after position ``q``."""
    for i in row.requests:
        req_str, _, cont = requests[i]
        lp = logp[[index(q) for q in range(row.length - len(cont), row.length)]]  # [len(cont), V]
        cont_t = torch.tensor(cont, dtype=torch.long, device=lp.device)
        greedy = bool((lp.argmax(dim=-1) == cont_t).all())
        ans = (float(lp.gather(1, cont_t.unsqueeze(-1)).sum()), greedy)
        out[i] = ans
        if req_str is not None:
            lm.cache_hook.add_partial("loglikelihood", req_str, ans)


def _run_batched(lm: Any, rows: list[Row], P: int, cache: Any, requests: Sequence[Request],
                 out: list[Answer | None], steering: Any, spans: Sequence[str], batch_size: int) -> None:
    """Suffixes as right-padded batches on a batch copy of the prefix cache."""
    model, tok, dev = lm.model, lm.tokenizer, lm.device
    cache_kw = _cache_kwarg(model)
    rows = sorted(rows, key=lambda r: -r.length)
    for b0 in range(0, len(rows), batch_size):
        chunk = rows[b0:b0 + batch_size]
        S = max(r.length for r in chunk) - P
        ids = torch.zeros(len(chunk), S, dtype=torch.long)
        for b, r in enumerate(chunk):
            ids[b, :r.length - P] = torch.tensor(r.inp[P:], dtype=torch.long)
        keep = sorted({q - P for r in chunk for q in range(r.first_needed, r.length)})
        col = {q: k for k, q in enumerate(keep)}
        sctx = _context(chunk, tok, spans, width=P + S) if steering is not None else None
        res = _forward(model, steering, sctx, input_ids=ids.to(dev), use_cache=True,
                       **{cache_kw: _batch_cache(cache, len(chunk))},
                       logits_to_keep=torch.tensor(keep, dtype=torch.long, device=dev))
        logp = F.log_softmax(res.logits, dim=-1, dtype=lm.softmax_dtype)
        for b, r in enumerate(chunk):
            _score_row(lm, r, requests, out, logp[b], lambda q: col[q - P])


def _run_packed(lm: Any, rows: list[Row], P: int, cache: Any, requests: Sequence[Request],
                out: list[Answer | None], steering: Any, spans: Sequence[str], limit: int) -> None:
    """Suffixes packed end to end in one row per forward (:mod:`lm_eval_values.model.prefix_packing`);
    ``cache`` None: a single forward runs the prefix and every suffix (all rows fit one pack)."""
    model, tok, dev = lm.model, lm.tokenizer, lm.device
    cache_kw = _cache_kwarg(model)
    for chunk in pack_rows(rows, P, limit):
        pack = build_pack(chunk, P, model.dtype, dev, with_prefix=cache is None)
        sctx = None
        if steering is not None:
            sctx = pack_context(_context(chunk, tok, spans), [r.length for r in chunk], P)
        kw = {"use_cache": False} if cache is None else {"use_cache": True, cache_kw: copy.deepcopy(cache)}
        res = _forward(model, steering, sctx, input_ids=pack.input_ids, position_ids=pack.position_ids,
                       attention_mask=pack.attention_mask, logits_to_keep=pack.keep, **kw)
        logp = F.log_softmax(res.logits[0], dim=-1, dtype=lm.softmax_dtype)
        for b, r in enumerate(chunk):
            _score_row(lm, r, requests, out, logp, lambda q, b=b: pack.logit_row(b, q, P))


def _run_group(lm: Any, group: Group, requests: Sequence[Request], out: list[Answer | None], steering: Any,
               spans: Sequence[str], batch_size: int, pack_tokens: int) -> None:
    """The prefix once and the suffixes: one packed forward for both when the rows fit one pack; else a prefix
    forward, then packed suffixes (or right-padded batches where packing does not apply); fills ``out``."""
    model, tok, dev = lm.model, lm.tokenizer, lm.device
    P = group.prefix_len
    suffixes = [r.length - P for r in group.rows]
    limit = packing_limit(model, P, pack_tokens) if pack_tokens > 0 else 0
    if limit and sum(suffixes) <= limit:
        _run_packed(lm, group.rows, P, None, requests, out, steering, spans, limit)
        return
    first = group.rows[0]
    prefix_ids = torch.tensor([first.inp[:P]], dtype=torch.long, device=dev)
    pctx = _context([first], tok, spans) if steering is not None else None
    pre = _forward(model, steering, pctx, input_ids=prefix_ids, use_cache=True, logits_to_keep=1)
    if limit >= max(suffixes):
        _run_packed(lm, group.rows, P, _output_cache(pre), requests, out, steering, spans, limit)
    else:
        _run_batched(lm, group.rows, P, _output_cache(pre), requests, out, steering, spans, batch_size)


def loglikelihood_tokens(lm: Any, requests: Sequence[Request], fallback: Callable[[list[Request]], list[Answer]],
                         compiled: Any = None, receipt: Any = None, min_prefix: int = DEFAULT_MIN_PREFIX,
                         batch_size: int | None = None, pack_tokens: int = DEFAULT_PACK_TOKENS) -> list[Answer]:
    """Score ``requests`` (lm-eval's ``(req_str, context_enc, continuation_enc)``) with prefix reuse.

    Args:
        lm: an lm-eval HFLM (``model``, ``tokenizer``, ``device``, ``max_length``, ``softmax_dtype``,
            ``cache_hook``, ``batch_size``).
        requests: tokenised log-likelihood requests.
        fallback: the plain scorer, called once with the requests this path does not take.
        compiled: a :class:`steering_hooks.CompiledSpec` (None / empty = no steering).
        receipt: the receipt to accumulate into (steering only).
        min_prefix: the shortest shared prefix worth a separate prefix forward.
        batch_size: suffix batch size of the batched path (default: the model's batch size, 16 when ``auto``).
        pack_tokens: most suffix tokens per packed forward (0 = never pack; see
            :mod:`lm_eval_values.model.prefix_packing`).

    Returns:
        ``(log-likelihood, is_greedy)`` per request, in request order.
    """
    steer = bool(compiled)
    rows, plain = build_rows(requests, int(lm.max_length), split_key=steer and compiled.split_dependent)
    groups, left = group_rows(rows, max(int(min_prefix), 1))
    spans = compiled.span_texts if steer else []
    if steer:
        kept = []
        for g in groups:
            g.prefix_len = steering_safe_prefix(g, compiled, lm.tokenizer)
            (kept.append(g) if g.prefix_len >= max(int(min_prefix), 1) else left.extend(g.rows))
        groups = kept
    for r in left:
        plain.extend(r.requests)
    if batch_size is None:
        bs = lm.batch_size
        batch_size = int(bs) if isinstance(bs, int) or (isinstance(bs, str) and bs.isdigit()) else DEFAULT_BATCH
    out: list[Answer | None] = [None] * len(requests)
    pack = int(pack_tokens) if packable_spec(compiled) else 0
    if groups:
        with torch.no_grad():
            if steer:
                with attach(lm.model, compiled, tokenizer=lm.tokenizer, receipt=receipt) as steering:
                    for g in groups:
                        _run_group(lm, g, requests, out, steering, spans, max(batch_size, 1), pack)
            else:
                for g in groups:
                    _run_group(lm, g, requests, out, None, spans, max(batch_size, 1), pack)
    if plain:
        plain = sorted(plain)
        for i, ans in zip(plain, fallback([requests[i] for i in plain]), strict=True):
            out[i] = ans
    return out  # type: ignore[return-value]


def reuse_stats(requests: Sequence[Request], max_length: int = 1 << 30,
                min_prefix: int = DEFAULT_MIN_PREFIX) -> dict[str, int]:
    """Forward-token counts for ``requests`` (no steering).

    ``request_tokens``: every request run alone; ``hf_tokens``: lm-eval's HFLM, which runs each
    distinct ``context + continuation[:-1]`` once; ``reuse_tokens``: this module (prefix once per
    group plus every row's suffix).
    """
    rows, plain = build_rows(requests, max_length, split_key=False)
    groups, left = group_rows(rows, min_prefix)
    request_tokens = sum(len(r[1]) + len(r[2]) - 1 for r in requests)
    plain_rows = {tuple(requests[i][1] + requests[i][2][:-1]) for i in plain}
    hf_tokens = sum(r.length for r in rows) + sum(len(t) for t in plain_rows)
    reuse = sum(g.prefix_len + sum(r.length - g.prefix_len for r in g.rows) for g in groups)
    reuse += sum(r.length for r in left) + sum(len(t) for t in plain_rows)
    return {"requests": len(requests), "rows": len(rows), "groups": len(groups), "request_tokens": request_tokens,
            "hf_tokens": hf_tokens, "reuse_tokens": reuse}
