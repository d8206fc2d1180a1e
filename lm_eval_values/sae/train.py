"""SAE training (``lm-eval-values train-sae``): a small sae-lens SAE on a local model, fully offline.

    lm-eval-values train-sae --model smollm2-135m-instruct --layer 15 --width 2048 --tokens 300000 \\
        [--k 32] [--arch topk|standard] [--out DIR] [--seed 0]

Steps (everything validated first, nothing written on bad input):

1. The model (an embedded alias such as ``smollm2-135m-instruct`` or a local Hugging Face folder)
   is checked without loading weights: ``--layer`` must exist, ``--width``/``--tokens``/``--k``
   must be positive, ``--k`` at most ``--width``.
2. An offline corpus (:mod:`lm_eval_values.sae.corpus`: roles, value items, value definitions,
   instruction prompts, and text sampled from the model itself with a fixed seed) is packed
   into rows of ``--context-size`` tokens; a seeded tenth of the documents is held out.
3. The residual stream after decoder layer ``L`` (the output of ``model.layers[L]``; sae-lens /
   HF hook ``model.layers.L``, TransformerLens ``blocks.L.hook_resid_post``, lm-eval
   ``layers.L``) is computed ONCE for the training rows (the forward pass stops after layer L)
   and written in sae-lens's cached-activation format.
4. sae-lens's :class:`~sae_lens.LanguageModelSAETrainingRunner` trains the SAE on the HF model
   with ``use_cached_activations`` for ``--tokens`` tokens (several epochs over the cache when
   the corpus is smaller), BOS/special tokens excluded. The corpus is small, so this is what
   makes a few hundred thousand training tokens affordable on a CPU.
5. The saved SAE is reloaded with ``SAE.load_from_disk`` and evaluated on the held-out rows:
   explained variance, L0, dead features (never active on any corpus token), and the LM loss
   with the SAE's reconstruction spliced in (``ce_loss_recovered``).

Output folder (written atomically; default ``$LM_EVAL_VALUES_HOME/saes/<model>-l<L>``):
``cfg.json`` + ``sae_weights.safetensors`` (sae-lens format; ``cfg.json`` metadata carries
``hook_name`` and ``hook_names`` in every scheme), ``sparsity.safetensors`` and
``runner_cfg.json`` from sae-lens, ``metrics.json`` (metrics, timings, corpus manifest, seeds).
The metrics are also printed, and the folder's path is printed last.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lm_eval_values.core.atomic import atomic_directory, atomic_write_json, check_writable_dir
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.paths import cache_home
from lm_eval_values.core.versions import SAE_PACKAGES, package_versions
from lm_eval_values.model.loading import (ModelShape, check_layer, hook_names, layer_outputs, load_model,
                                          resolve_local_model)
from lm_eval_values.sae.corpus import (CorpusConfig, corpus_manifest, pack_tokens, project_documents, sample_documents,
                                       split_documents)
from lm_eval_values.sae.evaluate import evaluate_sae

ARCHS = ("topk", "standard")
METRICS_FILE = "metrics.json"


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class TrainSAEConfig:
    """All settings of one ``train-sae`` run (recorded in ``metrics.json``)."""

    model: str
    layer: int
    width: int
    tokens: int
    k: int = 32
    arch: str = "topk"
    l1: float = 5.0
    out: str | None = None
    seed: int = 0
    context_size: int = 128
    batch_tokens: int = 1024
    lr: float = 5e-4
    eval_fraction: float = 0.1
    device: str = "cpu"
    corpus: CorpusConfig = field(default_factory=CorpusConfig)


@dataclass(frozen=True)
class TrainPlan:
    """A validated config plus what validation resolved."""

    cfg: TrainSAEConfig
    shape: ModelShape
    out: Path


def default_out(shape: ModelShape, layer: int) -> Path:
    """``$LM_EVAL_VALUES_HOME/saes/<model>-l<layer>``."""
    return cache_home() / "saes" / f"{shape.name}-l{layer}"


def _positive_int(value: Any, field_name: str, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(field_name, f"must be a positive integer, got {value!r}", fix)
    return value


def validate(cfg: TrainSAEConfig) -> TrainPlan:
    """Check every input before anything is loaded or written; raise :class:`UserError`."""
    _positive_int(cfg.width, "--width", "give the number of SAE features, e.g. 2048")
    _positive_int(cfg.tokens, "--tokens", "give the number of training tokens, e.g. 300000")
    if cfg.arch not in ARCHS:
        raise UserError("--arch", f"unknown SAE architecture {cfg.arch!r}", f"use one of: {', '.join(ARCHS)}")
    if cfg.arch == "topk":
        _positive_int(cfg.k, "--k", "give the number of active features per token, e.g. 32")
        if cfg.k > cfg.width:
            raise UserError("--k", f"k={cfg.k} is larger than the SAE width {cfg.width}", "use k <= width")
    if not (isinstance(cfg.l1, (int, float)) and cfg.l1 >= 0):
        raise UserError("--l1", f"must be >= 0, got {cfg.l1!r}", "e.g. --l1 5")
    if not isinstance(cfg.context_size, int) or isinstance(cfg.context_size, bool) or cfg.context_size < 4:
        raise UserError("--context-size", f"must be an integer >= 4, got {cfg.context_size!r}", "e.g. 128")
    _positive_int(cfg.batch_tokens, "--batch-tokens", "e.g. 1024")
    if not (isinstance(cfg.lr, (int, float)) and cfg.lr > 0 and math.isfinite(cfg.lr)):
        raise UserError("--lr", f"must be a positive number, got {cfg.lr!r}", "e.g. 5e-4")
    if not 0.0 < cfg.eval_fraction < 0.9:
        raise UserError("--eval-fraction", f"must be in (0, 0.9), got {cfg.eval_fraction!r}", "e.g. 0.1")
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int):
        raise UserError("--seed", f"must be an integer, got {cfg.seed!r}", "e.g. --seed 0")
    c = cfg.corpus
    for name, v in (("--roles", c.n_roles), ("--prompts", c.n_prompts), ("--samples", c.n_samples),
                    ("--sample-tokens", c.sample_tokens)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise UserError(name, f"must be a non-negative integer, got {v!r}", "e.g. 32")
    if c.valuebench is not None and not Path(c.valuebench).expanduser().is_dir():
        raise UserError("--valuebench", f"no folder at {c.valuebench}", "give a local ValueBench data folder or leave it out")
    if cfg.device != "cpu" and not cfg.device.startswith(("cuda", "mps")):
        raise UserError("--device", f"unknown device {cfg.device!r}", "use cpu, cuda or cuda:N")
    shape = resolve_local_model(cfg.model)
    check_layer(cfg.layer, shape)
    out = Path(cfg.out).expanduser() if cfg.out else default_out(shape, cfg.layer)
    if out.exists() and not out.is_dir():
        raise UserError("--out", f"{out} exists and is not a folder", "choose a folder path")
    check_writable_dir(out.parent, "--out")
    return TrainPlan(cfg=cfg, shape=shape, out=out)


# ----------------------------------------------------------------------------- training
def _write_activation_cache(acts: Any, rows: Any, hook: str, path: Path) -> None:
    """Write activations [N, T, d] and token ids [N, T] in sae-lens's cached-activation format."""
    import datasets

    n, t, d = acts.shape
    features = datasets.Features({hook: datasets.Array2D(shape=(t, d), dtype="float32"),
                                  "token_ids": datasets.Sequence(datasets.Value("int32"), length=t)})
    ds = datasets.Dataset.from_dict({hook: acts.numpy(), "token_ids": rows.to(dtype=__import__("torch").int32).numpy()},
                                    features=features)
    ds.save_to_disk(str(path))


