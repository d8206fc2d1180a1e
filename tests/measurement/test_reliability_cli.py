"""``reliability`` end to end: simulated items.csv, a sweep folder, bad input, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lm_eval_values.cli.reliability import main as reliability_main
from lm_eval_values.measurement.run import RELIABILITY_FILE, ReliabilitySettings, run_reliability
from lm_eval_values.measurement.simulate import SimulatedSteering, SimulationSettings, simulate_items
from lm_eval_values.cli import run_guarded
from lm_eval_values.core.errors import EXIT_USER_ERROR, UserError

SIGNAL = {"Power": 0.3, "Tradition": 0.3, "Hedonism": 0.0}
SIM = SimulationSettings(values=tuple(SIGNAL), role_sd=SIGNAL, n_roles=25, n_items=6, acquiescence_mean=-0.6,
                         acquiescence_sd=0.1, steering=(SimulatedSteering("vec:Power", "Power", (-0.5, 0.5),
                                                                          target_shift=0.4, bias_shift=0.2),),
                         seed=11)


def _items_csv(tmp_path: Path) -> Path:
    path = tmp_path / "items.csv"
    path.write_text(simulate_items(SIM).to_csv_text())
    return path


def _sweep_folder(root: Path, items: pd.DataFrame) -> Path:
    """The simulated table as a sweep folder (condition.json + samples_<task>.jsonl per condition)."""
    for index, (cid, rows) in enumerate(items.groupby("condition_id", sort=False)):
        name = f"c{index:03d}"
        cdir = root / "conditions" / name
        cdir.mkdir(parents=True)
        files = {}
        for task, part in rows.groupby("task"):
            lines = [json.dumps({"doc_id": int(r.doc_id), "metrics": ["score"], "score": float(r.score),
                                 "doc": {"item_id": r.item_id, "value": r.value, "agreement": int(r.agreement),
                                         "format": "yesno", "inventory": "simulated"}}) for r in part.itertuples()]
            (cdir / f"samples_{task}.jsonl").write_text("\n".join(lines) + "\n")
            files[task] = f"samples_{task}.jsonl"
        first = rows.iloc[0]
        (cdir / "condition.json").write_text(json.dumps({
            "condition_id": name, "role_id": first.role_id, "split": first.split, "steering_id": first.steering_id,
            "coefficient": float(first.coefficient), "seed": 0, "index": index, "identity_hash": "I",
            "sample_files": files}))
    return root


def test_cli_end_to_end_on_items_csv(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = _items_csv(tmp_path)
    assert reliability_main([str(src), "--out", str(tmp_path / "a"), "--n-boot", "300"]) == 0
    printed = capsys.readouterr().out
    assert "2 of 3 values carry between-role signal" in printed and "vec:Power at +0.5" in printed
    data = json.loads((tmp_path / "a" / RELIABILITY_FILE).read_text())
    assert data["format"] == "lm-eval-values/reliability" and data["n_roles"] == 26
    values = data["values"]
    assert values["Power"]["signal"] and values["Tradition"]["signal"] and not values["Hedonism"]["signal"]
    for v in values.values():
        assert 0.0 <= v["g"] <= 1.0 and isinstance(v["signal"], bool)
        assert {"role", "item", "role_x_item"} == set(v["components"]) and v["design"] == "crossed"
        assert v["profile"]["ci_lo"] < v["profile"]["mean"] < v["profile"]["ci_hi"]
    assert len(data["acquiescence"]["per_condition"]) == 26 * 3 + 3  # no-role in both splits
    assert set(data["scoring_comparison"]) == {"raw", "item_centered", "acquiescence_residualized", "mrat"}
    assert data["manipulation"][0]["steering_id"] == "vec:Power" and "units" in data and "rule" in data
    # deterministic: same input and settings -> same bytes
    reliability_main([str(src), "--out", str(tmp_path / "b"), "--n-boot", "300"])
    assert (tmp_path / "a" / RELIABILITY_FILE).read_bytes() == (tmp_path / "b" / RELIABILITY_FILE).read_bytes()


def test_sweep_folder_matches_items_csv(tmp_path: Path) -> None:
    items = simulate_items(SIM).items
    sweep = _sweep_folder(tmp_path / "sweep", items)
    settings = ReliabilitySettings.from_dict({"g_study": {"alpha": 0.01}, "intervals": {"n_boot": 200},
                                              "manipulation": {"n_boot": 200}, "compare_scorings": False})
    from_sweep = run_reliability(sweep, settings, tmp_path / "out")
    from_items = run_reliability(_items_csv(tmp_path), settings)
    assert (tmp_path / "out" / RELIABILITY_FILE).is_file()
    for v in SIGNAL:
        assert from_sweep["values"][v]["g"] == pytest.approx(from_items["values"][v]["g"], abs=1e-5)
    assert ReliabilitySettings.from_dict(settings.to_dict()) == settings


@pytest.mark.parametrize("argv,field", [
    (["{tmp}/missing", "--out", "{tmp}/o"], "SOURCE"),
    (["{src}", "--out", "{src}"], "--out"),
    (["{src}", "--out", "{tmp}/o", "--alpha", "2"], "--alpha"),
    (["{src}", "--out", "{tmp}/o", "--scoring", "ipsative"], "--scoring"),
    (["{src}", "--out", "{tmp}/o", "--target", "sae:1"], "--target"),
    (["{bad}", "--out", "{tmp}/o"], "SOURCE"),
])
def test_bad_input_one_line_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str],
                                            field: str) -> None:
    src = _items_csv(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("condition_id,score\nx,1\n")
    args = [a.format(tmp=tmp_path, src=src, bad=bad) for a in argv]
    assert run_guarded(lambda: reliability_main(args), debug=False) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {field}:") and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_unknown_settings_refused() -> None:
    with pytest.raises(UserError):
        ReliabilitySettings.from_dict({"g_study": {"alfa": 0.1}})
    with pytest.raises(UserError):
        ReliabilitySettings(scoring="nope")
