"""Canonical JSON and SHA-256 digests: the one implementation every hash of the package uses.

Condition ids, config hashes, stage hashes, the ``files`` digests of a sweep manifest and the
digests of steering files all come from here, so the same content always gives the same id.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20
_DIGESTS: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def canonical_json(obj: Any) -> str:
    """Key-sorted, compact JSON used for hashing (non-JSON objects as ``str``)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text: str) -> str:
    """SHA-256 of UTF-8 text, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (relative names and bytes, sorted).

    Cached per process by path, size and modification time of every file, so a file overwritten in
    place is read again (a cache by path alone would return the old digest).
    """
    p = Path(path).expanduser().resolve()
    files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
    stamp = tuple((f.relative_to(p).as_posix() if f != p else "", f.stat().st_size, f.stat().st_mtime_ns)
                  for f in files)
    key = (str(p), stamp)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        for f in files:
            h.update(f.relative_to(p).as_posix().encode() if f != p else b"")
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(_CHUNK), b""):
                    h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]
