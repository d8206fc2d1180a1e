"""``lm-eval-values make-tasks``: a user inventory -> task YAMLs + groups; validation first, no partial output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_values.core.errors import UserError
from lm_eval_values.cli.make_tasks import main

ROWS = [  # written for this test
    ("MINE", "I enjoy fixing things with my hands.", "Craft", 1, "Should I fix things with my own hands?"),
    ("MINE", "I would rather pay someone to repair my things.", "Craft", -1, "Should I pay someone to repair my things?"),
    ("MINE", "I like to plan my week in detail.", "Planning", 1, "Should I plan my week in detail?"),
]


def _write_csv(path: Path, rows=ROWS, header="questionnaire,item,value,agreement,question") -> Path:
    lines = [header] + [",".join(f'"{c}"' for c in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_make_tasks_writes_runnable_family(tmp_path, tiny_models) -> None:
    import lm_eval

    from lm_eval_values import get_task_manager

    src = _write_csv(tmp_path / "mine.csv")
    out = tmp_path / "out"
    assert main([str(src), "--prefix", "values_mine", "--out", str(out)]) == 0
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "yesno/values_mine_craft.yaml" in names and "generate/values_mine_planning_gen.yaml" in names
    assert "yesno/_values_mine.yaml" in names and "likert_rev/_values_mine_likert_rev.yaml" in names
    assert "utils.py" in names
    # item text is never written into the YAMLs, only the dimension and the source path
    assert not any("fix things" in (out / n).read_text() for n in names if n.endswith(".yaml"))
    res = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={tiny_models['gpt2']},device=cpu",
                                  tasks=["values_mine", "values_mine_likert"], log_samples=True,
                                  task_manager=get_task_manager(include_path=[str(out)]))
    assert res["results"]["values_mine_craft"]["value_score,none"] == pytest.approx(
        sum(s["value_score"] for s in res["samples"]["values_mine_craft"]) / 2)
    docs = {s["doc"]["item_id"]: s["doc"] for s in res["samples"]["values_mine_craft_likert"]}
    assert docs["r0002"]["agreement"] == -1 and docs["r0001"]["inventory"] == "MINE"
    assert "agree_bias,none" in res["results"]["values_mine_craft"]


def test_make_tasks_jsonl_and_formats(tmp_path) -> None:
    src = tmp_path / "mine.jsonl"
    src.write_text("\n".join(json.dumps(dict(zip(("questionnaire", "item", "value", "agreement", "question"), r)))
                             for r in ROWS) + "\n")
    out = tmp_path / "o"
    assert main([str(src), "--prefix", "values_j", "--out", str(out), "--formats", "yesno"]) == 0
    assert sorted(p.name for p in (out / "yesno").iterdir()) == ["_values_j.yaml", "values_j_craft.yaml",
                                                                 "values_j_planning.yaml"]
    assert not (out / "likert").exists()


@pytest.mark.parametrize("header,rows,match", [
    ("questionnaire,item,value,question", [r[:3] + r[4:] for r in ROWS], "lacks column"),
    ("questionnaire,item,value,agreement,question", [ROWS[0][:3] + (2,) + ROWS[0][4:]], "agreement must be"),
    ("questionnaire,item,value,agreement,question", [ROWS[0][:3] + ("yes",) + ROWS[0][4:]], "agreement must be"),
    ("questionnaire,item,value,agreement,question", [("MINE", "", "Craft", 1, "Should I?")], "empty 'item'"),
])
def test_make_tasks_rejects_bad_input_without_output(tmp_path, header, rows, match) -> None:
    src = _write_csv(tmp_path / "bad.csv", rows, header)
    out = tmp_path / "never"
    with pytest.raises(UserError, match=match):
        main([str(src), "--prefix", "values_bad", "--out", str(out)])
    assert not out.exists()


def test_make_tasks_prefix_and_existing_out(tmp_path) -> None:
    src = _write_csv(tmp_path / "mine.csv")
    with pytest.raises(UserError, match="--prefix"):
        main([str(src), "--prefix", "Bad-Name", "--out", str(tmp_path / "x")])
    with pytest.raises(UserError, match="clashes"):
        main([str(src), "--prefix", "values_schwartz", "--out", str(tmp_path / "x")])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        main([str(src), "--prefix", "values_mine", "--out", str(busy)])
    assert (busy / "keep.txt").read_text() == "mine"
    with pytest.raises(UserError, match="--formats"):
        main([str(src), "--prefix", "values_mine", "--out", str(tmp_path / "y"), "--formats", "essay"])
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_make_tasks_cli_one_line_exit_2(tmp_path) -> None:
    src = _write_csv(tmp_path / "bad.csv", [ROWS[0][:3] + (0,) + ROWS[0][4:]])
    exe = Path(sys.executable).with_name("lm-eval-values")
    out = subprocess.run([str(exe), "make-tasks", str(src), "--prefix", "values_bad", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "agreement must be +1 or -1" in out.stderr
    assert not (tmp_path / "o").exists()


def _load_generator(family: str):
    import importlib.util

    from lm_eval_values.core.paths import tasks_dir

    path = tasks_dir() / family / "_generate_configs.py"
    spec = importlib.util.spec_from_file_location(f"_gen_{family}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _committed_yamls(root: Path, subdirs) -> set[str]:
    return {p.relative_to(root).as_posix() for d in subdirs for p in (root / d).glob("*.yaml")}


def test_schwartz_generator_matches_committed_files() -> None:
    """The committed Schwartz YAMLs are exactly what the generator writes (deterministic, no stale files)."""
    from lm_eval_values.core.files import FORMAT_SUFFIXES
    from lm_eval_values.core.paths import tasks_dir

    root = tasks_dir() / "schwartz"
    files = _load_generator("schwartz").build()
    for rel, text in files.items():
        assert (root / rel).read_text() == text, rel
    assert _committed_yamls(root, FORMAT_SUFFIXES) == {r for r in files if "/" in r}


def test_valuebench_generator_matches_committed_files(valuebench_csv) -> None:
    from lm_eval_values.core.files import FORMAT_SUFFIXES
    from lm_eval_values.core.paths import tasks_dir

    files, pfiles = _load_generator("valuebench").build(str(valuebench_csv))
    for root, gen in ((tasks_dir() / "valuebench", files), (tasks_dir() / "pvq40", pfiles)):
        for rel, text in gen.items():
            assert (root / rel).read_text() == text, rel
        assert _committed_yamls(root, [*FORMAT_SUFFIXES, "vcg17"]) == {r for r in gen if "/" in r}
    assert sum(1 for r in files if r.startswith("yesno/valuebench_")) == 224
    assert "yesno/_valuebench_all.yaml" in files and "vcg17/_valuebench_vcg17_gen.yaml" in files
    # only dimension names, never item text, in the committed YAMLs
    import csv

    with open(valuebench_csv, newline="") as fh:
        texts = [t for r in csv.DictReader(fh) for t in (r["item"], r["question"])]
    blob = "\n".join([*files.values(), *pfiles.values()])
    assert not any(t in blob for t in texts)
