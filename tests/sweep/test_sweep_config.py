"""Sweep config validation, condition ids, steering grids, item sampling, shards (no model runs)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lm_eval_values.core.errors import UserError
from lm_eval_values.sweep.conditions import parse_shard, shard_conditions
from lm_eval_values.sweep.config import load_config, parse_config, resolve_task_names
from lm_eval_values.values.definitions import VALUE_DEFINITIONS, value_definition_prompt
from lm_eval_values.values.names import SCHWARTZ_VALUES


@pytest.fixture()
def base(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "model").mkdir()
    return {"model_args": {"pretrained": str(tmp_path / "model")}, "tasks": ["values_schwartz"],
            "roles": {"generate": {"train": 2, "test": 1, "seed": 0}}, "output_dir": "out"}


def _parse(d: dict[str, Any], tmp_path: Path):
    return parse_config(d, base=tmp_path)


def test_minimal_config_defaults(base: dict[str, Any], tmp_path: Path) -> None:
    cfg = _parse(base, tmp_path)
    assert cfg.model == "values_hf" and cfg.seeds == [0] and cfg.batch_size == 1
    assert [r.id for r in cfg.roles] == ["", "train-000", "train-001", "test-000"]  # no-role first (train split)
    assert [s.id for s in cfg.steering] == ["none"]
    assert cfg.output_dir == (tmp_path / "out").resolve()
    conds = cfg.conditions()
    assert len(conds) == 4 and len({c.condition_id for c in conds}) == 4
    assert [c.index for c in conds] == [0, 1, 2, 3]


@pytest.mark.parametrize("mutate,field", [
    (lambda d: d.update(bogus=1), "bogus"),
    (lambda d: d["roles"].update(colour="red"), "roles.colour"),
    (lambda d: d["roles"]["generate"].update(size=3), "roles.generate.size"),
    (lambda d: d.update(sampling={"fraction": 0.4, "sed": 1}), "sampling.sed"),
    (lambda d: d.update(steering=[{"type": "none", "coef": 1}]), "steering[0].coef"),
    (lambda d: d.update(steering=[{"type": "sae", "sae": ".", "features": [1], "coefficients": [1], "lay": 2}]),
     "steering[0].lay"),
    (lambda d: d.update(steering=[{"type": "magic"}]), "steering[0].type"),
    (lambda d: d.update(model="gpt4"), "model"),
    (lambda d: d["model_args"].pop("pretrained"), "model_args.pretrained"),
    (lambda d: d["model_args"].update(pretrained="/no/such/model"), "model_args.pretrained"),
    (lambda d: d.update(tasks=[]), "tasks"),
    (lambda d: d.update(tasks="values_schwartz", format="essay"), "format"),
    (lambda d: d.update(seeds=[0, 0]), "seeds"),
    (lambda d: d.update(seeds="zero"), "seeds"),
    (lambda d: d.update(batch_size=0), "batch_size"),
    (lambda d: d.update(sampling={"fraction": 1.5}), "sampling.fraction"),
    (lambda d: d.update(sampling={"fraction": 0.5, "per_split": {"test": 0}}), "sampling.per_split.test"),
    (lambda d: d["roles"].update(template="haiku"), "roles.template"),
    (lambda d: d["roles"].update(files=[{"path": "missing.json"}]), "roles.files[0].path"),
    (lambda d: d["roles"].update(limit=-1), "roles.limit"),
    (lambda d: d.update(steering=[{"type": "prompt", "values": ["Kindness"]}]), "steering[0].values"),
    (lambda d: d.update(steering=[{"type": "prompt", "values": ["Power"], "directions": ["up"]}]),
     "steering[0].directions"),
    (lambda d: d.update(steering=[{"type": "vector", "vector": "nope.npy", "coefficients": [1]}]),
     "steering[0].vector"),
    (lambda d: d.update(steering=[{"type": "sae", "sae": ".", "features": [-1], "coefficients": [1]}]),
     "steering[0].features[0]"),
    (lambda d: d.update(steering=[{"type": "sae", "sae": ".", "features": [1], "coefficients": ["big"]}]),
     "steering[0].coefficients[0]"),
    (lambda d: d.update(steering=[{"type": "sae", "sae": ".", "features": [1], "coefficients": [1],
                                   "positions": "span:"}]), "steering[0].interventions[0].positions"),
    (lambda d: d.update(steering=[{"type": "none"}, {"type": "none"}]), "steering"),
    (lambda d: d.update(model="hf", steering=[{"type": "sae", "sae": ".", "features": [1], "coefficients": [1]}]),
     "model"),
    (lambda d: d.update(apply_chat_template="yes"), "apply_chat_template"),
])
def test_bad_configs_name_the_field(base: dict[str, Any], tmp_path: Path, mutate, field: str) -> None:
    d = copy.deepcopy(base)
    mutate(d)
    with pytest.raises(UserError) as exc:
        _parse(d, tmp_path)
    assert exc.value.field == field, str(exc.value)
    assert "\n" not in str(exc.value)


def test_load_config_yaml_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML at line"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(UserError, match="config: must be a mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "obj.yaml").write_text("model: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(UserError, match="not valid YAML"):  # safe_load refuses python tags
        load_config(tmp_path / "obj.yaml")


def test_condition_ids_are_stable_and_track_what_matters(base: dict[str, Any], tmp_path: Path) -> None:
    ids = [c.condition_id for c in _parse(base, tmp_path).conditions()]
    assert ids == [c.condition_id for c in _parse(copy.deepcopy(base), tmp_path).conditions()]
    # batch size and output folder do not change results -> same ids
    d = copy.deepcopy(base)
    d.update(batch_size=8, output_dir="elsewhere")
    assert ids == [c.condition_id for c in _parse(d, tmp_path).conditions()]
    # the role template changes role texts -> new ids for roles, same id for no-role
    d = copy.deepcopy(base)
    d["roles"]["template"] = "bio"
    new = [c.condition_id for c in _parse(d, tmp_path).conditions()]
    assert new[0] == ids[0] and not set(new[1:]) & set(ids)
    # sampling and tasks change every id
    for key, val in (("sampling", {"fraction": 0.4}), ("tasks", ["valuebench_vcg17"]), ("seeds", [1])):
        d = copy.deepcopy(base)
        d[key] = val
        assert not set(c.condition_id for c in _parse(d, tmp_path).conditions()) & set(ids)


def test_steering_grid_expansion(base: dict[str, Any], tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "v.npy", np.ones(4, dtype="float32"))
    (tmp_path / "sae").mkdir()
    (tmp_path / "sae" / "cfg.json").write_text("{}")
    d = copy.deepcopy(base)
    d["steering"] = [
        "none",
        {"type": "sae", "sae": "sae", "layer": 3, "features": [5, 9], "coefficients": [50, 100],
         "positions": 'span:" your values"'},
        {"type": "vector", "id": "v", "vector": "v.npy", "hookpoint": "model.layers.1", "coefficients": [-2, 2]},
        {"type": "spec", "id": "s", "spec": {"interventions": [{"op": "add", "vector": [1.0, 0.0], "layer": 0}]},
         "coefficients": [0.5]},
        {"type": "prompt", "values": ["Power", "Tradition"]},
    ]
    cfg = _parse(d, tmp_path)
    got = [(s.id, s.coefficient) for s in cfg.steering]
    assert got == [("none", 0.0), ("sae:5", 50.0), ("sae:5", 100.0), ("sae:9", 50.0), ("sae:9", 100.0),
                   ("v", -2.0), ("v", 2.0), ("s", 0.5),
                   ("prompt:Power", 1.0), ("prompt:Power", -1.0), ("prompt:Tradition", 1.0), ("prompt:Tradition", -1.0)]
    sae = cfg.steering[2].steer["interventions"][0]
    assert sae == {"op": "add", "layer": 3, "positions": 'span:" your values"', "sae": str((tmp_path / "sae").resolve()),
                   "feature": 5, "coeff": 100.0}
    assert cfg.steering[2].record()["sources"]  # SAE folder digest is part of the condition id
    assert cfg.steering[5].steer["interventions"][0]["layer"] == "model.layers.1"
    assert cfg.steering[7].steer.interventions[0].coeff == 0.5
    assert cfg.steering[8].prompt.startswith("You are inclined to the value of Power, which means ")
    assert cfg.steering[9].prompt.startswith("You are disinclined to the value of Power")
    assert len(cfg.conditions()) == 4 * 12
    cond = [c for c in cfg.conditions() if c.role.id == "train-000" and c.steering.id == "prompt:Power"][0]
    assert cond.role_prompt == cond.role.text + " " + cfg.steering[8].prompt


def test_value_definitions_cover_schwartz() -> None:
    assert set(VALUE_DEFINITIONS) == set(SCHWARTZ_VALUES)
    assert value_definition_prompt("Security", "disinclined").startswith(
        "You are disinclined to the value of Security, which means seeking safety")
    with pytest.raises(UserError):
        value_definition_prompt("Security", "sideways")


def test_roles_from_files_limit_and_no_role_splits(base: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text('{"Ann": {"text": "A"}, "Bob": {"text": "B"}, "Cy": {"text": "C"}}')
    d = copy.deepcopy(base)
    d["roles"] = {"files": [{"path": "r.json", "split": "test"}], "generate": {"train": 3, "test": 0},
                  "no_role": ["train", "test"], "limit": 2, "template": "text"}
    cfg = _parse(d, tmp_path)
    assert [(r.id, r.split) for r in cfg.roles] == [("", "train"), ("train-000", "train"), ("train-001", "train"),
                                                    ("", "test"), ("Ann", "test"), ("Bob", "test")]
    d["roles"]["files"].append({"path": "r.json", "split": "train"})
    with pytest.raises(UserError, match="duplicate role id 'Ann'"):
        _parse(d, tmp_path)


def test_item_sampling_is_seeded_per_role_and_value(base: dict[str, Any], tmp_path: Path) -> None:
    from lm_eval_values.sweep.items import select_items

    d = copy.deepcopy(base)
    d["sampling"] = {"fraction": 0.4, "seed": 3, "per_split": {"test": 1.0}}
    d["steering"] = ["none", {"type": "prompt", "values": ["Power"], "directions": ["inclined"]}]
    cfg = _parse(d, tmp_path)
    index = {"t_a": [(i, "A", f"a{i:02d}", 1 if i < 7 else -1) for i in range(10)],
             "t_b": [(i, "B", f"b{i:02d}", 1) for i in range(5)]}
    conds = cfg.conditions()
    picks = {(c.role.id, c.steering.id): select_items(index, cfg, c) for c in conds}
    first = picks[("train-000", "none")]
    assert {t: len(v) for t, v in first.items()} == {"t_a": 4, "t_b": 2}
    assert all(v == sorted(v) for v in first.values())
    assert picks[("train-000", "prompt:Power")] == first  # same items for every steering setting of a role
    assert picks[("train-001", "none")] != first  # another role, other items
    assert picks[("test-000", "none")] == {"t_a": list(range(10)), "t_b": list(range(5))}  # test: all items
    assert select_items(index, cfg, conds[2]) == picks[("train-000", "none")]  # deterministic
    d["sampling"] = {"fraction": 0.01, "max_items_per_value": 3}
    cfg2 = _parse(d, tmp_path)
    assert {t: len(v) for t, v in select_items(index, cfg2, cfg2.conditions()[0]).items()} == {"t_a": 1, "t_b": 1}
    d["sampling"] = {"max_items_per_value": 3}
    cfg3 = _parse(d, tmp_path)
    assert {t: len(v) for t, v in select_items(index, cfg3, cfg3.conditions()[0]).items()} == {"t_a": 3, "t_b": 3}
    # per_role: false -> every role gets the same draw (still seeded per value); the identity of sweeps
    # without the key is unchanged
    assert "per_role" not in cfg3.sampling.record()
    d["sampling"] = {"fraction": 0.4, "seed": 3, "per_role": False}
    cfg4 = _parse(d, tmp_path)
    same = {c.role.id: select_items(index, cfg4, c) for c in cfg4.conditions() if c.steering.id == "none"}
    assert len(same) >= 3 and all(v == same["train-000"] for v in same.values())
    assert {t: len(v) for t, v in same["train-000"].items()} == {"t_a": 4, "t_b": 2}
    assert cfg4.sampling.record()["per_role"] is False
    d["sampling"] = {"per_role": "no"}
    with pytest.raises(UserError, match="sampling.per_role"):
        _parse(d, tmp_path)
    # balance_keys: A has 7 positive and 3 reverse-keyed items -> 2 drawn = one of each, 4 drawn = 3 + 1;
    # B has one key only
    for cap, want in ((2, (1, 1)), (4, (3, 1)), (1, None)):
        d["sampling"] = {"max_items_per_value": cap, "balance_keys": True}
        cfg5 = _parse(d, tmp_path)
        for c in cfg5.conditions():
            got = select_items(index, cfg5, c)
            keys = [1 if i < 7 else -1 for i in got["t_a"]]
            assert len(got["t_a"]) == cap and len(got["t_b"]) == cap
            if want:
                assert (keys.count(1), keys.count(-1)) == want
    assert cfg5.sampling.record()["balance_keys"] is True


def test_shards_partition_the_grid(base: dict[str, Any], tmp_path: Path) -> None:
    conds = _parse(base, tmp_path).conditions()
    parts = [shard_conditions(conds, (i, 3)) for i in range(3)]
    assert sorted(c.index for p in parts for c in p) == list(range(len(conds)))
    assert parse_shard(None) == (0, 1) and parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "1", "a/b", "-1/2", "0/0"):
        with pytest.raises(UserError) as exc:
            parse_shard(bad)
        assert exc.value.field == "--shard"


def test_format_picks_task_variant() -> None:
    assert resolve_task_names(["values_schwartz", "valuebench_vcg17"], "likert") == \
        ["values_schwartz_likert", "valuebench_vcg17_likert"]
    assert resolve_task_names(["values_schwartz"], "generate") == ["values_schwartz_gen"]
    assert resolve_task_names(["values_schwartz"], "yesno") == ["values_schwartz"]
    assert resolve_task_names(["values_schwartz_likert_rev"], "likert") == ["values_schwartz_likert_rev"]
    assert resolve_task_names(["x"], None) == ["x"]


def test_shipped_configs_validate() -> None:
    from lm_eval_values.integration.embedded_models import is_alias

    folder = Path(__file__).resolve().parents[2] / "lm_eval_values" / "configs"
    files = sorted(folder.glob("sweep_*.yaml"))
    assert files, "no sweep config shipped"
    for f in files:
        data = yaml.safe_load(f.read_text())
        assert is_alias(data["model_args"]["pretrained"])
        cfg = parse_config(data, base=f.parent)
        assert cfg.conditions()