def _runner_config(plan: TrainPlan, cache_dir: Path, out_dir: Path, n_rows: int) -> Any:
    from sae_lens import LanguageModelSAERunnerConfig, LoggingConfig, StandardTrainingSAEConfig, TopKTrainingSAEConfig

    cfg, shape = plan.cfg, plan.shape
    hook = hook_names(cfg.layer)["hf"]
    if cfg.arch == "topk":
        sae_cfg: Any = TopKTrainingSAEConfig(d_in=shape.d_model, d_sae=cfg.width, k=cfg.k, device=cfg.device,
                                             normalize_activations="expected_average_only_in")
    else:
        sae_cfg = StandardTrainingSAEConfig(d_in=shape.d_model, d_sae=cfg.width, l1_coefficient=cfg.l1,
                                            device=cfg.device, normalize_activations="expected_average_only_in",
                                            l1_warm_up_steps=max(1, cfg.tokens // cfg.batch_tokens // 10))
    steps = max(1, cfg.tokens // cfg.batch_tokens)
    store_rows = max(1, min(16, n_rows))
    n_in_buffer = max(4, math.ceil(2 * cfg.batch_tokens / cfg.context_size))
    window = max(10, min(1000, steps // 2))
    return LanguageModelSAERunnerConfig(
        sae=sae_cfg,
        model_name=shape.path,
        model_class_name="AutoModelForCausalLM",
        hook_name=hook,
        dataset_path=f"lm-eval-values offline corpus (seed {cfg.corpus.seed})",
        is_dataset_tokenized=True,
        streaming=False,
        context_size=cfg.context_size,
        use_cached_activations=True,
        cached_activations_path=str(cache_dir),
        n_batches_in_buffer=n_in_buffer,
        store_batch_size_prompts=store_rows,
        training_tokens=cfg.tokens,
        train_batch_size_tokens=cfg.batch_tokens,
        lr=cfg.lr,
        lr_warm_up_steps=max(1, steps // 20),
        lr_scheduler_name="constant",
        dead_feature_window=window,
        feature_sampling_window=window,
        n_batches_for_norm_estimate=max(1, min(50, math.ceil(n_rows / store_rows))),
        exclude_special_tokens=True,
        device=cfg.device,
        seed=cfg.seed,
        dtype="float32",
        prepend_bos=True,
        logger=LoggingConfig(log_to_wandb=False),
        n_checkpoints=0,
        checkpoint_path=None,
        output_path=str(out_dir),
        verbose=False,
    )


@contextmanager
def _tqdm_disabled(disabled: bool) -> Iterator[None]:
    """Silence sae-lens's own tqdm bars (tqdm reads ``TQDM_DISABLE``) when progress is off."""
    saved = os.environ.get("TQDM_DISABLE")
    if disabled:
        os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = saved


@contextmanager
def _quiet_training_env() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("WANDB_MODE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    os.environ.update(WANDB_MODE="disabled", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _activations(model: Any, layer: int, rows: Any, progress: bool, chunk: int = 64) -> Any:
    """:func:`layer_outputs` of ``rows`` in chunks, with a progress bar (ETA) on stderr."""
    import torch
    from tqdm.auto import tqdm

    parts = []
    with tqdm(total=int(rows.shape[0]), unit="row", desc=f"activations at layer {layer}", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:
        for i in range(0, rows.shape[0], chunk):
            parts.append(layer_outputs(model, layer, rows[i:i + chunk]))
            bar.update(parts[-1].shape[0])
    return torch.cat(parts, dim=0)


def train(plan: TrainPlan, log: Any = None, progress: bool = True) -> dict[str, Any]:
    """Run a validated :class:`TrainPlan`; return the metrics record (also written to ``metrics.json``).

    ``progress``: bars with an ETA on stderr for the long steps (sampling the model for the corpus,
    the activations, and sae-lens's own training bar); ``False`` silences all three.
    """
    import torch

    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    cfg, shape = plan.cfg, plan.shape
    hooks = hook_names(cfg.layer)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    model, tok = load_model(shape.path, cfg.device)
    timings["load_model_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    docs = project_documents(cfg.corpus, tok)
    prompts = [d.text for d in docs if d.source == "prompts"]
    say(f"model loaded in {timings['load_model_s']:.1f} s; building the corpus")
    docs += sample_documents(model, tok, prompts, cfg.corpus, progress=progress)
    timings["corpus_s"] = time.perf_counter() - t
    train_docs, eval_docs = split_documents(docs, cfg.eval_fraction, cfg.seed)
    train_rows = torch.tensor(pack_tokens(train_docs, tok, cfg.context_size), dtype=torch.long)
    eval_rows = torch.tensor(pack_tokens(eval_docs, tok, cfg.context_size), dtype=torch.long)
    if train_rows.numel() == 0 or eval_rows.numel() == 0:
        raise UserError("--context-size", f"the corpus is too small for rows of {cfg.context_size} tokens",
                        "use a smaller --context-size or more --prompts/--samples")
    exclude = sorted(set(int(i) for i in tok.all_special_ids))
    say(f"corpus: {len(docs)} documents, {train_rows.numel()} training tokens in {train_rows.shape[0]} rows, "
        f"{eval_rows.numel()} held-out tokens; {timings['corpus_s']:.1f} s")

    t = time.perf_counter()
    acts = _activations(model, cfg.layer, train_rows, progress)
    timings["activations_s"] = time.perf_counter() - t
    say(f"activations at {hooks['hf']}: {tuple(acts.shape)} in {timings['activations_s']:.1f} s")

    from sae_lens import SAE, LanguageModelSAETrainingRunner
    from sae_lens.load_model import HookedProxyLM

    with atomic_directory(plan.out) as out_dir, tempfile.TemporaryDirectory(prefix="lev-sae-cache-") as tmp, \
            _quiet_training_env():
        cache_dir = Path(tmp) / "activations"
        _write_activation_cache(acts, train_rows, hooks["hf"], cache_dir)
        import datasets

        token_ds = datasets.Dataset.from_dict({"input_ids": train_rows.tolist()})
        runner_cfg = _runner_config(plan, cache_dir, out_dir, train_rows.shape[0])
        proxy = HookedProxyLM(model, tok, hook_names=[hooks["hf"]])
        t = time.perf_counter()
        runner = LanguageModelSAETrainingRunner(runner_cfg, override_dataset=token_ds, override_model=proxy)
        meta = runner.sae.cfg.metadata
        meta.hook_names = hooks
        meta.hook_layer = cfg.layer
        meta.model_alias = cfg.model
        meta.d_model = shape.d_model
        say(f"training: {cfg.tokens} tokens in {max(1, cfg.tokens // cfg.batch_tokens)} steps of {cfg.batch_tokens} "
            "(sae-lens's bar below; it advances every 100 steps)" if progress else "training")
        with _tqdm_disabled(not progress):
            runner.run()
        timings["train_s"] = time.perf_counter() - t
        runner_file = out_dir / "runner_cfg.json"
        if runner_file.is_file():  # temporary folder names would make the bytes differ between identical runs
            rc = json.loads(runner_file.read_text())
            rc["cached_activations_path"] = "(temporary activation cache of the offline corpus, deleted)"
            rc["output_path"] = str(plan.out)
            atomic_write_json(runner_file, rc)
        sae = SAE.load_from_disk(str(out_dir), device=cfg.device)
        sae.eval()
        saved_meta = json.loads((out_dir / "cfg.json").read_text())["metadata"]
        t = time.perf_counter()
        metrics = evaluate_sae(sae, model, cfg.layer, eval_rows, exclude, all_acts=acts.reshape(-1, acts.shape[-1]))
        timings["eval_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t0
        record = {
            "model": cfg.model, "model_path": shape.path, "layer": cfg.layer, "d_model": shape.d_model,
            "hook_name": hooks["hf"], "hook_names": hooks, "architecture": cfg.arch, "width": cfg.width,
            "k": cfg.k if cfg.arch == "topk" else None,
            "training_tokens": cfg.tokens,
            "corpus_tokens": int(train_rows.numel()), "eval_corpus_tokens": int(eval_rows.numel()),
            "epochs_over_corpus": cfg.tokens / max(1, train_rows.numel()),
            "metrics": metrics,
            "training_metadata": {"l0_last_window": saved_meta.get("l0"),
                                  "dead_features_last_window": saved_meta.get("num_dead_features")},
            "timings_s": {k: round(v, 2) for k, v in timings.items()},
            "config": asdict(cfg),
            "corpus": corpus_manifest(docs, cfg.corpus),
            "excluded_token_ids": exclude,
            "seed": cfg.seed,
            "versions": package_versions(SAE_PACKAGES, python=False),
        }
        atomic_write_json(out_dir / METRICS_FILE, record)
    return record
