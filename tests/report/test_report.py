"""The report from saved files only: synthetic run folder (no model), numbers, links, determinism, errors."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.core.errors import UserError
from lm_eval_values.values.names import SCHWARTZ_VALUES

SETTINGS = [("none", 0.0), ("prompt:Power", 1.0), ("prompt:Power", -1.0), ("vec:Power", 0.5)]


def synthetic_matrix(n_train: int = 14, n_test: int = 6, seed: int = 0) -> pd.DataFrame:
    """A sweep-format matrix with a circular structure over roles and a known steering effect on Power."""
    rng = np.random.default_rng(seed)
    ang = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    rows = []
    roles = ([("", "train")] + [(f"train-{i:03d}", "train") for i in range(n_train)]
             + [("", "test")] + [(f"test-{i:03d}", "test") for i in range(n_test)])
    for r, split in roles:
        z = rng.normal(size=2)
        base = 0.3 * (z[0] * np.cos(ang) + z[1] * np.sin(ang)) + rng.normal(scale=0.1, size=10)
        for sid, c in SETTINGS:
            x = base + rng.normal(scale=0.05, size=10)
            if sid != "none":
                x[0] += 0.3 * c
            rows.append({"condition_id": f"{r or 'none'}-{split}-{sid}-{c}", "role_id": r, "split": split,
                         "steering_id": sid, "coefficient": c, "seed": 0, **dict(zip(SCHWARTZ_VALUES, x))})
    return pd.DataFrame(rows)


def make_run(root: Path) -> Path:
    """A run folder as `study` leaves it, with the analysis stages computed for real on a synthetic matrix."""
    from lm_eval_values.study.analyses import graph_stage, human_stage, side_effects_stage
    from lm_eval_values.study.config import parse_study_config
    from lm_eval_values.study.stages import run_stage

    run = root / "run"
    sweep = run / "m" / "sweep"
    sweep.mkdir(parents=True)
    df = synthetic_matrix()
    df.to_csv(sweep / "matrix.csv", index=False, float_format="%.6f")
    (sweep / "manifest.json").write_text(json.dumps({"complete": True, "conditions": [{"n_items": 20}] * len(df),
                                                    "resolved": {"tasks": ["values_schwartz"],
                                                                 "model_args": {"pretrained": "synthetic"}}}))
    (sweep / "stage.json").write_text(json.dumps({"stage": "sweep", "elapsed_s": 1.5, "items_per_s": 2.0,
                                                  "n_run": len(df), "n_skipped": 0, "load_s": 0.5}))
    raw = {"name": "Synthetic study", "models": [{"id": "m", "label": "Synthetic",
                                                 "model_args": {"pretrained": "smollm2-135m-instruct"}}],
           "sweep": {"tasks": ["values_schwartz"], "roles": {"generate": {"train": 14, "test": 6}}},
           "graph": {"bootstrap": 8, "jobs": 1}, "human": {"permutations": 100, "bootstrap": 20},
           "side_effects": {"n_random": 5}}
    cfg = parse_study_config(raw, base=root)
    m = sweep / "matrix.csv"
    a = cfg.analysis
    run_stage("graph", run / "m" / "graph", "g", lambda t: graph_stage(m, a.graph, 1, t))
    run_stage("human", run / "m" / "human", "h", lambda t: human_stage(m, a.human, t))
    run_stage("side effects", run / "m" / "side_effects", "s", lambda t: side_effects_stage(run / "m", a.side_effects, t))
    (run / "config.yaml").write_text("name: Synthetic study\n")
    (run / "study.json").write_text(json.dumps({"format": "lm-eval-values/study", "name": "Synthetic study",
                                                "config": raw, "models": {"m": {"label": "Synthetic"}},
                                                "versions": {"python": "3"}, "run_s": 2.0, "complete": True}))
    return run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lm_eval_values.report.build import build_report

    run = make_run(tmp_path_factory.mktemp("report"))
    build_report(run)
    return run


def test_report_files_and_links(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text()
    refs = re.findall(r"""(?:src|href)=['"]([^'"#][^'"]*)['"]""", page)
    imgs = re.findall(r"""<img src=['"]([^'"]+)['"]""", page)
    assert {"figures/m_profile.png", "figures/m_dose_response.png", "m/graph/graph.png", "m/human/mds.png",
            "m/human/correlations.png", "m/human/distance_curve.png"} <= set(imgs)
    for r in refs:
        assert "://" not in r and not r.startswith("/"), r
        assert (run_dir / r).is_file(), r
    for png in imgs:
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script" not in page and "url(" not in page
    for section in ("Value profile", "Structure compared with humans", "Causal value graph", "dose-response",
                    "Side effects", "Versions", "Config", "Timings"):
        assert section in page, section
    # no item table, so no reliability analysis: the gate says it is unchecked, next to every gated stage
    assert page.count("Measurement gate unchecked") == 3 and "Measurement gate: UNCHECKED" in page
    assert "No manipulation checks (the reliability analysis did not run)" in page


def test_report_numbers_come_from_the_matrix(run_dir: Path) -> None:
    df = pd.read_csv(run_dir / "m" / "sweep" / "matrix.csv", keep_default_na=False, na_values=[""])
    named = df["role_id"].astype(str).str.len() > 0
    un = df[(df["steering_id"] == "none") & named]
    prof = pd.read_csv(run_dir / "data" / "m_value_profile.csv").set_index("value")
    for v in SCHWARTZ_VALUES:
        assert prof.loc[v, "mean"] == pytest.approx(un[v].mean(), abs=1e-6)
        assert prof.loc[v, "n_respondents"] == 20
        # no item table, no reliability analysis: the interval says it leaves item sampling out
        assert prof.loc[v, "interval"].startswith("roles only, items fixed")
    # dose-response: paired change of Power under prompt:Power +1, by hand
    key = ["role_id", "split"]
    base = df[df["steering_id"] == "none"].set_index(key)["Power"]
    up = df[(df["steering_id"] == "prompt:Power") & (df["coefficient"] == 1.0)].set_index(key)["Power"]
    dose = pd.read_csv(run_dir / "data" / "m_dose_response.csv")
    row = dose[(dose["steering_id"] == "prompt:Power") & (dose["coefficient"] == 1.0) & (dose["value"] == "Power")]
    assert row["mean_change"].iloc[0] == pytest.approx((up - base).mean(), abs=1e-6)
    assert row["mean_change"].iloc[0] > 0.2  # the planted +0.3 effect
    data = json.loads((run_dir / "data" / "report_data.json").read_text())
    page = (run_dir / "report.html").read_text()
    for line in data["summary"]:
        assert html.escape(line) in page
    h = json.loads((run_dir / "m" / "human" / "compare_human.json").read_text())
    assert f"{h['rthor']['model']['ci']:.3f}" in page


def test_report_is_deterministic_and_cli(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lm_eval_values.cli.report import main as report_main

    before = {p: p.read_bytes() for p in [run_dir / "report.html", *sorted((run_dir / "figures").glob("*")),
                                          *sorted((run_dir / "data").glob("*"))]}
    assert report_main([str(run_dir)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in before} == before


def test_report_bad_run_dir(tmp_path: Path) -> None:
    from lm_eval_values.cli.report import main as report_main

    with pytest.raises(UserError, match="RUN_DIR"):
        report_main([str(tmp_path / "missing")])
    with pytest.raises(UserError, match="study.json"):
        report_main([str(tmp_path)])
    assert list(tmp_path.iterdir()) == []


def test_report_compares_two_models(run_dir: Path, tmp_path: Path) -> None:
    """A second model (here a copy of the first) gets its own section and the side-by-side comparison."""
    import shutil

    from lm_eval_values.report.build import build_report

    two = tmp_path / "two"
    shutil.copytree(run_dir, two)
    shutil.copytree(two / "m", two / "m2")
    st = json.loads((two / "study.json").read_text())
    st["config"]["models"].append({"id": "m2", "label": "Copy", "model_args": {"pretrained": "gemma-3-270m"}})
    st["models"]["m2"] = {"label": "Copy"}
    (two / "study.json").write_text(json.dumps(st))
    res = build_report(two)
    page = (two / "report.html").read_text()
    assert "Models side by side" in page and "id='m2'" in page
    assert "SHD 0, adjacency F1 1.00" in page  # identical graphs
    assert any(line.startswith("Copy") for line in res.summary)
    for r in re.findall(r"""(?:src|href)=['"]([^'"#][^'"]*)['"]""", page):
        assert (two / r).is_file(), r
