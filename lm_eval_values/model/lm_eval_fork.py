"""Copied lm-eval internals, isolated here and labelled with the lm-eval version they mirror.

:func:`steered_loglikelihood_tokens` is ``HFLM._loglikelihood_tokens`` of **lm-eval 0.4.13**
(``lm_eval/models/huggingface.py``) with one addition: before each forward pass it sets the batch's
:class:`steering_hooks.BatchContext` (which columns are prompt, which are the scored continuation,
where the spans are), so position-scoped steering knows where it is. Ordering, batching, padding and
the sharing of one-token continuations are lm-eval's, so unsteered numbers are identical. When
lm-eval changes that method, compare it with this copy (``tests/model/test_values_hf.py`` checks that a
zero-coefficient spec gives lm-eval's ``hf`` numbers and that steering equals lm-eval's ``steered`` model).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lm_eval.models.utils import Collator
from lm_eval.models.utils_hf import pad_and_concat
from tqdm import tqdm

from steering_hooks import BatchContext, CompiledSpec
from steering_hooks.context import find_span_positions

#: the lm-eval release whose ``HFLM._loglikelihood_tokens`` this module mirrors
MIRRORS_LM_EVAL = "0.4.13"


def steered_loglikelihood_tokens(lm: Any, compiled: CompiledSpec, requests: list[Any], disable_tqdm: bool = False,
                                 override_bs: int | None = None) -> list[tuple[float, bool]]:
    """``HFLM._loglikelihood_tokens`` (lm-eval 0.4.13) for a ``values_hf`` model ``lm`` steered by ``compiled``.

    Each batch sets ``lm._pending_context`` (read by ``lm._model_call``). Sharing of one-token
    continuations is turned off only when a position scope depends on the context/continuation
    split and two requests with the same tokens split them differently.
    """
    spans = compiled.span_texts
    res: list[tuple[float, bool]] = []

    def _collate(req: Any) -> tuple[int, tuple[int, ...]]:
        toks = req[1] + req[2]
        return -len(toks), tuple(toks)

    def _lookup_one_token_cont(req: Any) -> list[int]:
        return req[-2] + req[-1][:-1]

    group = bool(lm.logits_cache)
    if group and compiled.split_dependent:
        seen: dict[tuple[int, ...], int] = {}
        for r in requests:
            if seen.setdefault(tuple(r[1] + r[2][:-1]), len(r[1])) != len(r[1]):
                group = False
                break
    re_ord = Collator(requests, sort_fn=_collate, group_by="contexts" if group else None,
                      group_fn=_lookup_one_token_cont)
    n_reordered = len(re_ord)
    batch_size = (lm.batch_size if lm.batch_size != "auto"
                  else override_bs if override_bs is not None else 0)
    batch_fn = (lm._batch_scheduler if lm.batch_size == "auto" and n_reordered > 0 and not override_bs
                else None)
    if batch_fn is not None:
        lm.batch_sizes = {}
    chunks = re_ord.get_batched(n=batch_size, batch_fn=batch_fn)
    pbar = tqdm(total=len(requests), disable=(disable_tqdm or (lm.rank != 0)),
                desc="Running loglikelihood requests")
    for chunk in chunks:
        inps, cont_toks_list, inplens, n_ctxs = [], [], [], []
        span_rows: dict[str, list[list[int]]] = {s: [] for s in spans}
        for request_str, context_enc, continuation_enc in chunk:
            assert len(context_enc) > 0 and len(continuation_enc) > 0
            assert len(continuation_enc) <= lm.max_length
            full = context_enc + continuation_enc
            kept = full[-(lm.max_length + 1):]
            n_trunc = len(full) - len(kept)
            inp = torch.tensor(kept[:-1], dtype=torch.long, device=lm.device)
            inps.append(inp)
            inplens.append(inp.shape[0])
            cont_toks_list.append(continuation_enc)
            n_ctxs.append(max(len(context_enc) - n_trunc, 0))
            text = request_str[0].rstrip() if request_str and isinstance(request_str[0], str) else None
            for s in spans:
                pos = find_span_positions(lm.tokenizer, context_enc, s, text)
                span_rows[s].append([p - n_trunc for p in pos if p >= n_trunc])
        padding_len_inp = max(inplens)
        batched_inps = pad_and_concat(padding_len_inp, inps, padding_side="right")
        lm._pending_context = BatchContext.from_rows(padding_len_inp, inplens, n_ctxs, span_rows)
        multi_logits = F.log_softmax(lm._model_call(batched_inps), dim=-1, dtype=lm.softmax_dtype)
        for (request_str, ctx_tokens, _), logits, inplen, cont_toks in zip(
                chunk, multi_logits, inplens, cont_toks_list, strict=True):
            contlen = len(cont_toks)
            ctx_len = inplen + (logits.shape[0] - padding_len_inp)
            logits = lm._select_cont_toks(logits, contlen=contlen, inplen=ctx_len).unsqueeze(0)
            greedy_tokens = logits.argmax(dim=-1)
            for request_str, cont_toks, logits in re_ord.get_cache(  # noqa: B020, PLW2901
                    req_str=request_str, cxt_toks=ctx_tokens, cont_toks=cont_toks, logits=logits):
                cont_toks = torch.tensor(cont_toks, dtype=torch.long, device=lm.device).unsqueeze(0)
                max_equal = (greedy_tokens[:, -cont_toks.shape[1]:] == cont_toks).all()
                logits = torch.gather(logits, 2, cont_toks.unsqueeze(-1)).squeeze(-1)
                answer = (float(logits.sum()), bool(max_equal))
                res.append(answer)
                if request_str is not None:
                    lm.cache_hook.add_partial("loglikelihood", request_str, answer)
                pbar.update(1)
    pbar.close()
    return re_ord.get_original(res)
