"""Offline text corpus for training SAEs on a local model (no hub, no downloads).

The corpus is built only from this project's own texts and from the model itself:

* ``roles``: synthetic roles from :func:`lm_eval_values.model.roles.generate_roles`, rendered with
  every template (``trait``, ``bio``, ``system``);
* ``items``: the project's Schwartz item bank (:func:`lm_eval_values.values.inventory.schwartz_items`,
  statements and questions) and, when a local copy is given, ValueBench questions;
* ``definitions``: the value definitions (:data:`lm_eval_values.values.definitions.VALUE_DEFINITIONS`)
  as plain sentences and as the study's "inclined / disinclined" prompts, plus ValueBench
  definitions when a local copy is given;
* ``prompts``: full instruction prompts in the shape the value tasks use (role in the system
  turn, "Answer the Question according to your values. ...", the question, ``Answer:``),
  rendered with the model's chat template when it has one: these are the contexts an SAE is
  later applied to;
* ``samples``: text sampled from the model itself (seeded ``torch.Generator``) continuing
  a subset of those prompts.

Everything is deterministic for a given :class:`CorpusConfig` and tokenizer/model.
:func:`pack_tokens` turns the documents into fixed-length rows (``[BOS] + tokens``) ready for
sae-lens (an ``input_ids`` column); :func:`corpus_manifest` describes what went in.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from lm_eval_values.model.roles import generate_roles
from lm_eval_values.values.definitions import VALUE_DEFINITIONS, definition_prompt
from lm_eval_values.values.inventory import schwartz_items
from lm_eval_values.values.make_tasks import YESNO_INSTRUCTION

#: The instruction of the value tasks (``tasks/schwartz/_yesno_template.yaml``).
INSTRUCTION = YESNO_INSTRUCTION
#: Answer prefix the value tasks put after the question.
GEN_PREFIX = "Answer:"


@dataclass(frozen=True)
class CorpusDoc:
    """One document of the corpus: where it came from and its text."""

    source: str  # roles | items | definitions | prompts | samples
    text: str


@dataclass(frozen=True)
class CorpusConfig:
    """What goes into the offline corpus.

    Attributes:
        seed: seed for role generation, prompt assembly and sampling.
        n_roles: number of synthetic roles (train split of the generator).
        n_prompts: number of instruction prompts (role x question combinations).
        n_samples: number of prompts the model continues by sampling (0 = none).
        sample_tokens: new tokens per sample.
        sample_batch: prompts per sampling batch.
        temperature: sampling temperature.
        max_items: keep at most this many item-bank items (None = all).
        valuebench: optional local folder with ValueBench ``value_orientation.csv`` /
            ``value_definition.csv`` (read if present; nothing is downloaded).
    """

    seed: int = 0
    n_roles: int = 120
    n_prompts: int = 400
    n_samples: int = 48
    sample_tokens: int = 64
    sample_batch: int = 16
    temperature: float = 1.0
    max_items: int | None = None
    valuebench: str | None = None


# ----------------------------------------------------------------------------- project texts
def value_definitions() -> dict[str, str]:
    """Value name -> definition (the project's Schwartz definitions)."""
    return dict(VALUE_DEFINITIONS)


def _items() -> list[Any]:
    return list(schwartz_items())


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


def _valuebench_texts(folder: str | None) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(questions, statements, (value, definition)) from a local ValueBench copy, if any."""
    if not folder:
        return [], [], []
    root = Path(folder).expanduser()
    questions: list[str] = []
    statements: list[str] = []
    defs: list[tuple[str, str]] = []
    orient = root / "value_orientation.csv"
    if orient.is_file():
        for r in _read_csv(orient):
            if (r.get("question") or "").strip():
                questions.append(r["question"].strip())
            if (r.get("item") or "").strip():
                statements.append(r["item"].strip())
    dfile = root / "value_definition.csv"
    if dfile.is_file():
        for r in _read_csv(dfile):
            v, d = (r.get("value") or "").strip(), (r.get("definition") or "").strip()
            if v and d:
                defs.append((v, d))
    return questions, statements, defs


def chat_prompt(tokenizer: Any, question: str, role_text: str = "", instruction: str = INSTRUCTION,
                gen_prefix: str = GEN_PREFIX) -> str:
    """An instruction prompt in the shape of the value tasks.

    The role (if any) and the instruction form the system turn (role first, blank line), the
    question the user turn, and ``gen_prefix`` opens the assistant turn. Without a chat
    template the parts are joined with blank lines.
    """
    system = f"{role_text}\n\n{instruction}" if role_text else instruction
    user = f"Question: {question}"
    if getattr(tokenizer, "chat_template", None):
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return f"{text}{gen_prefix}"
    return f"{system}\n\n{user}\n{gen_prefix}"


def project_documents(cfg: CorpusConfig, tokenizer: Any) -> list[CorpusDoc]:
    """All non-sampled documents (roles, items, definitions, prompts), in a fixed order."""
    rng = random.Random(f"lm-eval-values-corpus|{cfg.seed}")
    docs: list[CorpusDoc] = []
    role_texts: list[str] = []
    for template in ("trait", "bio", "system"):
        for role in generate_roles(n_train=cfg.n_roles, n_test=0, seed=cfg.seed, template=template):
            role_texts.append(role.text)
            docs.append(CorpusDoc("roles", role.text))

    items = _items()
    if cfg.max_items is not None:
        items = items[: max(0, cfg.max_items)]
    questions = [it.question for it in items]
    for it in items:
        docs.append(CorpusDoc("items", it.statement))
        docs.append(CorpusDoc("items", it.question))
    vb_q, vb_s, vb_defs = _valuebench_texts(cfg.valuebench)
    docs += [CorpusDoc("items", t) for t in vb_s + vb_q]
    questions += vb_q

    defs = value_definitions()
    hints: list[str] = []
    for value, definition in list(defs.items()) + vb_defs:
        docs.append(CorpusDoc("definitions", f"{value}: {definition}"))
        for direction in ("inclined", "disinclined"):
            hint = definition_prompt(value, direction, definition)
            hints.append(hint)
            docs.append(CorpusDoc("definitions", hint))

    if not questions:  # no item bank: a few generic questions keep the prompts meaningful
        questions = [f"Should I care about {v.lower()}?" for v in (defs or {"my values": ""})]
    hint_pool = [""] + role_texts + hints
    for _ in range(cfg.n_prompts):
        q = rng.choice(questions)
        hint = rng.choice(hint_pool)
        docs.append(CorpusDoc("prompts", chat_prompt(tokenizer, q, hint)))
    return docs


# ----------------------------------------------------------------------------- model samples
def _cache_kwarg(model: Any) -> str:
    """Name of the KV-cache argument/output: ``cache`` (newer transformers) or ``past_key_values``."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def sample_documents(model: Any, tokenizer: Any, prompts: Sequence[str], cfg: CorpusConfig,
                     progress: bool = False) -> list[CorpusDoc]:
    """Continue ``cfg.n_samples`` of ``prompts`` by sampling from the model (seeded).

    Returns prompt + continuation as one document each (the continuation is what the model
    itself writes after the instruction prompts). ``progress``: a bar with an ETA on stderr.
    """
    import torch
    from tqdm.auto import tqdm

    if cfg.n_samples <= 0 or not prompts or cfg.sample_tokens <= 0:
        return []
    rng = random.Random(f"lm-eval-values-samples|{cfg.seed}")
    chosen = [prompts[rng.randrange(len(prompts))] for _ in range(cfg.n_samples)]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    gen = torch.Generator().manual_seed(cfg.seed)
    out: list[CorpusDoc] = []
    device = next(model.parameters()).device
    bar = tqdm(total=len(chosen), unit="sample", desc="corpus: sampling the model", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    for start in range(0, len(chosen), max(1, cfg.sample_batch)):
        batch = chosen[start:start + max(1, cfg.sample_batch)]
        enc = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in batch]
        width = max(len(e) for e in enc)
        ids = torch.full((len(enc), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(enc), width), dtype=torch.long)
        for i, e in enumerate(enc):  # left padding
            ids[i, width - len(e):] = torch.tensor(e, dtype=torch.long)
            mask[i, width - len(e):] = 1
        ids, mask = ids.to(device), mask.to(device)
        new: list[list[int]] = [[] for _ in batch]
        done = torch.zeros(len(batch), dtype=torch.bool)
        past = None
        cache_kw = _cache_kwarg(model)
        last_only = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cur_ids, cur_pos = ids, pos
        with torch.no_grad():
            for _ in range(cfg.sample_tokens):
                res = model(input_ids=cur_ids, attention_mask=mask, position_ids=cur_pos, use_cache=True, **last_only,
                            **({cache_kw: past} if past is not None else {}))
                past = getattr(res, cache_kw, None)
                logits = res.logits[:, -1, :].float().cpu() / max(cfg.temperature, 1e-5)
                probs = torch.softmax(logits, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen).squeeze(1)
                for i, t in enumerate(nxt.tolist()):
                    if not done[i]:
                        new[i].append(t)
                        if t == tokenizer.eos_token_id:
                            done[i] = True
                if bool(done.all()):
                    break
                cur_ids = nxt.view(-1, 1).to(device)
                mask = torch.cat([mask, torch.ones((len(batch), 1), dtype=mask.dtype, device=device)], dim=1)
                cur_pos = cur_pos[:, -1:] + 1
        for prompt, toks in zip(batch, new):
            out.append(CorpusDoc("samples", prompt + tokenizer.decode(toks, skip_special_tokens=False)))
        bar.update(len(batch))
    bar.close()
    return out


