"""End-to-end study on a tiny random model: stages, resume, report regeneration, config errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lm_eval_values.core.errors import UserError
from lm_eval_values.values.names import SCHWARTZ_VALUES

REPO = Path(__file__).resolve().parents[2]


def tiny_config(model_dir: Path) -> dict:
    """A small study: 4 train + 2 test roles (+ no-role in both) x (none, prompt:Power +1, vec:Power +0.5)."""
    return {
        "name": "Tiny study",
        "seed": 0,
        "models": [{"id": "tiny", "label": "tiny llama", "model_args": {"pretrained": str(model_dir), "dtype": "float32"},
                    "apply_chat_template": True}],
        "sweep": {
            "tasks": ["values_schwartz"],
            "roles": {"generate": {"train": 4, "test": 2, "seed": 0}, "no_role": ["train", "test"]},
            "steering": [{"type": "none"}, {"type": "prompt", "values": ["Power"], "directions": ["inclined"]}],
            "sampling": {"max_items_per_value": 2, "seed": 0},
            "batch_size": 32,
        },
        "vectors": {"values": ["Power"], "layer": 1, "coefficients": [0.5]},
        "graph": {"bootstrap": 4, "jobs": 1},
        "human": {"permutations": 50, "bootstrap": 20, "causal": False},  # 7 respondents: too few for PC
        "side_effects": {"n_random": 5},
    }


def write_config(tmp: Path, cfg: dict) -> Path:
    p = tmp / "study.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


@pytest.fixture(scope="module")
def peaky_model(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The tiny random model with its weights scaled up, so that answers depend on the role text
    (the unscaled model's near-uniform probabilities give a rank-deficient value matrix)."""
    import torch
    import transformers

    out = tmp_path_factory.mktemp("peaky")
    for f in tiny_model_dir.iterdir():
        if f.is_file() and not f.name.endswith(".safetensors"):
            shutil.copy(f, out / f.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.mul_(6.0)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def study_run(tmp_path_factory: pytest.TempPathFactory, peaky_model: Path) -> tuple[Path, Path, str]:
    """Run the tiny study once for the module; returns (config path, run dir, stdout)."""
    from lm_eval_values.cli.study import main as study_main

    tmp = tmp_path_factory.mktemp("study")
    cfg = write_config(tmp, tiny_config(peaky_model))
    out = tmp / "run"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert study_main([str(cfg), "--out", str(out), "--no-progress"]) == 0
    return cfg, out, buf.getvalue()


def test_study_runs_every_stage(study_run: tuple[Path, Path, str]) -> None:
    _, out, stdout = study_run
    for stage in ("vectors", "sweep", "reliability", "graph", "human", "side_effects"):
        assert (out / "tiny" / stage / "stage.json").is_file(), stage
    assert (out / "tiny" / "vectors" / "power.safetensors").is_file()
    matrix = (out / "tiny" / "sweep" / "matrix.csv").read_text()
    lines = matrix.strip().splitlines()
    # (4 train + 1 no-role) + (2 test + 1 no-role) role conditions x (none, prompt:Power +1, vec:Power 0.5)
    assert len(lines) == 1 + 8 * 3
    assert "vec:Power" in matrix and "prompt:Power" in matrix
    g = json.loads((out / "tiny" / "graph" / "result.json").read_text())
    assert g["rows"]["n_rows"] == 5 * 3 and g["bootstrap"]["n_boot"] == 4, g.get("skipped_reason")
    assert g["settings"]["sample_size"]["mode"] == "effective" and g["settings"]["jci"] == "steering"
    assert set(g["edges_by_sample_size"]) == {"rows", "effective"}
    assert g["rows"]["steering_ids"] == ["none", "prompt:Power@1", "vec:Power@0.5"]  # each dose its own setting
    h = json.loads((out / "tiny" / "human" / "compare_human.json").read_text())
    assert h["n_rows"] == 7  # unsteered: 4 train + 2 test roles + the no-role condition (run in both splits, once)
    se = json.loads((out / "tiny" / "side_effects" / "result.json").read_text())
    assert "role prompting" in se["study_metric"]
    rel = json.loads((out / "tiny" / "reliability" / "reliability.json").read_text())
    assert set(rel["values"]) == set(SCHWARTZ_VALUES) and all("g" in v and "signal" in v for v in rel["values"].values())
    assert any("values carry between-role signal" in line for line in stdout.splitlines())
    assert (out / "report.html").is_file()
    assert "Study 'Tiny study' finished" in stdout and "tiny llama" in stdout
    # the per-value table: one row per Schwartz value, numbers equal to the saved profile
    import pandas as pd

    assert "Value profile of tiny" in stdout
    prof = pd.read_csv(out / "data" / "tiny_value_profile.csv")
    assert len(prof) == 10
    for r in prof.itertuples():
        assert f"{r.mean:+.3f}" in next(line for line in stdout.splitlines() if line.strip().startswith(r.value + " "))


def test_html_references_existing_files_only(study_run: tuple[Path, Path, str]) -> None:
    _, out, _ = study_run
    page = (out / "report.html").read_text()
    refs = re.findall(r"""(?:src|href)=['"]([^'"#][^'"]*)['"]""", page)
    assert any(r.endswith(".png") for r in refs)
    for r in refs:
        assert "://" not in r and not r.startswith("/"), r  # relative, no external assets
        assert (out / r).is_file(), r
    assert "<script" not in page and "@import" not in page and "url(" not in page
    n_img = len(re.findall(r"<img ", page))
    assert n_img >= 6  # profile, 3 human plots, graph, dose-response


def test_report_regenerates_same_numbers(study_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    from lm_eval_values.cli.report import main as report_main

    _, out, _ = study_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    before = (copy / "report.html").read_text()
    data_before = (copy / "data" / "report_data.json").read_text()
    (copy / "report.html").unlink()
    shutil.rmtree(copy / "figures")
    shutil.rmtree(copy / "data")
    assert report_main([str(copy)]) == 0
    assert (copy / "report.html").read_text() == before
    assert (copy / "data" / "report_data.json").read_text() == data_before
    # the numbers are the matrix's: the profile mean of one value recomputed by hand
    import pandas as pd

    m = pd.read_csv(copy / "tiny" / "sweep" / "matrix.csv", keep_default_na=False, na_values=[""])
    un = m[m["steering_id"] == "none"]
    per_role = un.groupby(un["role_id"].fillna(""))["Power"].mean()  # each respondent once (no role: both splits)
    prof = pd.read_csv(copy / "data" / "tiny_value_profile.csv").set_index("value")
    assert abs(prof.loc["Power", "mean"] - per_role.mean()) < 1e-5 and prof.loc["Power", "n_respondents"] == 7
    # the profile's interval includes item sampling (where a value has two items of a key), and is wider than
    # the roles-only interval it replaces; where it cannot include items it says so
    inc = prof["item_sampling"] == "included"
    assert inc.sum() >= 5
    assert (prof.loc[inc, "interval"] == "roles and items (two-way bootstrap)").all()
    assert prof.loc[~inc, "interval"].str.startswith("roles only: item sampling not estimable").all()
    honest = prof[inc]
    assert ((honest["ci_hi"] - honest["ci_lo"]) > (honest["roles_only_hi"] - honest["roles_only_lo"])).all()


#: the stage commands: (stage folder, command)
STAGE_COMMANDS = [("reliability", "reliability"), ("graph", "graph"), ("human", "compare-human"),
                  ("side_effects", "side-effects")]


@pytest.mark.parametrize("stage, command", STAGE_COMMANDS)
def test_stage_commands_rerun_the_study_byte_for_byte(study_run: tuple[Path, Path, str], tmp_path: Path,
                                                      stage: str, command: str) -> None:
    """`lm-eval-values <command> --study RUN --model ID --out DIR` writes the stage folder's files, byte for
    byte (all but stage.json, the study's record of the inputs hash and the timing)."""
    from lm_eval_values.cli import main as cli_main

    _, out, _ = study_run
    folder = out / "tiny" / stage
    again = tmp_path / stage
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        assert cli_main([command, "--study", str(out), "--model", "tiny", "--out", str(again)]) == 0
    expected = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "stage.json"}
    got = {p.name: p.read_bytes() for p in again.iterdir()}
    assert sorted(got) == sorted(expected)
    assert len(expected) >= 1
    for name in expected:
        assert got[name] == expected[name], f"{stage}/{name} differs"


def test_stage_command_options_change_the_study_settings(study_run: tuple[Path, Path, str], tmp_path: Path) -> None:
    from lm_eval_values.cli import main as cli_main

    _, out, _ = study_run
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        assert cli_main(["graph", "--study", str(out), "--out", str(tmp_path / "g"), "--sample-size", "rows",
                         "--jci", "none", "--bootstrap", "0"]) == 0
    g = json.loads((tmp_path / "g" / "result.json").read_text())
    assert g["settings"]["sample_size"]["mode"] == "rows" and g["settings"]["split"] == "train"
    assert g["rows"]["n_rows"] == 15 and g["bootstrap"] is None
    assert cli_main(["graph", "--study", str(out), "--model", "nope", "--out", str(tmp_path / "x")]) == 2
    assert cli_main(["graph", str(out / "tiny" / "sweep"), "--study", str(out), "--out", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_rerun_skips_complete_stages(study_run: tuple[Path, Path, str]) -> None:
    from lm_eval_values.cli.study import main as study_main

    cfg, out, _ = study_run
    stamp = {p: p.stat().st_mtime_ns for p in (out / "tiny").glob("*/stage.json")}
    assert len(stamp) == 6
    data = (out / "data" / "report_data.json").read_text()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        assert study_main([str(cfg), "--out", str(out), "--no-progress"]) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "tiny").glob("*/stage.json")} == stamp
    assert (out / "data" / "report_data.json").read_text() == data  # same numbers (only the run time differs)
    # --redo runs the named analysis stage again (same numbers), leaves the others alone
    human = (out / "tiny" / "human" / "compare_human.json").read_bytes()
    with contextlib.redirect_stdout(io.StringIO()):
        assert study_main([str(cfg), "--out", str(out), "--no-progress", "--redo", "human"]) == 0
    after = {p: p.stat().st_mtime_ns for p in (out / "tiny").glob("*/stage.json")}
    assert [p.parent.name for p in stamp if after[p] != stamp[p]] == ["human"]
    assert (out / "tiny" / "human" / "compare_human.json").read_bytes() == human
    from lm_eval_values.cli import main as cli_main

    assert cli_main(["study", str(cfg), "--out", str(out), "--redo", "sweep"]) == 2


@pytest.mark.parametrize("mutate, field", [
    (lambda c: c.update(bogus=1), "bogus"),
    (lambda c: c["graph"].update(alpah=0.1), "graph.alpah"),
    (lambda c: c["sweep"].update(rolez={}), "models[tiny].rolez"),
    (lambda c: c["models"][0].update(model_args={"pretrained": "/nonexistent/model"}), "models[tiny].model_args.pretrained"),
    (lambda c: c["vectors"].update(values=["Nonsense"]), "vectors.values"),
    (lambda c: c["sweep"]["roles"].update(generate={"train": 1, "test": 0}), "models[tiny].roles"),
    (lambda c: c["models"].append(dict(c["models"][0])), "models[1].id"),
])
def test_bad_config_one_line_error_nothing_written(tmp_path: Path, tiny_model_dir: Path, mutate, field: str) -> None:
    cfg = tiny_config(tiny_model_dir)
    mutate(cfg)
    path = write_config(tmp_path, cfg)
    out = tmp_path / "run"
    from lm_eval_values.cli.study import main as study_main

    with pytest.raises(UserError) as ei:
        study_main([str(path), "--out", str(out)])
    assert ei.value.field == field
    assert "\n" not in str(ei.value)
    assert not out.exists()


def test_bad_config_cli_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models: [{id: x, model_args: {pretrained: smollm2-135m-instruct}}]\nsweep: {tasks: [values_schwartz]}\nextra: 1\n")
    r = subprocess.run([sys.executable, "-m", "lm_eval_values.cli", "study", str(path), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "extra" in r.stderr
    assert not (tmp_path / "o").exists()


def _bundled_study_configs(tiny_model_dir: Path) -> list[tuple[Path, dict]]:
    """Every bundled study config, hub models swapped for the tiny model (no hub here)."""
    configs = sorted((REPO / "lm_eval_values" / "configs").glob("study_*.yaml"))
    assert {p.name for p in configs} >= {"study_smollm2.yaml", "study_two_models.yaml"}
    out = []
    for p in configs:
        data = yaml.safe_load(p.read_text())
        for m in data["models"]:
            if "/" in str(m["model_args"]["pretrained"]):
                m["model_args"]["pretrained"] = str(tiny_model_dir)
        out.append((p, data))
    return out


def _local_sae_refs(data: dict) -> list[str]:
    return [s["sae"] for s in data["sweep"].get("steering", [])
            if isinstance(s, dict) and s.get("type") == "sae" and str(s["sae"]).startswith("$LM_EVAL_VALUES_HOME")]


def test_bundled_configs_validate(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bundled config passes validation on a fresh machine (empty cache). A config that steers
    with a locally trained SAE names it under $LM_EVAL_VALUES_HOME: without that SAE it fails with one
    line naming the field; once an SAE is there (a tiny stand-in here) it validates."""
    from sae_lens import StandardSAE, StandardSAEConfig

    from lm_eval_values.study.config import parse_study_config

    monkeypatch.setenv("LM_EVAL_VALUES_HOME", str(tmp_path / "home"))
    needing_sae = 0
    for p, data in _bundled_study_configs(tiny_model_dir):
        refs = _local_sae_refs(data)
        if refs:
            needing_sae += 1
            with pytest.raises(UserError, match=r"steering\[\d+\]\.sae: .*does not exist"):
                parse_study_config(data, base=p.parent, source=str(p))
            for ref in refs:
                folder = Path(str(ref).replace("$LM_EVAL_VALUES_HOME", str(tmp_path / "home")))
                if not folder.exists():
                    StandardSAE(StandardSAEConfig(d_in=64, d_sae=32)).save_model(str(folder))
        cfg = parse_study_config(data, base=p.parent, source=str(p))
        assert cfg.models and cfg.analysis.graph.bootstrap.n_boot >= 0
    assert needing_sae >= 1  # study_smollm2_sae.yaml
