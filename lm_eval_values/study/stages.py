"""How a study runs a stage: a folder built atomically and a ``stage.json`` with the hash of everything the
stage read (a re-run skips a stage whose hash still matches) and its timing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from lm_eval_values.core.atomic import atomic_directory, atomic_write_json
from lm_eval_values.core.files import STAGE_FILE
from lm_eval_values.core.hashing import canonical_json, file_sha256, sha256_hex
from lm_eval_values.core.jsonable import json_ready
from lm_eval_values.core.progress import heartbeat
from lm_eval_values.study.config import VERSION


def stage_hash(stage: str, settings: Any, inputs: dict[str, Path]) -> str:
    """Hash of a stage's settings and the bytes of the files it reads."""
    files = {k: file_sha256(p) for k, p in sorted(inputs.items())}
    return sha256_hex(canonical_json({"stage": stage, "v": VERSION, "settings": settings, "files": files}))


def banner(text: str) -> None:
    """A stage headline on stderr."""
    print(f"\n=== {text}", file=sys.stderr, flush=True)


def read_stage(folder: Path) -> dict[str, Any] | None:
    """The ``stage.json`` of a finished stage folder, or None."""
    p = folder / STAGE_FILE
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def run_stage(label: str, folder: Path, inputs_hash: str, fn: Callable[[Path], dict[str, Any]],
              force: bool = False) -> dict[str, Any]:
    """Run ``fn(tmp_folder) -> info`` into ``folder`` atomically unless it is complete with the same hash
    (``force``: run it anyway). With progress lines on (:func:`lm_eval_values.core.progress.progress_lines`)
    a long stage prints its elapsed time when nothing else was printed for a while."""
    old = read_stage(folder)
    if old is not None and old.get("inputs_hash") == inputs_hash and not force:
        banner(f"{label}: complete in {folder}, skipped")
        return {**old, "skipped": True}
    banner(f"{label} ...")
    t0 = time.time()
    with atomic_directory(folder) as tmp, heartbeat(label):
        info = fn(tmp)
        info = {**info, "inputs_hash": inputs_hash, "elapsed_s": round(time.time() - t0, 3)}
        atomic_write_json(tmp / STAGE_FILE, jsonable(info))
    print(f"    done in {info['elapsed_s']:.1f} s", file=sys.stderr, flush=True)
    return {**info, "skipped": False}


def jsonable(obj: Any) -> Any:
    """Stage records as JSON: floats rounded to 6 digits, NaN as null."""
    return json_ready(obj, 6)
