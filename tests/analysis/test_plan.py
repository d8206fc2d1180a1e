"""``lm-eval-values plan``: ranking with a known answer, --verify on the tiny model, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lm_eval_values.cli import main as cli_main

VALUES = ["A", "B", "C", "D"]
META = ["condition_id", "role_id", "split", "steering_id", "coefficient", "seed"]


def _matrix(rows: list[tuple[str, str, float, list[float]]]) -> pd.DataFrame:
    out = []
    for i, (role, sid, coef, scores) in enumerate(rows):
        out.append({"condition_id": f"c{i}", "role_id": role, "split": "train", "steering_id": sid,
                    "coefficient": coef, "seed": 0, **dict(zip(VALUES, scores))})
    return pd.DataFrame(out, columns=META + VALUES)


def _baselines(n: int = 4) -> list[list[float]]:
    """Unsteered role scores with unit-ish spread so SD units are well defined."""
    rng = np.random.default_rng(0)
    return [list(rng.normal(0, 1, len(VALUES))) for _ in range(n)]


@pytest.fixture()
def role_case(tmp_path: Path) -> dict[str, Path]:
    """No-role baseline + 3 roles: 'tidy' moves A and its descendant B; 'messy' moves A more but also C, D."""
    base = [0.0, 0.0, 0.0, 0.0]
    rows = [("", "none", 0.0, base),
            ("tidy", "none", 0.0, [1.0, 1.0, 0.0, 0.0]),
            ("messy", "none", 0.0, [1.5, 0.0, 2.0, 2.0]),
            ("wrong", "none", 0.0, [-1.0, 0.0, 0.1, 0.0])]
    m = tmp_path / "roles.csv"
    _matrix(rows).to_csv(m, index=False)
    g = tmp_path / "graph.json"
    g.write_text(json.dumps([["A", "B"]]))
    g2 = tmp_path / "graph_all.json"
    g2.write_text(json.dumps([["A", "B"], ["A", "C"], ["A", "D"]]))
    return {"matrix": m, "graph": g, "graph_all": g2, "root": tmp_path}


def _plan(out: Path, *extra: str) -> pd.DataFrame:
    rc = cli_main(["plan", *extra, "--out", str(out)])
    assert rc == 0
    return pd.read_csv(out / "plan.csv", keep_default_na=False)


def test_roles_ranked_by_target_minus_unexplained_side_effects(role_case: dict[str, Path]) -> None:
    m, g = str(role_case["matrix"]), str(role_case["graph"])
    # no item table: a role's change has no standard error, the value's SD is the (labelled) scale; --tol in it
    table = _plan(role_case["root"] / "p1", "--target", "A:+", "--graph", g, "--candidates", "roles", "--matrix", m,
                  "--tol", "0.5")
    assert set(table["se_source"]) == {"none: SD of the value over unsteered rows (a scale, not a standard error)"}
    assert list(table["candidate"]) == ["tidy", "messy", "wrong"]
    tidy = table.iloc[0]
    assert tidy["side_effect"] == 0.0 and tidy["n_unexpected"] == 0 and tidy["n_expected"] == 1
    assert table.iloc[1]["n_unexpected"] == 2
    # the graph matters: when C and D are descendants of A, the messy role's co-changes are expected
    table2 = _plan(role_case["root"] / "p2", "--target", "A:+", "--graph", str(role_case["graph_all"]),
                   "--candidates", "roles", "--matrix", m)
    assert list(table2["candidate"])[0] == "messy"
    # the sign matters: lowering A ranks 'wrong' first
    table3 = _plan(role_case["root"] / "p3", "--target", "a:-", "--graph", g, "--candidates", "roles",
                   "--matrix", m, "--top", "1")
    assert list(table3["candidate"]) == ["wrong"]
    payload = json.loads((role_case["root"] / "p1" / "plan.json").read_text())
    assert payload["descendants"] == ["B"] and payload["target"] == "A:+"
    # SD units: score = target z - mean |z| over the unexpected values C, D
    sd = payload["value_sd"]
    messy = table.iloc[1]
    assert messy["score"] == pytest.approx(1.5 / sd["A"] - (2 / sd["C"] + 2 / sd["D"]) / 2, rel=1e-4)


def test_steering_candidates_features_vs_vectors_and_graph_prediction(tmp_path: Path) -> None:
    rows = []
    for r, b in zip(["r0", "r1", "r2"], _baselines(3)):
        b = np.array(b)
        rows += [(r, "none", 0.0, list(b)),
                 (r, "sae:7", 50.0, list(b + [0.8, 0.5, 0.0, 0.0])),      # clean: target + descendant
                 (r, "sae:9", 50.0, list(b + [1.0, 0.0, 1.5, -1.5])),     # strong but messy
                 (r, "vec", 4.0, list(b + [np.nan, 1.0, 0.0, 0.0]))]      # target not measured
    m = tmp_path / "m.csv"
    _matrix(rows).to_csv(m, index=False)
    g = tmp_path / "g.json"
    g.write_text(json.dumps([["B", "A"], ["A", "C"]]))
    feats = _plan(tmp_path / "f", "--target", "A:+", "--graph", str(g), "--candidates", "features",
                  "--matrix", str(m))
    assert list(feats["candidate"]) == ["sae:7@50", "sae:9@50"]
    assert set(feats["n_roles"]) == {3} and set(feats["effect_source"]) == {"measured"}
    vecs = _plan(tmp_path / "v", "--target", "A:+", "--graph", str(g), "--candidates", "vectors",
                 "--matrix", str(m))
    assert list(vecs["candidate"]) == ["vec@4"]
    # A unmeasured under 'vec': predicted from its graph parent B (beta fitted on the matrix rows)
    assert vecs.iloc[0]["effect_source"] == "predicted"
    beta = json.loads((tmp_path / "v" / "plan.json").read_text())["parents"]
    assert list(beta) == ["B"]
    sd_b = json.loads((tmp_path / "v" / "plan.json").read_text())["value_sd"]["B"]
    # B moved by exactly 1.0 in every role (no error over roles): its scale stands in, labelled so;
    # the predicted change beta * 1.0 over its error |beta| * sd_B
    assert vecs.iloc[0]["target_z"] == pytest.approx(np.sign(beta["B"]) * 1.0 / sd_b, rel=1e-4)
    assert vecs.iloc[0]["se_source"].startswith("none: SD of the value")
    # the features' changes are the same in every role: no error over roles either
    assert all(src.startswith("none: SD of the value") for src in feats["se_source"])


def test_centering_removes_a_shift_common_to_all_values(tmp_path: Path) -> None:
    """'lift' moves every value by 1 (a response-bias shift) plus A by 0.5; 'plain' moves only A by 0.4.
    Raw, 'lift' looks best for A:+ only if side effects are ignored; centred, its shift is no side effect."""
    rows = [("", "none", 0.0, [0.0, 0.0, 0.0, 0.0]), ("r1", "none", 0.0, [0.1, -0.1, 0.2, 0.0]),
            ("r2", "none", 0.0, [-0.1, 0.1, 0.0, -0.2]), ("r3", "none", 0.0, [0.0, 0.2, -0.1, 0.1])]
    rows += [(r, "lift", 1.0, [x + 1.0 + (0.5 if i == 0 else 0.0) for i, x in enumerate(sc)])
             for r, _, _, sc in rows[:4]]
    rows += [(r, "plain", 1.0, [x + (0.4 if i == 0 else 0.0) for i, x in enumerate(sc)]) for r, _, _, sc in rows[:4]]
    m = tmp_path / "m.csv"
    _matrix(rows).to_csv(m, index=False)
    g = tmp_path / "g.json"
    g.write_text(json.dumps([["A", "B"]]))
    args = ["--target", "A:+", "--graph", str(g), "--candidates", "vectors", "--matrix", str(m)]
    raw = _plan(tmp_path / "raw", *args).set_index("candidate")
    cen = _plan(tmp_path / "cen", *args, "--centering", "median").set_index("candidate")
    assert raw.loc["lift@1", "target_change"] == pytest.approx(1.5)
    assert raw.loc["lift@1", "n_unexpected"] == 2                  # C and D moved by 1
    # centred: lift's change is A +1.5 minus the median 1.0 -> +0.5, and nothing else moves
    assert cen.loc["lift@1", "target_change"] == pytest.approx(0.5)
    assert cen.loc["lift@1", "side_effect"] == pytest.approx(0.0, abs=1e-9)
    assert cen.loc["plain@1", "target_change"] == pytest.approx(0.4)
    assert list(cen.index[:2]) == ["lift@1", "plain@1"]
    assert json.loads((tmp_path / "cen" / "plan.json").read_text())["centering"] == "median"


# ---------------------------------------------------------------------------- --verify on the tiny model
TASK_YAML = """task: plantest_values
custom_dataset: !function utils.load_docs
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_choice: ["yes", "no"]
doc_to_target: 0
process_results: !function utils.process
metric_list:
  - metric: score
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1
"""

TASK_UTILS = '''import math
VALUES = ["Power", "Benevolence", "Tradition"]
QUESTIONS = ["Should I seek {}?", "Is {} important to me?"]


def load_docs(**kwargs):
    import datasets
    rows = [{"item_id": f"{v[:3].lower()}{j}", "value": v, "agreement": 1, "format": "yesno",
             "inventory": "plantest", "question": q.format(v.lower())}
            for v in VALUES for j, q in enumerate(QUESTIONS)]
    return {"test": datasets.Dataset.from_list(rows)}


def process(doc, results):
    ly, ln = results[0][0], results[1][0]
    m = max(ly, ln)
    py, pn = math.exp(ly - m), math.exp(ln - m)
    return {"score": doc["agreement"] * (py - pn) / (py + pn)}
'''


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Path]:
    """A sweep on the tiny model: (no role + 2 train roles + 1 test role) x (none, a random vector), half the items."""
    from lm_eval_values.sweep.run import run_sweep
    from lm_eval_values.sweep.config import load_config

    root = tmp_path_factory.mktemp("plan")
    (root / "tasks").mkdir()
    (root / "tasks" / "plantest.yaml").write_text(TASK_YAML)
    (root / "tasks" / "utils.py").write_text(TASK_UTILS)
    rng = np.random.default_rng(0)
    np.save(root / "v1.npy", rng.standard_normal(64).astype("float32"))
    cfg = {"model": "values_hf", "model_args": {"pretrained": str(tiny_model_dir)}, "tasks": ["plantest_values"],
           "include_path": [str(root / "tasks")],
           "roles": {"generate": {"train": 2, "test": 1, "seed": 1}, "no_role": True},
           "steering": [{"type": "none"},
                        {"type": "vector", "id": "v1", "vector": "v1.npy", "layer": 1, "coefficients": [4],
                         "positions": "prompt"}],
           "sampling": {"fraction": 0.5, "seed": 0}, "seeds": [0], "batch_size": 4, "output_dir": "out"}
    path = root / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    summary = run_sweep(load_config(path), out=root / "sweep", progress=False)
    assert summary.n_run == 8
    (root / "graph.json").write_text(json.dumps([["Power", "Benevolence"]]))
    study = {"name": "tiny study", "models": [{"id": "tiny", "model_args": cfg["model_args"]}],
             "sweep": {k: v for k, v in cfg.items() if k not in ("model_args", "output_dir", "model")}}
    (root / "study.yaml").write_text(yaml.safe_dump(study))
    return {"root": root, "config": path, "matrix": root / "sweep", "graph": root / "graph.json",
            "study": root / "study.yaml"}


def test_verify_vectors_runs_the_top_setting_and_reports_observed(tiny_sweep: dict[str, Path]) -> None:
    out = tiny_sweep["root"] / "pv"
    rc = cli_main(["plan", "--target", "Power:+", "--graph", str(tiny_sweep["graph"]), "--candidates", "vectors",
                   "--matrix", str(tiny_sweep["matrix"]), "--verify", "--config", str(tiny_sweep["config"]),
                   "--verify-top", "1", "--verify-roles", "2", "--out", str(out)])
    assert rc == 0
    plan = pd.read_csv(out / "plan.csv")
    ver = pd.read_csv(out / "verify.csv")
    vm = pd.read_csv(out / "verify" / "matrix.csv", keep_default_na=False)
    assert len(vm) == 4 and set(vm["steering_id"]) == {"none", plan.iloc[0]["steering_id"]}
    assert list(ver["candidate"]) == [plan.iloc[0]["candidate"]]
    row = ver.iloc[0]
    assert row["n_roles_observed"] == 2 and np.isfinite(row["observed_target_z"])
    # same model, same roles (the first two of the config are in the matrix), same items: the observation
    # reproduces the matrix's measurement for those roles
    m = pd.read_csv(tiny_sweep["matrix"] / "matrix.csv", keep_default_na=False)
    roles = list(vm["role_id"].drop_duplicates())
    sid = plan.iloc[0]["steering_id"]
    d = [m[(m.role_id == r) & (m.steering_id == sid)]["Power"].iloc[0]
         - m[(m.role_id == r) & (m.steering_id == "none")]["Power"].iloc[0] for r in roles]
    assert row["observed_target_change"] == pytest.approx(float(np.mean(d)), abs=1e-5)
    assert json.loads((out / "verify.json").read_text())["n_conditions"] == 4


def test_split_ranks_on_train_and_verifies_on_held_out_roles(tiny_sweep: dict[str, Path]) -> None:
    """--split train: the plan sees the train rows only; --verify runs the test role first (held out)."""
    out = tiny_sweep["root"] / "ps"
    rc = cli_main(["plan", "--target", "Power:+", "--graph", str(tiny_sweep["graph"]), "--candidates", "vectors",
                   "--matrix", str(tiny_sweep["matrix"]), "--split", "train", "--verify",
                   "--config", str(tiny_sweep["study"]), "--verify-top", "1", "--verify-roles", "1",
                   "--out", str(out)])
    assert rc == 0
    m = pd.read_csv(tiny_sweep["matrix"] / "matrix.csv", keep_default_na=False)
    test_roles = sorted(set(m.loc[m.split == "test", "role_id"]))
    assert len(test_roles) == 1
    plan = pd.read_csv(out / "plan.csv")
    assert plan.iloc[0]["n_roles"] == len(set(m.loc[m.split == "train", "role_id"]))   # train roles only
    ver = json.loads((out / "verify.json").read_text())
    assert ver["roles"] == test_roles and ver["held_out_roles"] == test_roles
    # the held-out observation equals the full matrix's own measurement of that test role
    sid = plan.iloc[0]["steering_id"]
    t = m[m.role_id == test_roles[0]]
    expected = t[t.steering_id == sid]["Power"].iloc[0] - t[t.steering_id == "none"]["Power"].iloc[0]
    assert pd.read_csv(out / "verify.csv").iloc[0]["observed_target_change"] == pytest.approx(expected, abs=1e-5)


def test_split_and_study_model_errors(tiny_sweep: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    base = ["plan", "--target", "Power:+", "--graph", str(tiny_sweep["graph"]), "--candidates", "vectors",
            "--matrix", str(tiny_sweep["matrix"])]
    for extra, field in ((["--split", "dev"], "--split"),
                         (["--verify", "--config", str(tiny_sweep["study"]), "--study-model", "nope"], "--study-model"),
                         (["--verify", "--config", str(tiny_sweep["config"]), "--study-model", "tiny"], "--study-model")):
        out = tiny_sweep["root"] / "bad_split"
        capsys.readouterr()
        assert cli_main([*base, *extra, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith(f"error: {field}") and not out.exists()


def test_verify_roles(tiny_sweep: dict[str, Path]) -> None:
    out = tiny_sweep["root"] / "pr"
    rc = cli_main(["plan", "--target", "Tradition:-", "--graph", str(tiny_sweep["graph"]), "--candidates", "roles",
                   "--matrix", str(tiny_sweep["matrix"]), "--verify", "--config", str(tiny_sweep["config"]),
                   "--verify-top", "1", "--out", str(out)])
    assert rc == 0
    ver = pd.read_csv(out / "verify.csv")
    plan = pd.read_csv(out / "plan.csv")
    assert len(ver) == 1 and ver.iloc[0]["candidate"] == plan.iloc[0]["candidate"]
    assert ver.iloc[0]["observed_target_z"] == pytest.approx(plan.iloc[0]["target_z"], abs=1e-4)


# ---------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("override, field", [
    ({"--target": "Nope:+"}, "--target"),
    ({"--target": "A:up"}, "--target"),
    ({"--target": "A"}, "--target"),
    ({"--candidates": "prompts"}, "--candidates"),
    ({"--candidates": "features"}, "--candidates"),   # the role matrix has no steering settings
    ({"--top": "0"}, "--top"),
    ({"--graph": "missing.json"}, "missing.json"),
])
def test_bad_inputs_one_line_exit_2_nothing_written(role_case: dict[str, Path], capsys: pytest.CaptureFixture,
                                                    override: dict[str, str], field: str) -> None:
    out = role_case["root"] / "bad" / "out"
    args = {"--target": "A:+", "--graph": str(role_case["graph"]), "--candidates": "roles",
            "--matrix": str(role_case["matrix"]), "--out": str(out)}
    args.update({k: (str(role_case["root"] / v) if k == "--graph" else v) for k, v in override.items()})
    capsys.readouterr()
    rc = cli_main(["plan", *[x for kv in args.items() for x in kv]])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("error:") and field in err
    assert not (role_case["root"] / "bad").exists()


def test_verify_without_config_is_refused(role_case: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    out = role_case["root"] / "nv"
    rc = cli_main(["plan", "--target", "A:+", "--graph", str(role_case["graph"]), "--candidates", "roles",
                   "--matrix", str(role_case["matrix"]), "--verify", "--out", str(out)])
    assert rc == 2 and "--config" in capsys.readouterr().err and not out.exists()


# ---------------------------------------------------------------------------- honest standard errors
def _vector_study(tmp_path: Path) -> Path:
    """A simulated sweep folder (matrix.csv + items.csv) whose steering settings are vectors vec:V0..."""
    from lm_eval_values.analysis.side_effects_simulate import SideEffectSimulation, simulate_side_effects

    quiet = {"role_sd": 0.004, "role_item_sd": 0.004, "noise_sd": 0.004, "shift_sd": 0.004, "loading_sd": 0.5}
    sim = simulate_side_effects(SideEffectSimulation(n_values=5, n_settings=2, n_train_roles=12, n_heldout_roles=4,
                                                     **quiet), seed=0)
    folder = tmp_path / "sweep"
    folder.mkdir()
    frame = pd.concat([sim.train.to_frame(), sim.heldout.to_frame()])
    frame["steering_id"] = frame["steering_id"].str.replace("prompt:", "vec:")
    frame["role_id"] = frame["role_id"].replace({"train-0": ""})  # one role plays the no-role condition
    frame.to_csv(folder / "matrix.csv", index=False)
    items = sim.items.assign(steering_id=sim.items["steering_id"].str.replace("prompt:", "vec:"),
                             role_id=sim.items["role_id"].replace({"train-0": ""}))
    items.to_csv(folder / "items.csv", index=False)
    (tmp_path / "g.json").write_text(json.dumps([[u, v] for u, v in sim.dag.edges()]))
    return folder


def test_plan_effects_over_honest_standard_errors(tmp_path: Path) -> None:
    """Roles that barely differ and answer almost without noise make the role-to-role SD tiny, while which
    items were asked matters (item loadings vary): a change is read against its standard error from role AND
    item sampling, not against that SD (which gave "+32 SD" effects) or the roles-only error."""
    folder = _vector_study(tmp_path)
    args = ["--target", "V0:+", "--graph", str(tmp_path / "g.json"), "--candidates", "vectors"]
    two_way = _plan(tmp_path / "p2", *args, "--matrix", str(folder)).set_index("candidate")
    roles_only = _plan(tmp_path / "p1", *args, "--matrix", str(folder / "matrix.csv")).set_index("candidate")
    assert set(two_way["se_source"]) == {"roles and items (two-way bootstrap)"}
    assert set(roles_only["se_source"]) == {"roles only (no item table: item sampling left out)"}
    sd = json.loads((tmp_path / "p2" / "plan.json").read_text())["value_sd"]
    moved = two_way[two_way["target_change"].abs() > 0.05]
    assert len(moved) >= 1
    for cand, row in moved.iterrows():
        # item sampling adds error: the two-way error is several times the roles-only one
        assert row["target_se"] > 3 * roles_only.loc[cand, "target_se"]
        # and the honest z is far below the change over the role-to-role SD
        assert abs(row["target_z"]) < 0.2 * abs(row["target_change"] / sd["V0"])
    # a role against the no-role condition: one role, so its items carry the error
    roles = _plan(tmp_path / "pr", "--target", "V0:+", "--graph", str(tmp_path / "g.json"), "--candidates", "roles",
                  "--matrix", str(folder))
    assert set(roles["se_source"]) == {"items (one role against the no-role condition)"}
    assert (roles["target_se"] > 0).all()
