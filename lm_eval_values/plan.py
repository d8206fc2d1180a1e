"""``lm-eval-values plan``: pick roles / SAE features / steering vectors for a target value change.

::

    lm-eval-values plan --target "Benevolence:+" --graph graph.json --candidates features \
        --matrix runs/sweep1 [--top 10] [--verify --config sweep.yaml] --out plans/benevolence

Candidates (``--candidates``)
-----------------------------
``roles``: every named role of the value matrix; its effect is the role's unsteered scores minus
the no-role unsteered scores (baseline role ``""``; seeds averaged).
``--split SPLIT`` ranks on the rows of one split only (e.g. ``train``), so that ``--verify`` can check
the plan on roles it has not seen (below).

``features`` / ``vectors``: every steering setting (steering id x coefficient) of the matrix;
SAE settings (``<id>:<feature>``) are ``features``; vector / spec settings are ``vectors``
(with ``--config`` the kinds come from the sweep config; without it, an id ending in
``:<integer>`` is a feature and any other id except ``none`` and ``prompt:*`` is a vector).
The effect of a setting is the mean over roles of (role under the setting minus the same role
unsteered); ``n_roles`` says how many roles had both rows.

Scoring (all changes in SD units)
---------------------------------
With ``--centering median|mrat`` every candidate's change vector first loses its median / mean
over the values (:func:`lm_eval_values.side_effects.center_changes`): a shift of every value at
once, such as a change of the yes/no response bias, then counts neither as target effect nor as
side effect.

Every change ``delta[v]`` is divided by ``sd[v]``, the standard deviation of value ``v`` over the
matrix's unsteered rows (all rows when there are fewer than 3 unsteered rows or the SD is 0;
1 if still 0), so values on different scales are comparable. With ``s`` = +1 for ``:+`` and
-1 for ``:-``, ``T`` the target and ``U`` the values that are neither ``T`` nor a descendant of
``T`` in the graph (``--policy``, default ``study``)::

    target_effect = s * z[T]                    # measured; or predicted, see below
    side_effect   = mean_{w in U} |z[w]|        # size of the changes the graph does NOT explain
    score         = target_effect - penalty * side_effect        (--penalty, default 1)

Changes on descendants of ``T`` are expected consequences of moving ``T`` and are not penalised
(they are reported as ``n_expected``). ``n_unexpected`` counts ``w in U`` with ``|z[w]| > tol``
(``--tol``, default 0.5 SD). When ``z[T]`` is not measured (NaN: the target's items were not asked
under that candidate), it is PREDICTED through the graph: ``z[T] = sum_p beta_p z[p]`` over the
graph parents ``p`` of ``T``, with ``beta`` the least-squares coefficients of ``T`` on its parents
over all matrix rows (z-scored); ``effect_source`` says ``measured`` or ``predicted``. Candidates
with neither are ranked last. Ranking: score descending, ties by candidate label.

Output (``--out DIR``, written atomically, after every input was validated)
----------------------------------------------------------------------------
``plan.csv`` (one row per candidate, ranked; the top ``--top`` when given) and ``plan.json``
(settings, the scoring rule, the graph's descendants of the target and the table).

``--verify``
------------
Runs the top ``--verify-top`` candidates on the model through the sweep machinery
(:func:`lm_eval_values.sweep.run_sweep`: one model load, conditions in-process) using the sweep
config ``--config`` (the one that produced the matrix: model, tasks, roles, steering specs; a
study config works too, for its model ``--study-model``, default its only one), restricted to the
chosen settings plus their baselines: for roles, the no-role condition and the chosen roles
(unsteered); for steering settings, ``--verify-roles`` roles of the config (default 3) under
``none`` and the chosen settings, preferring HELD-OUT roles: roles of the config that were not
among the rows the plan was ranked on (with ``--split train``, the test roles). Only when there
are too few of those are ranked roles added; then that part of the check reproduces the measurement.
``--model`` replaces ``model_args.pretrained``; ``--verify-fraction`` replaces the item fraction.
The sweep folder is ``DIR/verify``; ``verify.csv`` / ``verify.json`` put the observed target
change and side effects (same SD units, same ``U``) next to the prediction.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.side_effects import CENTERINGS, center_changes, descendant_sets
from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING, coefficient_text
from lm_eval_values.matrix.value_matrix import ValueMatrix

KINDS = ("roles", "features", "vectors")
_FEATURE_ID = re.compile(r"^.+:\d+$")
COLUMNS = ["rank", "candidate", "kind", "steering_id", "coefficient", "role_id", "n_roles", "effect_source",
           "target_change", "target_change_sd", "target_effect", "side_effect", "n_unexpected", "n_expected",
           "score"]


# ---------------------------------------------------------------------------- inputs
@dataclasses.dataclass(frozen=True)
class Target:
    """The value to move and the direction (+1 up, -1 down)."""

    value: str
    sign: int

    def __str__(self) -> str:
        return f"{self.value}:{'+' if self.sign > 0 else '-'}"


def parse_target(text: str, values: Sequence[str]) -> Target:
    """``"Benevolence:+"`` -> Target; the value must be a matrix column (case-insensitive match)."""
    if ":" not in text:
        raise UserError("--target", f"{text!r} has no direction", 'write "<Value>:+" or "<Value>:-"')
    name, sign = (s.strip() for s in text.rsplit(":", 1))
    if sign not in ("+", "-"):
        raise UserError("--target", f"bad direction {sign!r} in {text!r}", 'use + or -, e.g. "Benevolence:+"')
    if name not in values:
        folded = {v.casefold(): v for v in values}
        if name.casefold() not in folded:
            raise UserError("--target", f"unknown value {name!r}", f"use one of: {', '.join(values)}")
        name = folded[name.casefold()]
    return Target(name, 1 if sign == "+" else -1)


def cell_means(vm: ValueMatrix) -> pd.DataFrame:
    """Value scores averaged over seeds, indexed by (role_id, steering_id, coefficient text)."""
    meta = vm.meta
    idx = pd.MultiIndex.from_arrays([meta["role_id"].astype(str).to_numpy(),
                                     meta["steering_id"].astype(str).to_numpy(),
                                     [coefficient_text(c) for c in meta["coefficient"]]],
                                    names=["role_id", "steering_id", "coef"])
    s = vm.scores.astype(float).copy()
    s.index = idx
    return s.groupby(level=[0, 1, 2], sort=False).mean()


def value_scale(vm: ValueMatrix) -> pd.Series:
    """Per-value SD used to express changes in SD units (see the module docstring)."""
    s = vm.scores.astype(float)
    unsteered = s[(vm.meta["steering_id"].astype(str) == NO_STEERING).to_numpy()]
    sd = unsteered.std(ddof=1) if len(unsteered) >= 3 else pd.Series(np.nan, index=s.columns)
    sd = sd.where(sd > 0, s.std(ddof=1))
    return sd.where(sd > 0, 1.0).fillna(1.0)


# ---------------------------------------------------------------------------- candidates
@dataclasses.dataclass
class Candidate:
    """One candidate with its mean change per value (raw units) over ``n_roles`` roles."""

    label: str
    kind: str
    steering_id: str
    coef: str
    role_id: str
    change: pd.Series
    n_roles: int


def steering_kinds(vm: ValueMatrix, cfg: Any | None) -> dict[str, str]:
    """``{steering id: 'features'|'vectors'|'other'}`` from the sweep config or the id pattern."""
    out: dict[str, str] = {}
    by_cfg = {s.id: s.kind for s in cfg.steering} if cfg is not None else {}
    for sid in vm.steering_ids:
        kind = by_cfg.get(sid)
        if sid == NO_STEERING or sid.startswith("prompt:") or kind in ("none", "prompt"):
            out[sid] = "other"
        elif kind is not None:
            out[sid] = "features" if kind == "sae" else "vectors"
        else:
            out[sid] = "features" if _FEATURE_ID.match(sid) else "vectors"
    return out


def role_candidates(cells: pd.DataFrame) -> list[Candidate]:
    """Each named role (unsteered) minus the no-role condition (unsteered)."""
    try:
        base = cells.xs((NO_ROLE, NO_STEERING), level=(0, 1)).iloc[0]
    except KeyError:
        raise UserError("--matrix", "has no unsteered no-role row (the baseline of role candidates)",
                        "run the sweep with roles.no_role: true and a {type: none} steering entry") from None
    out = []
    for (role, sid, coef), row in cells.iterrows():
        if sid == NO_STEERING and role != NO_ROLE:
            out.append(Candidate(role, "roles", NO_STEERING, coef, role, row - base, 1))
    return out


def steering_candidates(cells: pd.DataFrame, kinds: dict[str, str], kind: str) -> list[Candidate]:
    """Each steering setting of ``kind``: mean over roles of (steered - unsteered) for that role."""
    out = []
    settings = [(sid, coef) for (_, sid, coef) in cells.index if kinds.get(sid) == kind]
    for sid, coef in dict.fromkeys(settings):
        diffs = []
        for role in dict.fromkeys(cells.index.get_level_values(0)):
            if (role, sid, coef) in cells.index and (role, NO_STEERING, coefficient_text(0)) in cells.index:
                diffs.append(cells.loc[(role, sid, coef)] - cells.loc[(role, NO_STEERING, coefficient_text(0))])
        if diffs:
            label = f"{sid}@{coef}" if coef else sid
            out.append(Candidate(label, kind, sid, coef, "", pd.concat(diffs, axis=1).mean(axis=1), len(diffs)))
    return out


# ---------------------------------------------------------------------------- graph and scoring
def parent_coefficients(vm: ValueMatrix, target: str, parents: Sequence[str], scale: pd.Series) -> pd.Series:
    """Least-squares coefficients of ``target`` on its graph ``parents`` (SD units, all rows)."""
    if not parents:
        return pd.Series(dtype=float)
    z = (vm.scores.astype(float) - vm.scores.astype(float).mean()) / scale
    data = z[[*parents, target]].dropna()
    if len(data) <= len(parents):
        return pd.Series(np.nan, index=list(parents))
    beta, *_ = np.linalg.lstsq(data[list(parents)].to_numpy(), data[target].to_numpy(), rcond=None)
    return pd.Series(beta, index=list(parents))


def score_change(z: pd.Series, target: Target, unexpected: Sequence[str], expected: Sequence[str],
                 beta: pd.Series, penalty: float, tol: float) -> dict[str, Any]:
    """Target effect, side effect and score of one change vector ``z`` (SD units)."""
    tz = z.get(target.value, np.nan)
    source = "measured"
    if pd.isna(tz):
        known = [p for p in beta.index if pd.notna(z.get(p, np.nan))]
        tz = float(sum(beta[p] * z[p] for p in known)) if known and beta.notna().all() else np.nan
        source = "predicted" if pd.notna(tz) else "none"
    u = z.reindex(list(unexpected)).abs().dropna()
    side = float(u.mean()) if len(u) else 0.0
    effect = target.sign * float(tz) if pd.notna(tz) else np.nan
    return {"effect_source": source, "target_change_sd": float(tz) if pd.notna(tz) else np.nan,
            "target_effect": effect, "side_effect": side, "n_unexpected": int((u > tol).sum()),
            "n_expected": int((z.reindex(list(expected)).abs().dropna() > tol).sum()),
            "score": effect - penalty * side if pd.notna(effect) else np.nan}


def center_candidates(cands: list[Candidate], centering: str) -> list[Candidate]:
    """The candidates with their change vectors centred (``"none"``: unchanged)."""
    if centering == "none":
        return cands
    return [dataclasses.replace(c, change=center_changes(c.change.to_frame().T, centering).iloc[0]) for c in cands]


def rank_candidates(cands: list[Candidate], target: Target, descendants: set[str], values: Sequence[str],
                    scale: pd.Series, beta: pd.Series, penalty: float = 1.0, tol: float = 0.5) -> pd.DataFrame:
    """The ranked table (columns :data:`COLUMNS`); see the module docstring for the rule."""
    expected = [v for v in values if v in descendants and v != target.value]
    unexpected = [v for v in values if v not in descendants and v != target.value]
    rows = []
    for c in cands:
        z = c.change / scale
        row = {"candidate": c.label, "kind": c.kind, "steering_id": c.steering_id, "coefficient": c.coef,
               "role_id": c.role_id, "n_roles": c.n_roles, "target_change": float(c.change.get(target.value, np.nan))}
        row.update(score_change(z, target, unexpected, expected, beta, penalty, tol))
        rows.append(row)
    df = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"])
    df = df.assign(_s=df["score"].fillna(-np.inf)).sort_values(["_s", "candidate"], ascending=[False, True],
                                                                kind="mergesort").drop(columns="_s")
    df.insert(0, "rank", range(1, len(df) + 1))
    return df.reset_index(drop=True)


# ---------------------------------------------------------------------------- verification
def verify_config(cfg: Any, chosen: pd.DataFrame, kind: str, vm: ValueMatrix, n_roles: int,
                  fraction: float | None) -> Any:
    """The sweep config restricted to the chosen settings and their baselines (validated, nothing run).

    ``vm`` holds the rows the plan was ranked on: steering candidates are verified on the config's
    roles outside ``vm`` first (held out), in config order, then on roles inside it.
    """
    from lm_eval_values.sweep.steering import SteeringSetting

    none = [s for s in cfg.steering if s.kind == "none"] or [SteeringSetting(NO_STEERING, "none", 0.0)]
    by_id = {r.id: r for r in cfg.roles}
    if kind == "roles":
        missing = [r for r in chosen["role_id"] if r not in by_id]
        if NO_ROLE not in by_id:
            raise UserError("--config", "has no no-role condition (the baseline of role candidates)",
                            "set roles.no_role: true in the sweep config")
        if missing:
            raise UserError("--config", f"role(s) {missing} are not roles of the sweep config",
                            "give the config that produced the matrix")
        roles, steering = [by_id[NO_ROLE], *(by_id[r] for r in chosen["role_id"])], none[:1]
    else:
        want = list(zip(chosen["steering_id"], chosen["coefficient"]))
        have = {(s.id, coefficient_text(s.coefficient)): s for s in cfg.steering}
        missing = [f"{s}@{c}" for s, c in want if (s, c) not in have]
        if missing:
            raise UserError("--config", f"steering setting(s) {missing} are not in the sweep config",
                            "give the config that produced the matrix")
        ranked_on = set(vm.role_ids)
        ordered = sorted(cfg.roles, key=lambda r: (r.id in ranked_on, cfg.roles.index(r)))
        roles, steering = ordered[:n_roles], none[:1] + [have[k] for k in want]
    sampling = cfg.sampling
    if fraction is not None:
        sampling = dataclasses.replace(sampling, fraction=fraction, per_split={})
    return dataclasses.replace(cfg, roles=roles, steering=steering, sampling=sampling)


def observed_table(plan: pd.DataFrame, vm_obs: ValueMatrix, kind: str, target: Target, descendants: set[str],
                   values: Sequence[str], scale: pd.Series, penalty: float, tol: float,
                   centering: str = "none") -> pd.DataFrame:
    """Observed change of each verified candidate next to its prediction from the plan."""
    cells = cell_means(vm_obs)
    if kind == "roles":
        obs = {c.role_id: c for c in center_candidates(role_candidates(cells), centering)}
        key = "role_id"
    else:
        obs = {c.label: c for c in center_candidates(steering_candidates(cells, steering_kinds(vm_obs, None) | {
            s: kind for s in plan["steering_id"]}, kind), centering)}
        key = "candidate"
    empty = pd.Series(dtype=float)
    rows = []
    for _, p in plan.iterrows():
        c = obs.get(p[key])
        expected = [v for v in values if v in descendants and v != target.value]
        unexpected = [v for v in values if v not in descendants and v != target.value]
        o = score_change(c.change / scale if c else pd.Series(np.nan, index=list(values)), target, unexpected,
                         expected, empty, penalty, tol)
        rows.append({"rank": p["rank"], "candidate": p["candidate"], "n_roles_observed": c.n_roles if c else 0,
                     "predicted_target_change_sd": p["target_change_sd"],
                     "observed_target_change_sd": o["target_change_sd"],
                     "observed_target_change": float(c.change.get(target.value, np.nan)) if c else np.nan,
                     "predicted_side_effect": p["side_effect"], "observed_side_effect": o["side_effect"],
                     "predicted_n_unexpected": p["n_unexpected"], "observed_n_unexpected": o["n_unexpected"],
                     "predicted_score": p["score"], "observed_score": o["score"],
                     "direction_confirmed": bool(pd.notna(o["target_effect"]) and o["target_effect"] > 0)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    """The ``plan`` argument parser."""
    p = ArgumentParser(prog="lm-eval-values plan",
                       description="Rank roles / SAE features / steering vectors by their effect on a "
                                   "target value minus side effects the causal graph does not explain.")
    p.add_argument("--target", required=True, help='"<Value>:+" or "<Value>:-"')
    p.add_argument("--graph", required=True, help="graph: node-link JSON from `graph`, or an edge list FILE[:NAME]")
    p.add_argument("--policy", default="study", choices=("study", "possible", "directed"),
                   help="how non-directed edges are read for descendants (default: study)")
    p.add_argument("--candidates", required=True, help="roles | features | vectors")
    p.add_argument("--matrix", required=True, help="value matrix: sweep folder, matrix.csv or study-format CSV")
    p.add_argument("--split", default=None,
                   help="rank on the rows of this split only (e.g. train); --verify then prefers the other roles")
    p.add_argument("--top", type=int, default=None, help="keep the top K candidates in the table")
    p.add_argument("--penalty", type=float, default=1.0, help="weight of the side effect (default 1)")
    p.add_argument("--tol", type=float, default=0.5, help="a change counts when |z| > tol SD (default 0.5)")
    p.add_argument("--centering", choices=CENTERINGS, default="none",
                   help="median / mrat: remove the shift common to all values from every change vector first")
    p.add_argument("--verify", action="store_true", help="run the top candidates on the model (needs --config)")
    p.add_argument("--config", default=None,
                   help="the sweep (or study) config that produced the matrix (for --verify)")
    p.add_argument("--study-model", default=None, help="with a study --config: the model id (default: its only model)")
    p.add_argument("--model", default=None, help="override model_args.pretrained of --config for --verify")
    p.add_argument("--verify-top", type=int, default=2, help="how many top candidates --verify runs (default 2)")
    p.add_argument("--verify-roles", type=int, default=3, help="roles per steering candidate in --verify (default 3)")
    p.add_argument("--verify-fraction", type=float, default=None, help="item fraction for --verify (default: config)")
    p.add_argument("--out", required=True, help="output folder")
    return p


def _validate_flags(args: argparse.Namespace) -> None:
    if args.candidates not in KINDS:
        raise UserError("--candidates", f"unknown candidate kind {args.candidates!r}", f"use one of: {', '.join(KINDS)}")
    if args.top is not None and args.top < 1:
        raise UserError("--top", f"{args.top} is not positive", "use 1 or more")
    if not (args.penalty >= 0) or not (args.tol >= 0):
        raise UserError("--penalty/--tol", "must be non-negative numbers", "e.g. --penalty 1 --tol 0.5")
    if args.verify and not args.config:
        raise UserError("--config", "--verify needs the sweep config that produced the matrix", "add --config FILE")
    if (args.config or args.model or args.study_model) and not args.verify:
        raise UserError("--verify", "--config/--model/--study-model only matter with --verify",
                        "add --verify or drop them")
    if args.verify_top < 1 or args.verify_roles < 1:
        raise UserError("--verify-top/--verify-roles", "must be at least 1", "e.g. --verify-top 2")
    if args.verify_fraction is not None and not (0 < args.verify_fraction <= 1):
        raise UserError("--verify-fraction", f"{args.verify_fraction} is not in (0, 1]", "e.g. 0.5")


def _load_config(args: argparse.Namespace) -> Any:
    """The sweep config (``--model`` applied), validated; None without ``--verify``."""
    if not args.verify:
        return None
    from lm_eval_values.sweep.config import parse_config

    cfg = load_sweep_or_study_config(args.config, args.study_model)
    if args.model:
        raw = json.loads(json.dumps(cfg.raw, default=str))
        raw.setdefault("model_args", {})["pretrained"] = args.model
        cfg = parse_config(raw, base=Path(args.config).resolve().parent, source=cfg.source)
    return cfg


def load_sweep_or_study_config(path: str, study_model: str | None = None) -> Any:
    """The validated sweep config in ``path``: a sweep YAML, or a study YAML (one of its ``models``).

    A study config's sweep is the model's merged sweep section (the study's own ``vectors:`` are
    built by the study and are not part of it).
    """
    from lm_eval_values.study import parse_study_config
    from lm_eval_values.sweep.config import parse_config
    from lm_eval_values.core.yaml_io import read_yaml_file

    p = Path(path)
    data = read_yaml_file(p, "--config", "a sweep or study YAML file")
    base = p.resolve().parent
    if not (isinstance(data, dict) and "models" in data):
        if study_model is not None:
            raise UserError("--study-model", f"{path} is a sweep config, not a study config", "drop --study-model")
        return parse_config(data, base=base, source=str(p))
    study = parse_study_config(data, base=base, source=str(p))
    ids = [m.id for m in study.models]
    if study_model is None and len(ids) > 1:
        raise UserError("--study-model", f"the study config has {len(ids)} models", f"pick one of: {', '.join(ids)}")
    wanted = study_model if study_model is not None else ids[0]
    if wanted not in ids:
        raise UserError("--study-model", f"no model {wanted!r} in {path}", f"use one of: {', '.join(ids)}")
    return next(m.sweep for m in study.models if m.id == wanted)


def _fmt_table(df: pd.DataFrame) -> str:
    return df.to_string(index=False, float_format=lambda x: f"{x:.3f}")


def main(argv: list[str]) -> int:
    """``lm-eval-values plan``: writes plan.csv / plan.json (and verify.csv / verify.json with --verify)."""
    from lm_eval_values.core.atomic import atomic_write_files, check_output_dir
    from lm_eval_values.causal.reference import load_reference
    from lm_eval_values.matrix.reading import read_value_matrix

    args = build_parser().parse_args(argv)
    _validate_flags(args)
    out = check_output_dir(args.out, "--out")
    vm = read_value_matrix(args.matrix, field="--matrix", check=False)
    if args.split is not None:
        splits = sorted(set(vm.meta["split"].astype(str)))
        if args.split not in splits:
            raise UserError("--split", f"no rows of split {args.split!r} in the matrix", f"use one of: {', '.join(splits)}")
        vm = vm.filter(split=args.split)
    values = vm.values
    target = parse_target(args.target, values)
    graph = load_reference(args.graph, nodes=values)
    desc = descendant_sets(graph, values, args.policy)[target.value]
    cfg = _load_config(args)
    cells = cell_means(vm)
    cands = (role_candidates(cells) if args.candidates == "roles"
             else steering_candidates(cells, steering_kinds(vm, cfg), args.candidates))
    if not cands:
        raise UserError("--candidates", f"the matrix has no {args.candidates} candidates",
                        "pick another kind or give a matrix with such conditions")
    cands = center_candidates(cands, args.centering)
    scale = value_scale(vm)
    parents = [p for p in graph.to_digraph(args.policy).predecessors(target.value) if p in values]
    beta = parent_coefficients(vm, target.value, parents, scale)
    table = rank_candidates(cands, target, desc, values, scale, beta, args.penalty, args.tol)
    if args.top is not None:
        table = table.head(args.top)
    vcfg = None
    if args.verify:
        chosen = table[table["score"].notna()].head(args.verify_top)
        if chosen.empty:
            raise UserError("--target", "no candidate has a measured or predicted effect", "check the matrix")
        vcfg = verify_config(cfg, chosen, args.candidates, vm, args.verify_roles, args.verify_fraction)
    payload: dict[str, Any] = {
        "format": "lm-eval-values/plan", "version": 1, "target": str(target), "graph": args.graph,
        "policy": args.policy, "candidates": args.candidates, "matrix": args.matrix, "split": args.split,
        "centering": args.centering,
        "penalty": args.penalty,
        "tol": args.tol, "descendants": sorted(desc), "parents": {p: float(beta[p]) for p in beta.index},
        "value_sd": {v: float(scale[v]) for v in values},
        "scoring": "score = sign * z[target] - penalty * mean |z[w]| over values w that are neither the target "
                   "nor its graph descendants; z = change / SD of the value over unsteered rows",
        "table": json.loads(table.to_json(orient="records")),
    }
    files = {"plan.csv": table.to_csv(index=False, float_format="%.6g").encode(),
             "plan.json": (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode()}
    atomic_write_files(out, files)
    print(_fmt_table(table[["rank", "candidate", "effect_source", "target_change_sd", "side_effect",
                            "n_unexpected", "score"]]))
    if vcfg is not None:
        _run_verify(vcfg, table, args, target, desc, values, scale, out, payload, set(vm.role_ids))
    print(f"wrote {out}")
    return 0


def _run_verify(vcfg: Any, table: pd.DataFrame, args: argparse.Namespace, target: Target, desc: set[str],
                values: list[str], scale: pd.Series, out: Path, payload: dict[str, Any],
                ranked_roles: set[str]) -> None:
    """Run the restricted sweep (the sweep runner, model loaded once) and write verify.csv / verify.json."""
    from lm_eval_values.core.atomic import atomic_write_files
    from lm_eval_values.sweep.run import run_sweep
    from lm_eval_values.matrix.reading import read_value_matrix

    summary = run_sweep(vcfg, out=out / "verify", progress=False)
    vm_obs = read_value_matrix(summary.matrix_path, field="verify", check=False)
    chosen = table[table["score"].notna()].head(args.verify_top)
    obs = observed_table(chosen, vm_obs, args.candidates, target, desc, values, scale, args.penalty, args.tol,
                         args.centering)
    ver = {"target": str(target), "sweep": str(out / "verify"), "n_conditions": summary.n_conditions,
           "roles": [r.id for r in vcfg.roles], "steering": [s.id for s in vcfg.steering],
           "held_out_roles": [r.id for r in vcfg.roles if r.id not in ranked_roles],
           "elapsed_s": round(summary.total_s, 1), "plan": payload["table"][:len(chosen)],
           "table": json.loads(obs.to_json(orient="records"))}
    atomic_write_files(out, {"verify.csv": obs.to_csv(index=False, float_format="%.6g").encode(),
                             "verify.json": (json.dumps(ver, indent=2, sort_keys=True) + "\n").encode()})
    print("verify (SD units):")
    print(_fmt_table(obs[["rank", "candidate", "predicted_target_change_sd", "observed_target_change_sd",
                          "predicted_side_effect", "observed_side_effect", "direction_confirmed"]]))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