# ----------------------------------------------------------------------------- packing
def split_documents(docs: Sequence[CorpusDoc], eval_fraction: float, seed: int) -> tuple[list[CorpusDoc], list[CorpusDoc]]:
    """Shuffle documents (seeded) and hold out ``eval_fraction`` of them (at least one)."""
    order = list(range(len(docs)))
    random.Random(f"lm-eval-values-split|{seed}").shuffle(order)
    n_eval = max(1, int(round(eval_fraction * len(docs)))) if eval_fraction > 0 and len(docs) > 1 else 0
    held = set(order[:n_eval])
    train = [docs[i] for i in order if i not in held]
    evals = [docs[i] for i in order if i in held]
    return train, evals


def pack_tokens(docs: Iterable[CorpusDoc], tokenizer: Any, context_size: int) -> list[list[int]]:
    """Concatenate documents (EOS-separated) into rows of ``context_size`` tokens.

    Each row starts with the tokenizer's BOS token (or EOS when there is none), followed by
    ``context_size - 1`` corpus tokens; the first position of a transformer carries unusual,
    very large activations, so trainers exclude it by token id. A last partial row is
    dropped unless it is the only one.
    """
    if context_size < 2:
        raise ValueError("context_size must be at least 2")
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    sep = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else bos
    stream: list[int] = []
    for d in docs:
        stream += tokenizer(d.text, add_special_tokens=False)["input_ids"]
        stream.append(sep)
    body = context_size - 1
    rows = [[bos] + stream[i:i + body] for i in range(0, len(stream) - body + 1, body)]
    if not rows and stream:
        pad = stream + [sep] * (body - len(stream))
        rows = [[bos] + pad[:body]]
    return rows


def corpus_manifest(docs: Sequence[CorpusDoc], cfg: CorpusConfig) -> dict[str, Any]:
    """Counts per source and a SHA-256 of all texts (for the record next to the SAE)."""
    h = hashlib.sha256()
    counts: dict[str, int] = {}
    chars: dict[str, int] = {}
    for d in docs:
        h.update(d.source.encode() + b"\0" + d.text.encode("utf-8") + b"\0")
        counts[d.source] = counts.get(d.source, 0) + 1
        chars[d.source] = chars.get(d.source, 0) + len(d.text)
    return {"config": asdict(cfg), "documents": counts, "characters": chars, "sha256": h.hexdigest()}
