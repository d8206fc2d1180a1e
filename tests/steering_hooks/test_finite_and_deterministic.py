"""Steering numbers are finite and sane where they enter, and vector files are byte-for-byte deterministic."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from steering_hooks import SpecError, compile_spec, load_vector, save_vector, spec_from_obj
from steering_hooks.numbers import MAX_MAGNITUDE, check_number, check_tensor
from steering_hooks.vectors import vector_file_bytes

REPO = Path(__file__).resolve().parents[2]
SAVE = """
import sys, torch
sys.path.insert(0, {repo!r})
from steering_hooks.vectors import save_vector
g = torch.Generator().manual_seed(0)
save_vector({path!r}, torch.randn(64, generator=g), {{"value": "Power", "layer": 6, "n_texts": 12,
            "method": "diff of means", "extra": {{"b": 1, "a": [1, 2]}}}})
"""


def test_save_vector_writes_the_same_bytes_in_every_process(tmp_path: Path) -> None:
    """safetensors writes metadata in hash-map order (a new order per process); save_vector does not."""
    digests = set()
    for k in range(3):
        path = tmp_path / f"v{k}.safetensors"
        env = dict(os.environ, PYTHONHASHSEED=str(k))
        subprocess.run([sys.executable, "-c", SAVE.format(repo=str(REPO), path=str(path))], check=True, env=env,
                       timeout=120)
        digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_vector_files_are_valid_safetensors(tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    v = torch.linspace(-1, 1, 64)
    path = save_vector(tmp_path / "v.safetensors", v, {"value": "Power", "layer": 6})
    assert torch.equal(load_file(str(path))["vector"], v)
    with safe_open(str(path), "pt") as fh:
        assert fh.metadata() == {"value": "Power", "layer": "6"}
    assert torch.equal(load_vector(str(path))[0], v)
    blob = vector_file_bytes(v, {"layer": 6, "value": "Power"})
    assert blob == path.read_bytes() and int.from_bytes(blob[:8], "little") % 8 == 0
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "-inf", "1e400", 2 * MAX_MAGNITUDE, "x", None])
def test_numbers_must_be_finite_and_sane(value: object) -> None:
    with pytest.raises(SpecError):
        check_number(value, "coeff")
    assert check_number("-4.5", "coeff") == -4.5 and check_number(MAX_MAGNITUDE, "coeff") == MAX_MAGNITUDE


def test_tensors_must_be_finite_and_sane() -> None:
    check_tensor(torch.ones(4), "vector", "v")
    check_tensor(np.zeros(0), "vector", "v")
    for bad, what in ((torch.tensor([1.0, float("nan")]), "non-finite entry"),
                      (np.array([1.0, np.inf, -np.inf]), "2 non-finite entries"),
                      (np.array([1e30]), "magnitude 1e\\+30")):
        with pytest.raises(SpecError, match=what):
            check_tensor(bad, "vector", "v")


@pytest.mark.parametrize("iv, field", [
    ({"op": "add", "layer": 1, "vector": [1.0] * 64, "coeff": float("inf")}, "coeff"),
    ({"op": "clamp_projection", "layer": 1, "vector": [1.0] * 64, "value": float("nan")}, "value"),
    ({"op": "add", "layer": 1, "vector": [1.0] * 63 + [float("nan")]}, "vector"),
    ({"op": "add", "layer": 1, "vector": [1.0] * 64, "coeff": True}, "coeff"),
])
def test_spec_parsing_refuses_non_finite_numbers(iv: dict, field: str) -> None:
    with pytest.raises(SpecError, match=rf"interventions\[0\]\.{field}"):
        spec_from_obj([iv])


def test_a_dose_that_would_overflow_is_refused_against_the_model(tiny_model_dir: Path) -> None:
    from lm_eval_values.model.loading import load_model

    model, _ = load_model(str(tiny_model_dir))
    compile_spec(model, [{"op": "add", "layer": 1, "vector": [100.0] * 64, "coeff": 1e4}])  # 1e6: at the limit
    with pytest.raises(SpecError, match="this dose adds up to 1.01e\\+06"):
        compile_spec(model, [{"op": "add", "layer": 1, "vector": [101.0] * 64, "coeff": 1e4}])
    with pytest.raises(SpecError, match="times the residual norm"):
        compile_spec(model, [{"op": "add", "layer": 1, "vector": [1.0] * 64, "coeff": 5e3, "scale": "resid_norm"}])
    compile_spec(model, [{"op": "add", "layer": 1, "vector": [1e5] * 64, "coeff": 5.0, "normalize": True}])


def test_corrupt_vector_files_are_one_line(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "ok.npy", np.ones(8, dtype="float32"))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "ok.npy").read_bytes()[:140])
    (tmp_path / "bad.safetensors").write_bytes(b"\x10" + b"\x00" * 7 + b"not a header")
    torch.save({"layers.1": {"steering_vector": torch.ones(8), "steering_coefficient": float("inf")}},
               tmp_path / "steer.pt")
    for name in ("obj.npy", "cut.npy", "bad.safetensors"):
        with pytest.raises(SpecError, match=f"cannot read the vector file {name}") as exc:
            load_vector(str(tmp_path / name), field="vector")
        assert "\n" not in str(exc.value)
    with pytest.raises(SpecError, match="steering_coefficient: inf is not a finite number"):
        spec_from_obj(str(tmp_path / "steer.pt"))
