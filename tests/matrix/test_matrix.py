"""matrix.csv / items.csv from per-condition files (synthetic folders, no model), and merge errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from lm_eval_values.core.conditions import coefficient_text
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.condition_files import read_conditions
from lm_eval_values.matrix.reading import matrix_from_results_dir
from lm_eval_values.cli.matrix import main as matrix_main
from lm_eval_values.matrix.tables import build_tables, fmt_float, order_values


def _sample(doc_id: int, value: str, score: float, item: str | None = None, metric: str = "score") -> dict[str, Any]:
    return {"doc_id": doc_id, "doc": {"item_id": item or f"{value[:2]}{doc_id}", "value": value, "agreement": 1,
                                      "format": "yesno", "inventory": "t"},
            "metrics": [metric, "score_argmax"], metric: score, "score_argmax": 1.0 if score > 0 else -1.0}


def write_condition(root: Path, cid: str, index: int, samples: dict[str, list[dict[str, Any]]], role: str = "r",
                    steering: str = "none", coef: float = 0.0, identity: str = "I") -> Path:
    d = root / "conditions" / cid
    d.mkdir(parents=True)
    files = {}
    for task, rows in samples.items():
        (d / f"samples_{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        files[task] = f"samples_{task}.jsonl"
    rec = {"condition_id": cid, "role_id": role, "split": "train", "steering_id": steering, "coefficient": coef,
           "seed": 0, "index": index, "identity_hash": identity, "sample_files": files}
    (d / "condition.json").write_text(json.dumps(rec))
    return d


def test_formatting_helpers() -> None:
    assert fmt_float(0.1234567) == "0.123457"
    assert fmt_float(-0.0000001) == "0.000000"  # no negative zero
    assert fmt_float(float("nan")) == "" and fmt_float(None) == ""
    assert coefficient_text(100.0) == "100" and coefficient_text(-1) == "-1" and coefficient_text(0.25) == "0.25"
    assert coefficient_text(None) == ""
    assert order_values(["Zeal", "Tradition", "Power", "Achievement", "Aesthetic"]) == \
        ["Power", "Achievement", "Tradition", "Aesthetic", "Zeal"]


def test_tables_from_sweep_folder(tmp_path: Path) -> None:
    # written out of grid order on purpose; rows follow the recorded index
    write_condition(tmp_path, "bbb", 1, {"t_tradition": [_sample(0, "Tradition", 0.5), _sample(1, "Tradition", -0.25)],
                                         "t_power": [_sample(3, "Power", 1.0)]}, role="r2", steering="prompt:Power",
                    coef=-1.0)
    write_condition(tmp_path, "aaa", 0, {"t_power": [_sample(2, "Power", 0.1), _sample(0, "Power", 0.2)]})
    conds = read_conditions(tmp_path)
    assert [c.meta["condition_id"] for c in conds] == ["aaa", "bbb"]
    t = build_tables(conds)
    assert t.matrix_csv == ("condition_id,role_id,split,steering_id,coefficient,seed,Power,Tradition\n"
                            "aaa,r,train,none,0,0,0.150000,\n"
                            "bbb,r2,train,prompt:Power,-1,0,1.000000,0.125000\n")
    lines = t.items_csv.splitlines()
    assert lines[0] == ("condition_id,role_id,split,steering_id,coefficient,seed,task,doc_id,item_id,value,"
                        "agreement,format,inventory,metric,score")
    assert lines[1] == "aaa,r,train,none,0,0,t_power,0,Po0,Power,1,yesno,t,score,0.200000"  # by doc id
    assert len(lines) == 1 + 5
    assert build_tables(read_conditions(tmp_path)).matrix_csv == t.matrix_csv  # deterministic
    argmax = build_tables(conds, score_metric="score_argmax")
    assert "aaa,r,train,none,0,0,1.000000," in argmax.matrix_csv
    with pytest.raises(UserError, match="'acc' is not a per-sample metric"):
        build_tables(conds, score_metric="acc")
    vm = matrix_from_results_dir(tmp_path)
    assert vm.values == ["Power", "Tradition"] and math.isnan(vm.scores.iloc[0, 1])
    assert vm.meta["coefficient"].tolist() == [0.0, -1.0]
    assert matrix_main([str(tmp_path)]) == 0
    assert (tmp_path / "matrix.csv").read_text() == t.matrix_csv


def test_auto_metric_and_bad_samples(tmp_path: Path) -> None:
    write_condition(tmp_path / "a", "c1", 0, {"t": [_sample(0, "Power", 0.3, metric="value_score")]})
    assert "c1,r,train,none,0,0,0.300000" in build_tables(read_conditions(tmp_path / "a")).matrix_csv
    bad = _sample(0, "Power", 0.3)
    bad["metrics"], bad.pop("score"), bad.pop("score_argmax")
    bad["metrics"] = ["bleu"]
    write_condition(tmp_path / "b", "c1", 0, {"t": [bad]})
    with pytest.raises(UserError, match="no item score metric"):
        build_tables(read_conditions(tmp_path / "b"))
    novalue = _sample(0, "Power", 0.3)
    novalue["doc"].pop("value")
    write_condition(tmp_path / "c", "c1", 0, {"t": [novalue]})
    with pytest.raises(UserError, match="carry no doc\\['value'\\]"):
        build_tables(read_conditions(tmp_path / "c"))


def test_mixed_sweeps_and_missing_files_are_refused(tmp_path: Path) -> None:
    write_condition(tmp_path, "c1", 0, {"t": [_sample(0, "Power", 0.3)]}, identity="I1")
    write_condition(tmp_path, "c2", 1, {"t": [_sample(0, "Power", 0.3)]}, identity="I2")
    with pytest.raises(UserError, match="mixes conditions of 2 different sweeps"):
        read_conditions(tmp_path)
    other = tmp_path / "other"
    d = write_condition(other, "c3", 0, {"t": [_sample(0, "Power", 0.3)]})
    (d / "samples_t.jsonl").unlink()
    with pytest.raises(UserError, match="is missing"):
        read_conditions(other)
    with pytest.raises(UserError, match="no finished conditions"):
        read_conditions(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)
    with pytest.raises(UserError, match="not a folder"):
        read_conditions(tmp_path / "nope")
    # temp folders of a killed run are ignored
    write_condition(tmp_path / "k", "c1", 0, {"t": [_sample(0, "Power", 0.3)]})
    (tmp_path / "k" / "conditions" / ".tmp-c2.abc").mkdir()
    assert len(read_conditions(tmp_path / "k")) == 1


def _plain(root: Path, name: str, ts: str, cfg: dict[str, Any], samples: list[dict[str, Any]] | None) -> None:
    d = root / name / "my__model"
    d.mkdir(parents=True)
    (d / f"results_{ts}.json").write_text(json.dumps({"results": {}, "config": cfg}))
    if samples is not None:
        (d / f"samples_t_power_{ts}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))


def test_plain_lm_eval_folders(tmp_path: Path) -> None:
    steer = {"name": "model_args", "interventions": [{"op": "add", "sae": "x", "feature": 123, "coeff": 50.0}]}
    _plain(tmp_path, "steered", "2026-01-01T00-00-00.1", {
        "model_args": "pretrained=m,sae=x,feature=123,coeff=50", "random_seed": 0,
        "values_condition": {"role_id": "Ann", "steer": steer, "steer_hash": "abc"}}, [_sample(0, "Power", 0.5)])
    _plain(tmp_path, "base", "2026-01-01T00-00-00.2", {"model_args": {"pretrained": "m"}, "random_seed": 0},
           [_sample(0, "Power", -0.5)])
    t = build_tables(read_conditions(tmp_path))
    assert t.matrix_csv.splitlines()[1:] == ["base,,,none,0,0,-0.500000", "steered,Ann,,123,50,0,0.500000"]
    _plain(tmp_path, "broken", "2026-01-01T00-00-00.3", {"random_seed": 0}, None)
    with pytest.raises(UserError, match="has no samples_"):
        read_conditions(tmp_path)


def test_merge_errors(tmp_path: Path) -> None:
    from lm_eval_values.sweep.merge import merge_shards

    with pytest.raises(UserError, match="no manifest.shard"):
        merge_shards(tmp_path)
    base = {"all_condition_ids": ["c0", "c1"], "conditions": [], "complete": True}
    (tmp_path / "manifest.shard-0-of-2.json").write_text(json.dumps({**base, "config_hash": "A"}))
    (tmp_path / "manifest.shard-1-of-2.json").write_text(json.dumps({**base, "config_hash": "B"}))
    with pytest.raises(UserError, match="belongs to another sweep"):
        merge_shards(tmp_path)
    (tmp_path / "manifest.shard-1-of-2.json").write_text(json.dumps({**base, "config_hash": "A", "complete": False}))
    with pytest.raises(UserError, match="2 of 2 conditions are not finished \\(shard\\(s\\) 1 did not finish\\)"):
        merge_shards(tmp_path)
    (tmp_path / "manifest.shard-1-of-3.json").write_text(json.dumps({**base, "config_hash": "A"}))
    with pytest.raises(UserError, match="other shards are of 2"):
        merge_shards(tmp_path)
