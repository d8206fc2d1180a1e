"""Digests, versions and file names with one home each (``lm_eval_values.core``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lm_eval_values.core.files import FORMAT_SUFFIXES, items_file, manifest_file, matrix_file, shard_suffix
from lm_eval_values.core.hashing import canonical_json, file_digest, file_sha256, sha256_hex
from lm_eval_values.core.versions import package_versions
from lm_eval_values.values.scoring import FORMATS


def test_canonical_json_and_text_digest():
    assert canonical_json({"b": 1, "a": [1.5, "ü"], "p": Path("x")}) == '{"a":[1.5,"ü"],"b":1,"p":"x"}'
    assert sha256_hex("abc") == hashlib.sha256(b"abc").hexdigest()


def test_file_and_folder_digests(tmp_path: Path):
    f = tmp_path / "v.bin"
    f.write_bytes(b"\x00" * (3 << 20) + b"tail")  # several read blocks
    assert file_sha256(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    folder = tmp_path / "sae"
    (folder / "sub").mkdir(parents=True)
    (folder / "cfg.json").write_text("{}")
    (folder / "sub" / "w.bin").write_bytes(b"12")
    expected = hashlib.sha256(b"cfg.json{}" + b"sub/w.bin12").hexdigest()
    assert file_digest(folder) == expected
    assert file_digest(f) == file_sha256(f)  # a single file: its bytes only


def test_versions_record_python_and_missing_distributions():
    v = package_versions(("numpy", "no-such-distribution-xyz"))
    assert v["python"].count(".") == 2 and v["numpy"][0].isdigit()
    assert v["no-such-distribution-xyz"] == "not installed"
    assert "python" not in package_versions(("numpy",), python=False)


def test_file_names_and_format_suffixes():
    assert (shard_suffix((0, 1)), shard_suffix((2, 4))) == ("", ".shard-2-of-4")
    assert (matrix_file(), items_file(".shard-0-of-2"), manifest_file("*")) == \
        ("matrix.csv", "items.shard-0-of-2.csv", "manifest*.json")
    assert tuple(FORMAT_SUFFIXES) == FORMATS  # the answer formats and their task-name suffixes agree
