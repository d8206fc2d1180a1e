"""Checks of a sweep against the model that need only its config and tokenizer, never its weights.

:func:`check_against_model` runs inside ``lm-eval-values check`` and therefore before ``sweep`` and
``study`` load any weights (seconds instead of the 25-60 s of a model load):

* every steering vector file is read (it is small) and its width compared with the model's hidden
  size; a corrupt, non-finite or absurd vector is reported here too (:mod:`steering_hooks.sources`);
* every role, with its value-definition prompt, is tokenised with the model's own tokenizer
  (``tokenizer.json``, read by the ``tokenizers`` library) and compared with the context length
  of ``config.json``; a role that leaves no room for the questions is refused instead of running for
  minutes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lm_eval_values.model.refs import ModelFacts
from lm_eval_values.sweep.check_report import CheckReport
from steering_hooks.errors import SpecError
from steering_hooks.sources import load_vector

#: tokens kept free after the role for the instruction, the question and the answer
QUESTION_TOKENS = 64
#: roles longer than this many characters are refused even when no tokenizer is at hand
MAX_ROLE_CHARS = 1_000_000
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")


def model_folder(pretrained: str, alias_folder: Path | None) -> Path | None:
    """The local folder holding the model's config (a local path, or a fetched embedded model)."""
    if alias_folder is not None and (alias_folder / "config.json").is_file():
        return alias_folder
    p = Path(pretrained)
    return p if (p / "config.json").is_file() else None


def context_length(folder: Path | None) -> int | None:
    """The model's context length from ``config.json`` (None if unknown)."""
    if folder is None:
        return None
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cfgs = [raw, raw.get("text_config") or {}] if isinstance(raw, dict) else []
    for cfg in cfgs:
        for key in _CONTEXT_KEYS:
            if isinstance(cfg.get(key), int) and cfg[key] > 0:
                return int(cfg[key])
    return None


def _tokenizer(folder: Path | None) -> Any:
    if folder is None or not (folder / "tokenizer.json").is_file():
        return None
    try:
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # noqa: BLE001 - an unreadable tokenizer only means the lengths are not checked
        return None


def _check_vectors(report: CheckReport, sweep: Any, facts: ModelFacts | None, prefix: str, shown: str) -> None:
    seen: set[tuple[str, str | None]] = set()
    for s in sweep.steering:
        ivs = (s.steer or {}).get("interventions", []) if isinstance(s.steer, dict) else \
            getattr(s.steer, "interventions", []) or []
        for k, iv in enumerate(ivs):
            vec = iv.get("vector") if isinstance(iv, dict) else getattr(iv, "vector", None)
            key = iv.get("vector_key") if isinstance(iv, dict) else getattr(iv, "vector_key", None)
            if vec is None or (isinstance(vec, str) and (vec, key) in seen):
                continue
            where = f"{prefix}steering[{s.id}]" + (f".interventions[{k}]" if s.kind == "spec" else "") + ".vector"
            if isinstance(vec, str):
                seen.add((vec, key))
            try:
                direction, _ = load_vector(vec, key, where)
            except SpecError as exc:
                report.add("error", exc.field, exc.problem, exc.fix)
                continue
            if facts is not None and direction.shape[0] != facts.d_model:
                report.add("error", where, f"vector has {direction.shape[0]} dims, the hidden size of {shown} is "
                           f"{facts.d_model}", "build the vector on this model")


def _check_roles(report: CheckReport, sweep: Any, folder: Path | None, prefix: str, shown: str) -> None:
    prompts: dict[str, str] = {}
    for c in sweep.conditions():
        text = c.role_prompt
        if len(text) > len(prompts.get(c.role.id, "")):
            prompts[c.role.id] = text
    for rid, text in prompts.items():
        if len(text) > MAX_ROLE_CHARS:
            report.add("error", f"{prefix}roles", f"role {rid!r} has {len(text):,} characters, more than the "
                       f"{MAX_ROLE_CHARS:,} a role may have", "shorten the role text")
            return
    ctx = context_length(folder)
    tok = _tokenizer(folder) if ctx else None
    if tok is None or ctx is None:
        return
    longest = sorted(prompts.items(), key=lambda kv: -len(kv[1]))[:5]  # token counts follow lengths closely
    for rid, text in longest:
        n = len(tok.encode(text, add_special_tokens=False).ids)
        if n + QUESTION_TOKENS > ctx:
            report.add("error", f"{prefix}roles", f"role {rid!r} has {n:,} tokens; with a question it does not fit "
                       f"the {ctx:,}-token context of {shown}", f"shorten the role to at most "
                       f"{max(ctx - QUESTION_TOKENS, 0):,} tokens")
            return


def check_against_model(report: CheckReport, sweep: Any, pretrained: str, facts: ModelFacts | None,
                        alias_folder: Path | None, prefix: str, shown: str) -> None:
    """Add the errors of the module docstring to ``report`` (no weights are read)."""
    _check_vectors(report, sweep, facts, prefix, shown)
    _check_roles(report, sweep, model_folder(pretrained, alias_folder), prefix, shown)
