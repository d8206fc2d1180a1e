"""Atomic writes: complete files only, usual permissions, no debris on failure."""

from __future__ import annotations

import os
import stat

import pytest

from lm_eval_values.core.atomic import TMP_PREFIX, atomic_directory, atomic_write_json, atomic_write_text, check_writable_dir
from lm_eval_values.core.errors import UserError


def test_atomic_write_replaces_and_uses_umask_mode(tmp_path):
    p = tmp_path / "a" / "x.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
    assert not [f for f in p.parent.iterdir() if f.name.startswith(TMP_PREFIX)]


def test_atomic_json_is_deterministic(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    first = (tmp_path / "a.json").read_bytes()
    atomic_write_json(tmp_path / "a.json", {"a": [1, 2], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == first


def test_atomic_directory_leaves_old_on_failure(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as d:
        (d / "f").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as d:
            (d / "f").write_text("new")
            raise RuntimeError("boom")
    assert (target / "f").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_check_writable_dir_names_field(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # running as root: permissions do not apply
            blocker = tmp_path / "file"
            blocker.write_text("x")
            target = blocker / "sub"  # a path under a regular file cannot be created
        else:
            target = ro / "sub"
        with pytest.raises(UserError, match=r"^--out: cannot write"):
            check_writable_dir(target)
    finally:
        ro.chmod(0o700)
