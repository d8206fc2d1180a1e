"""``values_hf``: lm-eval's Hugging Face model with role prompts and steering.

A subclass of lm-eval's :class:`~lm_eval.models.huggingface.HFLM` (so every HF model arg,
``--apply_chat_template`` and ``--system_instruction`` keep working) registered as
``values_hf``. Extra model_args::

    steer=<spec .yaml/.json or lm-eval steered .pt>
    sae=<dir or release::sae_id>,feature=<int>,coeff=<float>,op=add|sae_clamp|ablate|clamp_projection,
        layer=<int or hook name>,positions=all|prompt|generated|span:"<text>"|last:<k>,value=<float>,
        vector=<file>            (shorthand for a one-intervention spec)
    role=<text> | role_file=<path>,role_id=<id>
    role_mode=system|prefix|none
    prefix_reuse=true|false  (default true: shared-prefix KV reuse, see lm_eval_values.model.prefix_reuse)
    prefix_min_tokens=<int>  (default 16: shortest shared prefix worth reusing)

Without ``dtype=`` the dtype is :func:`lm_eval_values.core.dtypes.default_dtype` of the device
(CUDA bf16/fp16; CPU bf16 only with native bf16 instructions, else float32).

Roles. ``system`` (default): with a chat template the role is the system turn (placed before
any ``--system_instruction``, separated by a blank line); without one it is a prefix
``<role>\\n\\n`` in front of the prompt. ``prefix``: always a prefix (with a chat template: in
front of the first user message). ``none``: the role is recorded but not shown to the model.
Roles are not applied to ``loglikelihood_rolling`` (perplexity) requests.

Steering follows :mod:`steering_hooks`. Before each forward pass this model sets the
per-batch :class:`steering_hooks.BatchContext`:

* log-likelihood requests: the context tokens are ``prompt``, the scored continuation tokens
  are ``generated`` (never steered by ``prompt``/``span``/``last`` scopes); spans are located
  in the context string; right padding is excluded;
* generation: the left-padded prompt is the prefill (``prompt``); decode steps are
  ``generated``.

The condition (role id, role text and its sha256, spec and its hash, the digests of the
steering files, receipt of the last evaluation, and ``condition_hash`` over all of them) is
returned by :meth:`ValuesHFLM.condition_record` and merged into lm-eval's
``results["config"]["values_condition"]`` through :meth:`get_model_info`.

Logged samples (``--log_samples``). Requests are changed in place, so lm-eval's logged
``arguments`` are what the model actually saw: ``arg_0`` is the prompt with the role (prefix or
chat template), and a last argument ``{"values_condition_hash": ..., "role_id": ...}`` names the
condition, so a samples file separated from its results file still says which condition
produced it (``prompt_hash`` is the hash of the prompt with the role).

Model arguments and steering are checked BEFORE the weights load
(:mod:`lm_eval_values.model.preload`): an unknown key (``coef=2``: "did you mean coeff?"), a
layer beyond the model (read from its ``config.json``) or a missing vector file is one line.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import torch
from lm_eval.models.huggingface import HFLM

from steering_hooks import BatchContext, CompiledSpec, Receipt, SpecError, attach, compile_spec, spec_from_obj
from steering_hooks.spec import SteeringSpec

from lm_eval_values.core.dtypes import default_dtype
from lm_eval_values.core.hashing import sha256_hex
from lm_eval_values.integration.embedded_models import is_alias, resolve_model_path
from lm_eval_values.model.condition_identity import condition_hash, steering_file_digests
from lm_eval_values.model.lm_eval_fork import steered_loglikelihood_tokens
from lm_eval_values.model.preload import check_before_load
from lm_eval_values.model.prefix_reuse import loglikelihood_tokens
from lm_eval_values.model.roles import load_roles

log = logging.getLogger(__name__)

ROLE_MODES = ("system", "prefix", "none")
RECORD_VERSION = 2
#: the key of the condition tag appended to every request's logged arguments
SAMPLE_TAG_KEY = "values_condition_hash"
_SHORTHAND = ("sae", "feature", "coeff", "op", "layer", "positions", "value", "vector", "multiply", "scale")


def shorthand_spec(**kw: Any) -> dict[str, Any] | None:
    """A one-intervention spec dict from the ``sae=,feature=,coeff=,op=,layer=,positions=`` shorthand."""
    given = {k: v for k, v in kw.items() if v is not None}
    if not given:
        return None
    iv: dict[str, Any] = {"op": given.pop("op", "add")}
    iv.update(given)
    return {"name": "model_args", "interventions": [iv]}


class ValuesHFLM(HFLM):
    """HFLM with swappable role prompts and steering (see the module docstring)."""

    _compiled: CompiledSpec | None = None
    _pending_context: BatchContext | None = None

    def __init__(self, pretrained: Any = None, steer: Any = None, role: str | None = None,
                 role_file: str | None = None, role_id: str | None = None, role_mode: str = "system",
                 sae: str | None = None, feature: int | None = None, coeff: float | None = None,
                 op: str | None = None, layer: Any = None, positions: str | None = None, value: float | None = None,
                 vector: str | None = None, multiply: float | None = None, scale: str | None = None,
                 prefix_reuse: Any = True, prefix_min_tokens: int = 16, **kwargs: Any) -> None:
        # parse and check the spec and the model arguments BEFORE loading weights, so mistakes fail fast
        pretrained, spec = _checked_arguments(
            pretrained, steer, role_mode, kwargs, sae=sae, feature=feature, coeff=coeff, op=op, layer=layer,
            positions=positions, value=value, vector=vector, multiply=multiply, scale=scale)
        if kwargs.get("device") is None:  # HFLM defaults to "cuda" even on CPU-only machines
            kwargs["device"] = "cuda" if torch.cuda.is_available() else "cpu"
        if isinstance(pretrained, str) and kwargs.get("dtype") is None:
            kwargs["dtype"] = default_dtype(kwargs["device"])
        super().__init__(pretrained=pretrained, **kwargs)
        self.prefix_reuse = str(prefix_reuse).strip().lower() not in ("false", "0", "no", "off", "none")
        self.prefix_min_tokens = int(prefix_min_tokens)
        self.role_mode = role_mode
        self.role_file = role_file
        self._roles: dict[str, str] | None = None
        self._role_text: str | None = None
        self._role_id: str | None = None
        self._spec: SteeringSpec = SteeringSpec()
        self._compiled: CompiledSpec | None = None
        self._receipt: Receipt | None = None
        self._pending_context: BatchContext | None = None
        self._chat_rendered: set[str] = set()
        self._warned_system = False
        self._steer_files: dict[str, str] = {}
        self._condition_hash = ""
        self.set_condition(role=role, role_id=role_id, steer=spec)

    # ------------------------------------------------------------------ conditions
    def _load_roles(self) -> dict[str, str]:
        if self._roles is None:
            if not self.role_file:
                raise SpecError("role_id", "role_id needs role_file=", "add role_file=<roles file> or give role=<text>")
            self._roles = {str(r.id): str(r.text) for r in load_roles(self.role_file)}
        return self._roles

    def set_condition(self, role: str | None = None, role_id: str | None = None, steer: Any = None) -> None:
        """Set the whole condition (role and steering) on the loaded model, without reloading weights.

        Args:
            role: role text (None = no role unless ``role_id`` names one in ``role_file``).
            role_id: id of a role in ``role_file`` (or a label for ``role``).
            steer: a :class:`steering_hooks.SteeringSpec`, dict, list, spec/.pt path or None (no steering).

        The spec is validated against the model here, before any forward pass; the receipt
        is reset.
        """
        if role is None and role_id is not None:
            roles = self._load_roles()
            if str(role_id) not in roles:
                some = ", ".join(sorted(roles)[:5])
                raise SpecError("role_id", f"no role {role_id!r} in {self.role_file}", f"use one of {some}, ...")
            role = roles[str(role_id)]
        spec = spec_from_obj(steer)
        files = steering_file_digests(spec) if spec else {}  # the contents compile_spec reads next
        compiled = compile_spec(self.model, spec) if spec else None
        self._role_text = role if role else None
        self._role_id = None if role_id is None else str(role_id)
        self._spec = spec
        self._compiled = compiled
        self._receipt = Receipt.for_spec(compiled) if compiled else None
        self._chat_rendered = set()
        self._steer_files = files
        self._condition_hash = condition_hash(self._role_text, self.role_mode, spec.to_dict() if spec else None, files)

    @property
    def condition_hash(self) -> str:
        """SHA-256 of the current condition: role, role mode, steering spec and the CONTENTS of its files."""
        return self._condition_hash

    def condition_record(self) -> dict[str, Any]:
        """The current condition, JSON-serialisable (role, steering spec and hash, file digests, last receipt)."""
        role = self._role_text
        return {
            "record_version": RECORD_VERSION,
            "condition_hash": self._condition_hash,
            "role_id": self._role_id,
            "role_sha256": None if role is None else sha256_hex(role),
            "role_text": role,
            "role_mode": self.role_mode,
            "steer": self._spec.to_dict() if self._spec else None,
            "steer_hash": self._spec.spec_hash() if self._spec else None,
            "steer_files": dict(self._steer_files),
            "receipt": self._receipt.to_dict() if self._receipt is not None else None,
        }

    def get_model_info(self) -> dict:
        """lm-eval's model info plus ``values_condition`` (merged into ``results["config"]``)."""
        info = super().get_model_info()
        info["values_condition"] = self.condition_record()
        return info

    # ------------------------------------------------------------------ roles
    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """lm-eval's chat templating with the role inserted (system turn or user prefix)."""
        history = [dict(m) for m in chat_history]
        role = self._role_text if self.role_mode != "none" else None
        if role:
            if self.role_mode == "system" and self._system_ok():
                if history and history[0].get("role") == "system":
                    history[0]["content"] = role + "\n\n" + history[0]["content"]
                else:
                    history.insert(0, {"role": "system", "content": role})
            else:
                idx = next((i for i, m in enumerate(history) if m.get("role") == "user"), None)
                if idx is None:
                    history.insert(0, {"role": "user", "content": role})
                else:
                    history[idx]["content"] = role + "\n\n" + history[idx]["content"]
        out = super().apply_chat_template(history, add_generation_prompt=add_generation_prompt)
        self._chat_rendered.add(out)
        return out

    def _system_ok(self) -> bool:
        """Whether the chat template renders a system turn (else the role becomes a user prefix)."""
        cached = getattr(self, "_system_ok_cached", None)
        if cached is not None:
            return cached
        try:
            marker = "\x00role-probe\x00"
            text = self.tokenizer.apply_chat_template([{"role": "system", "content": marker},
                                                       {"role": "user", "content": "x"}], tokenize=False,
                                                      **getattr(self, "chat_template_args", {}) or {})
            ok = marker in text
        except Exception:  # noqa: BLE001 - templates that reject a system turn
            ok = False
        if not ok and not self._warned_system:
            log.warning("values_hf: the chat template has no system turn; the role is put before the first user message")
            self._warned_system = True
        self._system_ok_cached = ok
        return ok

    def _role_applied(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """Request arguments with the role put in front of a non-chat context."""
        role = self._role_text
        ctx = args[0] if args else None
        if not role or self.role_mode == "none" or not isinstance(ctx, str) or ctx in self._chat_rendered:
            return args
        return (role + "\n\n" + ctx, *args[1:])

    def _show_condition(self, requests: list[Any], with_role: bool) -> list[Any]:
        """Set each request's arguments, IN PLACE, to what the model will see (the role applied).

        lm-eval logs ``req.args`` as the sample's ``arguments``; changing the requests themselves
        (not copies) makes the logged prompt the one the model saw. The original arguments are kept
        on the request, so a request evaluated again is never prefixed twice.
        """
        for req in _unique(requests):
            original = getattr(req, "_values_original_args", None)
            if original is None:
                original = req.args
                req._values_original_args = original
            req.arguments = self._role_applied(original) if with_role else original
        return requests

    def _tag_condition(self, requests: list[Any]) -> None:
        """Append the condition tag to each request's (logged) arguments, after the model has run."""
        tag = {SAMPLE_TAG_KEY: self._condition_hash, "role_id": self._role_id}
        for req in _unique(requests):
            req.arguments = (*req.args, tag)

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        out = super().loglikelihood(self._show_condition(requests, with_role=True), disable_tqdm=disable_tqdm)
        self._tag_condition(requests)
        return out

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        out = super().generate_until(self._show_condition(requests, with_role=True), disable_tqdm=disable_tqdm)
        self._tag_condition(requests)
        return out

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        """lm-eval's perplexity scoring (no role: roles do not apply to rolling requests), condition tagged."""
        out = super().loglikelihood_rolling(self._show_condition(requests, with_role=False), disable_tqdm=disable_tqdm)
        self._tag_condition(requests)
        return out

    # ------------------------------------------------------------------ steering
    def _model_call(self, inps: torch.Tensor, attn_mask: torch.Tensor | None = None,
                    labels: torch.Tensor | None = None) -> torch.Tensor:
        context, self._pending_context = self._pending_context, None
        if not self._compiled:
            return super()._model_call(inps, attn_mask=attn_mask, labels=labels)
        with attach(self.model, self._compiled, tokenizer=self.tokenizer, context=context, receipt=self._receipt):
            return super()._model_call(inps, attn_mask=attn_mask, labels=labels)

    def _model_generate(self, context: torch.Tensor, max_length: int, stop: list[str], **generation_kwargs: Any):
        if not self._compiled:
            return super()._model_generate(context, max_length, stop, **generation_kwargs)
        ctx = BatchContext.from_prompts(context, generation_kwargs.get("attention_mask"), self.tokenizer,
                                        self._compiled.span_texts)
        with attach(self.model, self._compiled, tokenizer=self.tokenizer, context=ctx, receipt=self._receipt):
            return super()._model_generate(context, max_length, stop, **generation_kwargs)

    def _loglikelihood_tokens(self, requests: list[Any], disable_tqdm: bool = False,
                              override_bs: int | None = None) -> list[tuple[float, bool]]:
        """Shared-prefix reuse (:mod:`lm_eval_values.model.prefix_reuse`) when on, else the plain scorer."""
        if getattr(self, "prefix_reuse", False) and self.backend == "causal":
            return loglikelihood_tokens(
                self, requests, compiled=self._compiled, receipt=self._receipt, min_prefix=self.prefix_min_tokens,
                batch_size=override_bs,
                fallback=lambda reqs: self._loglikelihood_tokens_plain(reqs, disable_tqdm=True, override_bs=override_bs))
        return self._loglikelihood_tokens_plain(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)

    def _loglikelihood_tokens_plain(self, requests: list[Any], disable_tqdm: bool = False,
                                    override_bs: int | None = None) -> list[tuple[float, bool]]:
        """HFLM's scorer; with steering active, :func:`~lm_eval_values.model.lm_eval_fork.steered_loglikelihood_tokens`
        (HFLM's loop that also sets each batch's :class:`BatchContext`)."""
        if not self._compiled or self.backend != "causal":
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        return steered_loglikelihood_tokens(self, self._compiled, requests, disable_tqdm=disable_tqdm,
                                            override_bs=override_bs)


def _checked_arguments(pretrained: Any, steer: Any, role_mode: str, rest: dict[str, Any],
                       **shorthand: Any) -> tuple[Any, SteeringSpec]:
    """``(pretrained with aliases resolved, the steering spec)``; every check that needs no weights."""
    if role_mode not in ROLE_MODES:
        raise SpecError("role_mode", f"unknown role mode {role_mode!r}", f"use one of {', '.join(ROLE_MODES)}")
    short = shorthand_spec(**shorthand)
    if short is not None and steer is not None:
        raise SpecError("steer", "give either steer= or the sae=/feature=/coeff= shorthand, not both", None)
    if isinstance(pretrained, str):
        pretrained = _resolve_alias(pretrained)
    spec = spec_from_obj(short if short is not None else steer)
    check_before_load(rest, _own_arguments(), _hflm_arguments(), spec, pretrained)
    return pretrained, spec


def check_model_args(model_args: dict[str, Any]) -> None:
    """Check ``values_hf`` model arguments (names, steering spec, files, layers) without loading anything.

    The console script calls this before lm-eval indexes its tasks, so a mistyped key or a layer
    beyond the model is reported in seconds; :class:`ValuesHFLM` runs the same checks itself.
    """
    params = inspect.signature(ValuesHFLM.__init__).parameters
    named = {k: v for k, v in model_args.items() if k in params and k != "kwargs"}
    rest = {k: v for k, v in model_args.items() if k not in named}
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    shorthand = {k: named.get(k, defaults.get(k)) for k in _SHORTHAND}
    _checked_arguments(named.get("pretrained"), named.get("steer"), named.get("role_mode", "system"), rest,
                       **shorthand)


def _unique(requests: list[Any]) -> list[Any]:
    """Each request once (lm-eval repeats the same object ``repeats`` times)."""
    seen: dict[int, Any] = {}
    for req in requests:
        seen.setdefault(id(req), req)
    return list(seen.values())


def _own_arguments() -> set[str]:
    """``values_hf``'s own model arguments (role, steering, prefix reuse)."""
    return {n for n in inspect.signature(ValuesHFLM.__init__).parameters if n not in ("self", "kwargs", "pretrained")}


#: lm-eval ``HFLM``'s arguments (``pretrained``, ``dtype``, ``batch_size``, ...), read once at import
_HFLM_ARGUMENTS = frozenset(n for n in inspect.signature(HFLM.__init__).parameters if n not in ("self", "kwargs"))


def _hflm_arguments() -> frozenset[str]:
    """lm-eval ``HFLM``'s arguments."""
    return _HFLM_ARGUMENTS


def _resolve_alias(name: str) -> str:
    """Embedded-model aliases (e.g. ``smollm2-135m-instruct``) -> cached model folder."""
    return resolve_model_path(name) if is_alias(name) else name
