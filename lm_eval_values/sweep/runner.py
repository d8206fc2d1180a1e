"""The model of a sweep: loaded once, evaluated under one condition at a time through ``lm_eval.simple_evaluate``."""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any, Iterator

from lm_eval_values.core.errors import UserError
from lm_eval_values.integration.embedded_models import resolve_model_path
from lm_eval_values.integration.registration import register_models
from lm_eval_values.sweep.conditions import Condition
from lm_eval_values.sweep.config import SweepConfig


def default_device(device: str | None) -> str:
    """``device`` or, when unset, ``cuda`` if available else ``cpu``."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class ConditionRunner:
    """A model loaded once, evaluated under one condition at a time."""

    def __init__(self, cfg: SweepConfig, task_manager: Any) -> None:
        import lm_eval.api.registry

        register_models()
        self.cfg = cfg
        self.task_manager = task_manager
        args = dict(cfg.model_args)
        args["pretrained"] = resolve_model_path(str(args["pretrained"]))
        cls = lm_eval.api.registry.get_model(cfg.model)
        self.lm = cls.create_from_arg_obj(args, {"batch_size": cfg.batch_size, "device": default_device(cfg.device)})
        self.has_set_condition = hasattr(self.lm, "set_condition")
        if cfg.model == "values_hf" and not self.has_set_condition:
            raise UserError("model", "this values_hf model has no set_condition()", "update lm-eval-values")

    def check_steering(self, settings: dict[str, Any]) -> None:
        """Compile every steering setting against the loaded model once, before any condition runs.

        Raises:
            UserError: a spec that does not fit the model (layer, feature index, SAE width...).
        """
        if not self.has_set_condition:
            return
        from steering_hooks.errors import SpecError

        try:
            for key, setting in settings.items():
                if setting.steer is not None:
                    self.lm.set_condition(role=None, role_id=None, steer=setting.steer)
        except SpecError as exc:
            raise UserError(f"steering[{setting.id}].{exc.field}", exc.problem, exc.fix) from None
        finally:
            with contextlib.suppress(Exception):
                self.lm.set_condition(role=None, role_id=None, steer=None)

    def run(self, cond: Condition, samples: dict[str, list[int]],
            tasks: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Evaluate ``cond`` on the given doc indices; returns (lm-eval results, model condition record).

        ``tasks`` defaults to the config's task names; pass the leaf tasks of ``samples`` when some
        leaf has no chosen item (lm-eval would otherwise evaluate all of its docs).
        """
        import lm_eval

        cfg = self.cfg
        system_instruction = None
        record: dict[str, Any] = {}
        if self.has_set_condition:
            self.lm.set_condition(role=cond.role_prompt or None, role_id=cond.role.id or None,
                                  steer=cond.steering.steer)
        else:
            system_instruction = cond.role_prompt or None
        results = lm_eval.simple_evaluate(
            model=self.lm, tasks=list(tasks or cfg.tasks), task_manager=self.task_manager, log_samples=True,
            samples=samples, num_fewshot=cfg.num_fewshot, gen_kwargs=cfg.gen_kwargs,
            apply_chat_template=cfg.apply_chat_template, fewshot_as_multiturn=cfg.fewshot_as_multiturn,
            system_instruction=system_instruction, bootstrap_iters=cfg.bootstrap_iters,
            random_seed=cond.seed, numpy_random_seed=cond.seed, torch_random_seed=cond.seed,
            fewshot_random_seed=cond.seed,
        )
        if self.has_set_condition and hasattr(self.lm, "condition_record"):
            record = dict(self.lm.condition_record() or {})  # after the run: the receipt is filled in
        if results is None:  # pragma: no cover - only on non-zero ranks
            raise RuntimeError("simple_evaluate returned no results")
        check_finite_outputs(results, cond)
        return dict(results), record

    def close(self) -> None:
        """Clear any condition left on the model."""
        if self.has_set_condition:
            with contextlib.suppress(Exception):
                self.lm.set_condition(role=None, role_id=None, steer=None)


def _non_finite(x: Any) -> bool:
    """Whether a model output (nested lists of log-likelihoods, flags and texts) holds a NaN or inf."""
    if isinstance(x, float):
        return not math.isfinite(x)
    if isinstance(x, (list, tuple)):
        return any(_non_finite(v) for v in x)
    return False


def check_finite_outputs(results: dict[str, Any], cond: Condition) -> None:
    """Finite in, finite out: refuse a condition whose model outputs (log-likelihoods) are NaN or inf.

    Raised before the condition is written, so no NaN score reaches a results file or the matrix.
    """
    for task, samples in sorted((results.get("samples") or {}).items()):
        for sample in samples:
            if _non_finite(sample.get("resps")) or _non_finite(sample.get("filtered_resps")):
                steer = cond.steering
                where = "model" if steer.kind in ("none", "prompt") else f"steering[{steer.id}]"
                raise UserError(where, f"the model's log-likelihoods became NaN or inf in condition "
                                f"{cond.condition_id} (task {task}, steering {steer.id}, coefficient "
                                f"{steer.coefficient:g}); nothing of it was written",
                                "use a smaller coefficient (or a float32 dtype); finished conditions are kept")


@contextlib.contextmanager
def quiet_lm_eval() -> Iterator[None]:
    """lm-eval's loggers at ERROR level inside the block."""
    loggers = [logging.getLogger(n) for n in ("lm_eval", "lm-eval", "lm_eval.evaluator", "lm_eval.api.task")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, old):
            lg.setLevel(lv)


@contextlib.contextmanager
def cached_env_info() -> Iterator[None]:
    """Collect lm-eval's environment info (``pip list`` etc., ~3 s) once per process, not per condition."""
    import lm_eval.evaluator as ev

    original = ev.add_env_info
    cache: dict[str, Any] = {}

    def cached(storage: dict[str, Any]) -> None:
        if not cache:
            tmp: dict[str, Any] = {}
            original(tmp)
            cache.update(tmp)
        storage.update(cache)

    ev.add_env_info = cached
    try:
        yield
    finally:
        ev.add_env_info = original
