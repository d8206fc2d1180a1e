"""The mechanisms in ``core`` that every command's inputs pass: strict YAML, guarded inputs, the reading
boundary, locks, finite flags and seeds, reserved names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lm_eval_values.core.atomic import atomic_directory, atomic_write_files, atomic_write_text, check_output_dir
from lm_eval_values.core.errors import ArgumentParser, UserError, check_seed
from lm_eval_values.core.inputs import argv_paths, check_not_input, guard_inputs, mark_input, reading
from lm_eval_values.core.locks import file_lock
from lm_eval_values.core.reserved import (check_new_task_names, check_steering_id, generated_task_names,
                                          known_task_names)
from lm_eval_values.core.yaml_io import MAX_YAML_VALUES, load_yaml_text, read_yaml_file

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- strict YAML
def test_duplicate_keys_are_errors_at_every_depth() -> None:
    with pytest.raises(UserError, match=r"duplicate key 'a' at line 2 \(first written at line 1\)"):
        load_yaml_text("a: 1\na: 2\n")
    with pytest.raises(UserError, match="duplicate key 'layer' at line 4"):
        load_yaml_text("steering:\n  - type: vector\n    layer: 1\n    layer: 2\n")
    with pytest.raises(UserError, match="duplicate key 1"):
        load_yaml_text("1: a\n1.0: b\n")  # equal keys of different spelling


def test_merge_keys_and_plain_aliases_still_work() -> None:
    data = load_yaml_text("base: &b {x: 1, y: 2}\nmine:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n")
    assert data["mine"] == {"x": 1, "y": 3} and data["list"] == [{"x": 1, "y": 2}] * 2


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    with pytest.raises(UserError, match=f"more than {MAX_YAML_VALUES:,} values through aliases"):
        load_yaml_text("\n".join(lines) + "\n")  # 10**12 values if expanded


def test_recursion_size_and_syntax_limits() -> None:
    with pytest.raises(UserError, match="alias refers to the list or mapping that contains it"):
        load_yaml_text("a: &a [1, *a]\n")
    with pytest.raises(UserError, match="nested"):
        load_yaml_text("[" * 100 + "]" * 100)
    with pytest.raises(UserError, match="bytes, more than"):
        load_yaml_text("x" * (5 * 1024 * 1024))
    with pytest.raises(UserError, match="not valid YAML at line 1"):
        load_yaml_text("a: !!python/object/apply:os.system ['true']\n")


def test_yaml_file_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_yaml_file(tmp_path / "nope.yaml")
    with pytest.raises(UserError, match="is not a file"):
        read_yaml_file(tmp_path)
    (tmp_path / "bin.yaml").write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(UserError, match="not UTF-8"):
        read_yaml_file(tmp_path / "bin.yaml")


# ----------------------------------------------------------------------------- guarded inputs
def test_argv_paths_finds_named_files(tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text("x")
    ref = tmp_path / "g.json"
    ref.write_text("[]")
    found = argv_paths(["graph", str(f), "--out", str(tmp_path), f"--reference={ref}:human", "--seed", "1"])
    assert found == [f.resolve(), ref.resolve()]  # folders and non-paths are not inputs


def test_writers_refuse_to_overwrite_or_replace_inputs(tmp_path: Path) -> None:
    src = tmp_path / "inv" / "inv.csv"
    src.parent.mkdir()
    src.write_text("data")
    with guard_inputs([src]):
        with pytest.raises(UserError, match="would overwrite an input"):
            atomic_write_text(src, "new")
        with pytest.raises(UserError, match="holds the input"):
            with atomic_directory(src.parent):
                pass
        with pytest.raises(UserError, match="--out: .* holds the input"):
            check_output_dir(tmp_path, "--out", replace=True)
        with pytest.raises(UserError, match="overwrite an input"):
            atomic_write_files(src.parent, {"inv.csv": b"x"})
        check_output_dir(tmp_path, "--out")  # writing next to an input is fine
        atomic_write_text(src.parent / "other.csv", "ok")
        late = tmp_path / "late.yaml"
        late.write_text("a: 1")
        read_yaml_file(late)  # readers mark what they read
        with pytest.raises(UserError, match="overwrite an input"):
            atomic_write_text(late, "b: 2")
    assert src.read_text() == "data"
    atomic_write_text(src, "library use is not restricted")  # outside a command
    mark_input(src)  # a no-op outside a command
    check_not_input(src)


def test_reading_turns_any_failure_into_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LM_EVAL_VALUES_DEBUG", raising=False)
    with pytest.raises(UserError, match=r"INPUT: cannot read .*x.npy \(ValueError: bad header\) \(fix: give a"):
        with reading(tmp_path / "x.npy", "INPUT", "an intact .npy"):
            raise ValueError("bad header\nmore detail")
    with pytest.raises(UserError, match="already one line"):  # user errors pass unchanged
        with reading(tmp_path / "x", "INPUT"):
            raise UserError("INPUT", "already one line")
    monkeypatch.setenv("LM_EVAL_VALUES_DEBUG", "1")  # --debug: the original exception and traceback
    with pytest.raises(ValueError, match="bad header"):
        with reading(tmp_path / "x.npy", "INPUT"):
            raise ValueError("bad header")


def test_cli_debug_shows_the_traceback_of_a_reading_failure(tmp_path: Path) -> None:
    d = tmp_path / "runs" / "conditions" / "c1"
    d.mkdir(parents=True)
    (d / "samples_t.jsonl").write_bytes(b'{"doc": {"value": "\xff"}}\n')
    (d / "condition.json").write_text(json.dumps({"condition_id": "c1", "sample_files": {"t": "samples_t.jsonl"}}))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "lm_eval_values.cli", "matrix", str(tmp_path / "runs")]
    plain = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert plain.returncode == 2 and plain.stderr.count("\n") == 1 and "cannot read" in plain.stderr
    debug = subprocess.run(cmd + ["--debug"], capture_output=True, text=True, env=env, timeout=120)
    assert debug.returncode == 1 and "UnicodeDecodeError" in debug.stderr and "Traceback" in debug.stderr


# ----------------------------------------------------------------------------- flags and seeds
def test_flags_and_seeds_are_checked_where_they_enter() -> None:
    p = ArgumentParser(prog="x")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--ks", type=float, nargs="+", default=None)
    assert p.parse_args(["--seed", str(2 ** 32 - 1)]).seed == 2 ** 32 - 1
    for argv, msg in ((["--seed", str(2 ** 32)], "--seed: seed 4294967296 is outside"),
                      (["--seed", "-1"], "outside"), (["--alpha", "inf"], "--alpha: inf is not a finite"),
                      (["--ks", "1", "nan"], "--ks: nan is not a finite")):
        with pytest.raises(UserError, match=msg):
            p.parse_args(argv)
    assert check_seed(7, "seed") == 7
    for bad in (True, 1.0, "3", -1, 2 ** 32):
        with pytest.raises(UserError):
            check_seed(bad, "seeds[0]")


# ----------------------------------------------------------------------------- reserved names
@pytest.mark.parametrize("sid", ["none", "None", "NONE", "nan", "NaN", " none "])
def test_steered_entries_cannot_take_the_unsteered_id(sid: str) -> None:
    with pytest.raises(UserError, match="reserved for unsteered"):
        check_steering_id(sid, True, "steering[0].id")
    assert check_steering_id(sid, False, "steering[0].id") == sid  # an unsteered entry may say so


def test_ids_with_separators_are_refused() -> None:
    for sid, why in (("a,b", "commas"), ("v@4", "dose")):
        with pytest.raises(UserError, match=why):
            check_steering_id(sid, True, "id")
    assert check_steering_id("vec:Power", True, "id") == "vec:Power"


def test_task_names_of_lm_eval_and_of_this_package_are_reserved() -> None:
    names = known_task_names()
    assert {"arc_easy", "hellaswag", "mmlu", "values_schwartz", "values"} <= names
    with pytest.raises(UserError, match="arc_easy"):
        check_new_task_names(["arc_easy", "values_mine_power"], "--prefix", "choose another prefix")
    check_new_task_names(["values_mine_power", "values_mine"], "--prefix", "x")
    files = {"yesno/t.yaml": "task: values_mine_power\ninclude: ../_t.yaml\n",
             "yesno/_g.yaml": "group: values_mine\ntask:\n  - values_mine_power\n",
             "other.yaml": "tag:\n  - tag_a\n  - 'tag_b'\n", "utils.py": "task: not_yaml\n"}
    assert generated_task_names(files) == {"values_mine_power", "values_mine", "tag_a", "tag_b"}


# ----------------------------------------------------------------------------- locks
def test_a_lock_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    lock, done = tmp_path / "sub" / ".lock-c1", tmp_path / "done"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import pathlib, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from lm_eval_values.core.locks import file_lock
        with file_lock({str(lock)!r}) as held:
            print("held" if held else "busy", flush=True)
            time.sleep(2)
            pathlib.Path({str(done)!r}).write_text("the guarded work")
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with file_lock(lock) as held:
            assert held is False  # another process holds it
        with file_lock(lock, wait=True) as held:
            assert held is True and done.is_file()  # waited until the holder's work was done
    finally:
        holder.kill()
        holder.wait()
    with file_lock(lock) as held:
        assert held  # released with its process


def test_a_singular_matrix_of_the_users_data_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from lm_eval_values.cli import run_guarded

    def singular() -> int:
        np.linalg.inv(np.zeros((2, 2)))
        return 0

    assert run_guarded(singular, debug=False, inputs=[tmp_path / "m.csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: INPUT: the numbers in m.csv leave a singular matrix")
    with pytest.raises(np.linalg.LinAlgError):
        run_guarded(singular, debug=True)

    def bug() -> int:
        raise KeyError("a genuine bug")

    with pytest.raises(KeyError):  # anything else keeps its traceback
        run_guarded(bug, debug=False)
