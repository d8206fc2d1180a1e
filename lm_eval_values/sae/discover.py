"""Feature discovery (``lm-eval-values discover-features``): rank SAE features for steering values.

    lm-eval-values discover-features --model smollm2-135m-instruct --sae DIR --layer 15 \\
        --method span --span " your values" --top 24 --out features.json
    lm-eval-values discover-features --model smollm2-135m-instruct --sae DIR --layer 15 \\
        --method contrastive --value Benevolence --top 24 --out benevolence.csv

``--sae`` is a local sae-lens folder (``lm-eval-values train-sae`` writes one) or a sae-lens
hub reference ``release/sae_id`` (e.g. ``gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical``,
downloaded by sae-lens; for online GPU users). Both load through
:func:`steering_hooks.sources.load_sae`.

Methods
-------
``span`` (the study's method, Kang et al. 2025): encode the no-role instruction prompt (the
value tasks' prompt: "Answer the Question according to your values. ..." in the system turn,
a question, ``Answer:``; or ``--prompt TEXT``) and rank features by their activation on the
tokens of ``--span``, **max over the span**. ``score`` = that max.

``contrastive``: for ``--value V`` build value-high and value-low role prompts (the study's
"You are inclined / disinclined to the value of V, which means <definition>." appended to
``--roles`` synthetic personas and to no persona), pool each prompt's feature activations over
``--pool`` positions (``span``: the ``--span`` tokens, which follow the role in the system
turn; ``role``: the role-hint tokens; ``last``: the last prompt token; ``prompt``: all
non-special tokens) and rank features by the absolute effect size (Cohen's d, pooled SD) of
high minus low. ``score`` = d; ``sign`` = +1 when the feature is higher for value-high prompts
(steer it up to raise the value), -1 otherwise. ``--direction up|down`` keeps one sign.

Statistics of every ranked feature (all activations are the SAE's encoder outputs):

* ``mean_act`` / ``max_act``: mean and max over the scored positions (span method: over the
  span tokens; contrastive: over the pooled value of every high and low prompt);
* ``mean_high`` / ``mean_low`` / ``diff`` / ``effect_size`` (contrastive) ; for ``span``,
  ``effect_size`` = (span max - reference mean) / reference SD, i.e. how specific the feature
  is to the span compared with ordinary text (null when the feature never fires on the reference);
* ``typical_act``: mean activation when active on a reference corpus (``--reference`` project
  documents, see :mod:`lm_eval_values.sae.corpus`); ``density``: fraction of reference tokens on
  which the feature is active; useful to calibrate steering coefficients;
* ``decoder_norm``: ``||W_dec[f]||``; ``coeff_resid_norm``: the coefficient at which
  ``coeff * W_dec[f]`` has the median residual-stream norm at the scored positions.

Output (``--out``, by extension)
--------------------------------
``.json``: one object::

    {"format": "lm-eval-values/features", "version": 1, "method": "span", "model": ..., "sae": "/abs/dir",
     "layer": 15, "hook_name": "model.layers.15", "hook_names": {...}, "d_in": 576, "d_sae": 2048,
     "span": " your values", "value": null, "pool": null, "resid_norm": 41.2,
     "features": [{"rank": 1, "feature": 1234, "score": ..., "sign": 1, "mean_act": ..., "max_act": ...,
                   "typical_act": ..., "density": ..., "effect_size": ..., "decoder_norm": ...,
                   "coeff_resid_norm": ...}, ...],
     "feature_ids": [1234, ...],
     "sweep_steering": [{"type": "sae", "id": "sae-span", "sae": "/abs/dir", "layer": 15,
                         "features": [...], "coefficients": [c/2, c], "positions": "span:\" your values\""}],
     "settings": {...}}

``"sae"`` is the folder's absolute path, or the ``release/sae_id`` as given.
``sweep_steering`` entries paste directly into a sweep config's ``steering:`` list
(:mod:`lm_eval_values.sweep.config`); contrastive results give one entry per sign (negative
coefficients for features that are higher for value-low prompts). ``.csv``: one row per
feature with the columns above plus ``method, value, layer, hook_name, sae``; the same JSON
object is written next to it (``<stem>.json``) unless that is the ``--out`` itself.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from steering_hooks.sources import is_local_ref

from lm_eval_values.core.atomic import atomic_write_json, atomic_write_text, check_writable_dir
from lm_eval_values.core.errors import UserError
from lm_eval_values.model.loading import check_layer, hook_names, load_model, resolve_local_model
from lm_eval_values.sae.corpus import chat_prompt, value_definitions
from lm_eval_values.sae.features import (contrastive_prompts, decoder_norms, encode_texts, load_sae_checked,
                                         pool_positions, rank_contrastive, rank_span, reference_stats, sae_ref_record,
                                         span_positions)

METHODS = ("span", "contrastive")
POOLS = ("span", "role", "last", "prompt")
DIRECTIONS = ("both", "up", "down")
FORMAT = "lm-eval-values/features"
FORMAT_VERSION = 1
CSV_COLUMNS = ("rank", "feature", "score", "sign", "mean_act", "max_act", "mean_high", "mean_low", "diff",
               "effect_size", "typical_act", "density", "decoder_norm", "coeff_resid_norm", "method", "value",
               "layer", "hook_name", "sae")
DEFAULT_QUESTION = "Should I make time to help the people around me, even when it costs me something?"


@dataclass(frozen=True)
class DiscoverConfig:
    """Settings of one ``discover-features`` run (recorded in the output)."""

    model: str
    sae: str
    out: str
    layer: int | None = None
    method: str = "span"
    span: str = " your values"
    value: str | None = None
    definition: str | None = None
    top: int = 24
    prompt: str | None = None
    question: str = DEFAULT_QUESTION
    roles: int = 16
    pool: str = "span"
    direction: str = "both"
    reference: int = 32
    seed: int = 0
    device: str = "cpu"


@dataclass
class FeatureStat:
    """One ranked feature with its activation statistics (see the module docstring)."""

    rank: int
    feature: int
    score: float
    sign: int
    mean_act: float
    max_act: float
    effect_size: float | None
    typical_act: float = 0.0
    density: float = 0.0
    decoder_norm: float = 0.0
    coeff_resid_norm: float = 0.0
    mean_high: float | None = None
    mean_low: float | None = None
    diff: float | None = None


def _resolve_value(cfg: DiscoverConfig) -> tuple[str, str]:
    if not cfg.value or not cfg.value.strip():
        raise UserError("--value", "the contrastive method needs a value", "add --value NAME, e.g. --value Benevolence")
    if cfg.definition:
        return cfg.value.strip(), cfg.definition.strip()
    defs = value_definitions()
    by_lower = {k.lower(): k for k in defs}
    key = by_lower.get(cfg.value.strip().lower())
    if key is None:
        raise UserError("--value", f"no definition for {cfg.value!r}",
                        f"use one of: {', '.join(defs) or '(none known)'}, or give --definition TEXT")
    return key, defs[key]


def validate(cfg: DiscoverConfig) -> None:
    """Check the flags that need no model (the SAE and model are checked in :func:`discover`)."""
    if cfg.method not in METHODS:
        raise UserError("--method", f"unknown method {cfg.method!r}", f"use one of: {', '.join(METHODS)}")
    if isinstance(cfg.top, bool) or not isinstance(cfg.top, int) or cfg.top <= 0:
        raise UserError("--top", f"must be a positive integer, got {cfg.top!r}", "e.g. --top 24")
    if cfg.pool not in POOLS:
        raise UserError("--pool", f"unknown pooling {cfg.pool!r}", f"use one of: {', '.join(POOLS)}")
    if cfg.direction not in DIRECTIONS:
        raise UserError("--direction", f"unknown direction {cfg.direction!r}", f"use one of: {', '.join(DIRECTIONS)}")
    if (cfg.method == "span" or cfg.pool == "span") and not cfg.span:
        raise UserError("--span", "is empty", 'give the prompt text to score, e.g. --span " your values"')
    if cfg.roles < 0 or cfg.reference < 0:
        raise UserError("--roles" if cfg.roles < 0 else "--reference", "must be >= 0", "e.g. 16")
    suffix = Path(cfg.out).suffix.lower()
    if suffix not in (".json", ".csv"):
        raise UserError("--out", f"unknown output format {suffix or '(no extension)'!r}", "name the file *.json or *.csv")
    if cfg.method == "contrastive":
        _resolve_value(cfg)
    check_writable_dir(Path(cfg.out).expanduser().resolve().parent, "--out")


def discover(cfg: DiscoverConfig, progress: bool = False) -> dict[str, Any]:
    """Run feature discovery; return the JSON-ready result (see the module docstring).

    ``progress``: bars with an ETA on stderr while prompts and reference documents are encoded.
    """
    import torch

    validate(cfg)
    shape = resolve_local_model(cfg.model)
    if cfg.layer is not None:
        check_layer(cfg.layer, shape)
    sae, layer = load_sae_checked(cfg.sae, shape.d_model, cfg.layer, shape.n_layers, device=cfg.device)
    if cfg.top > sae.cfg.d_sae:
        raise UserError("--top", f"top {cfg.top} is larger than the SAE width {sae.cfg.d_sae}",
                        f"use --top <= {sae.cfg.d_sae}")
    torch.manual_seed(cfg.seed)
    model, tok = load_model(shape.path, cfg.device)
    dec_norm = decoder_norms(sae)
    result: dict[str, Any] = {
        "format": FORMAT, "version": FORMAT_VERSION, "method": cfg.method, "model": cfg.model,
        "model_path": shape.path, "sae": sae_ref_record(cfg.sae), "layer": layer,
        "hook_name": hook_names(layer)["hf"], "hook_names": hook_names(layer), "d_in": int(sae.cfg.d_in),
        "d_sae": int(sae.cfg.d_sae), "span": cfg.span if (cfg.method == "span" or cfg.pool == "span") else None,
        "value": None, "pool": None, "settings": asdict(cfg),
    }
    stats: list[FeatureStat] = []
    if cfg.method == "span":
        prompt = cfg.prompt if cfg.prompt is not None else chat_prompt(tok, cfg.question, "")
        ids, resid, feats = encode_texts(model, tok, sae, layer, [prompt])[0]
        pos = span_positions(tok, ids, prompt, cfg.span)
        if not pos:
            raise UserError("--span", f"{cfg.span!r} does not occur in the prompt",
                            "give a span that the prompt contains (see --prompt)")
        ref = reference_stats(model, tok, sae, layer, cfg.reference, cfg.seed, progress=progress)
        resid_norm = float(resid[pos].norm(dim=-1).median())
        for f, mx, mean, _ in rank_span(feats, pos, cfg.top):
            sd = float(ref["std"][f])
            eff = (mx - float(ref["mean"][f])) / sd if sd > 1e-9 else None  # never active on the reference
            stats.append(FeatureStat(rank=len(stats) + 1, feature=f, score=mx, sign=1, mean_act=mean, max_act=mx,
                                     effect_size=eff))
        result.update(prompt=prompt, span_tokens=[tok.decode([ids[i]]) for i in pos], span_positions=pos)
    else:
        value, definition = _resolve_value(cfg)
        high, low = contrastive_prompts(tok, value, definition, cfg.roles, cfg.seed, cfg.question)
        pooled: dict[str, Any] = {}
        norms: list[float] = []
        for name, group in (("high", high), ("low", low)):
            rows = []
            encoded = encode_texts(model, tok, sae, layer, [t for t, _ in group],
                                   desc=f"value-{name} prompts" if progress else None)
            for (ids, resid, feats), (text, role) in zip(encoded, group):
                pos = pool_positions(tok, ids, text, cfg.pool, cfg.span, role)
                if not pos:
                    raise UserError("--span" if cfg.pool == "span" else "--pool",
                                    f"no {cfg.pool} positions in a contrastive prompt",
                                    "use --pool role|last|prompt or a span the prompt contains")
                rows.append(feats[pos].float().mean(0))
                norms += resid[pos].norm(dim=-1).tolist()
            pooled[name] = torch.stack(rows)
        ref = reference_stats(model, tok, sae, layer, cfg.reference, cfg.seed, progress=progress)
        resid_norm = float(statistics.median(norms))
        both = torch.cat([pooled["high"], pooled["low"]])
        for f, d, mh, ml, diff, sign in rank_contrastive(pooled["high"], pooled["low"], cfg.top, cfg.direction):
            stats.append(FeatureStat(rank=len(stats) + 1, feature=f, score=d, sign=int(sign),
                                     mean_act=float(both[:, f].mean()), max_act=float(both[:, f].max()),
                                     effect_size=d, mean_high=mh, mean_low=ml, diff=diff))
        result.update(value=value, definition=definition, pool=cfg.pool,
                      n_prompts={"high": len(high), "low": len(low)},
                      example_prompts={"high": high[0][0], "low": low[0][0]})
    for s in stats:
        s.typical_act = float(ref["typical"][s.feature])
        s.density = float(ref["density"][s.feature])
        s.decoder_norm = float(dec_norm[s.feature])
        s.coeff_resid_norm = resid_norm / s.decoder_norm if s.decoder_norm > 0 else 0.0
    result["resid_norm"] = resid_norm
    result["reference_tokens"] = int(ref["tokens"])
    result["features"] = [_clean(asdict(s)) for s in stats]
    result["feature_ids"] = [s.feature for s in stats]
    result["sweep_steering"] = sweep_entries(result, stats, cfg)
    return result


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, float):
            v = v if math.isfinite(v) else (1e9 if v > 0 else -1e9)
            v = round(v, 6)
        out[k] = v
    return out


def sweep_entries(result: dict[str, Any], stats: Sequence[FeatureStat], cfg: DiscoverConfig) -> list[dict[str, Any]]:
    """Steering entries for a sweep config: the ranked features with suggested coefficients.

    Coefficients are ``[c/2, c]`` with ``c`` the median ``coeff_resid_norm`` of the features
    (adding ``c * W_dec[f]`` adds a vector as long as the typical residual stream), negated for
    features that are higher for value-low prompts.
    """
    entries = []
    groups = [(1, [s for s in stats if s.sign > 0]), (-1, [s for s in stats if s.sign < 0])]
    for sign, group in groups:
        if not group:
            continue
        c = float(statistics.median(s.coeff_resid_norm for s in group))
        coeffs = [round(sign * c / 2, 3), round(sign * c, 3)]
        ident = f"sae-{cfg.method}" + (f"-{_slug(result['value'])}" if result.get("value") else "")
        if cfg.method == "contrastive":
            ident += "-up" if sign > 0 else "-down"
        entry = {"type": "sae", "id": ident, "sae": result["sae"], "layer": result["layer"],
                 "features": [s.feature for s in group], "coefficients": coeffs}
        if cfg.span:
            entry["positions"] = "span:" + json.dumps(cfg.span)
        entries.append(entry)
    return entries


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def to_csv(result: dict[str, Any]) -> str:
    """The ranked features as CSV text (columns :data:`CSV_COLUMNS`)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    for f in result["features"]:
        row = {k: f.get(k) for k in CSV_COLUMNS}
        row.update(method=result["method"], value=result.get("value") or "", layer=result["layer"],
                   hook_name=result["hook_name"], sae=result["sae"])
        w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def write_result(result: dict[str, Any], out: str | Path) -> list[Path]:
    """Write ``result`` to ``out`` (.json, or .csv plus a sibling .json), atomically."""
    out = Path(out).expanduser()
    written = []
    if out.suffix.lower() == ".csv":
        written.append(atomic_write_text(out, to_csv(result)))
        written.append(atomic_write_json(out.with_suffix(".json"), result))
    else:
        written.append(atomic_write_json(out, result))
    return written


def format_table(result: dict[str, Any], limit: int = 24) -> str:
    """A short text table of the ranked features."""
    sae = Path(result["sae"]).name if is_local_ref(result["sae"]) else result["sae"]
    lines = [f"{result['method']} features of {sae} at {result['hook_name']}"
             + (f" for {result['value']}" if result.get("value") else "")
             + (f" (span {result['span']!r})" if result.get("span") else ""),
             f"{'rank':>4} {'feature':>7} {'score':>9} {'sign':>4} {'mean':>8} {'max':>8} {'effect':>8} "
             f"{'typical':>8} {'density':>8}"]
    for f in result["features"][:limit]:
        lines.append(f"{f['rank']:>4} {f['feature']:>7} {f['score']:>9.3f} {f['sign']:>4} {f['mean_act']:>8.3f} "
                     f"{f['max_act']:>8.3f} {_fmt(f['effect_size']):>8} {f['typical_act']:>8.3f} {f['density']:>8.4f}")
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"
