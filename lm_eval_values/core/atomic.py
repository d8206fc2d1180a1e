"""Atomic file output: write to a temporary sibling, fsync, then ``os.replace``.

A reader never sees a half-written file; an interrupted run leaves either the old
file or the new one. Temporary names start with ``.tmp-`` so they are easy to
ignore and clean up. Every writer first refuses to overwrite an input of the running command, or to
replace a folder that holds one (:func:`lm_eval_values.core.inputs.check_not_input`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.inputs import check_not_input

TMP_PREFIX = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path (never over an input of the command)."""
    path = Path(path)
    check_not_input(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual file mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, **kwargs: Any) -> Path:
    """Write ``obj`` as pretty, key-sorted JSON atomically (deterministic bytes)."""
    kwargs.setdefault("indent", 2)
    kwargs.setdefault("sort_keys", True)
    kwargs.setdefault("default", str)
    return atomic_write_text(path, json.dumps(obj, **kwargs) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory in a temporary sibling; rename it into place on success.

    If ``path`` already exists it is replaced only after the new one is complete.
    On an exception the temporary directory is removed and ``path`` is untouched. A folder that
    holds an input of the running command is never replaced.
    """
    path = Path(path)
    check_not_input(path, replaces=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp creates 0700
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + "old-" + path.name + ".", dir=path.parent))
            old.rmdir()
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_writable_dir(path: str | os.PathLike, field: str = "--out") -> Path:
    """Create ``path`` if needed and check that files can be created in it.

    Raises :class:`~lm_eval_values.core.errors.UserError` naming ``field`` otherwise.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX + "probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(field, f"cannot write to {path} ({exc.strerror or exc})",
                        "choose a writable output folder") from None
    return path


def _first_missing(path: Path) -> tuple[Path | None, Path]:
    """(the outermost missing folder on the way to ``path`` or None, the nearest existing ancestor)."""
    missing: Path | None = None
    p = path
    while not p.exists() and p != p.parent:
        missing, p = p, p.parent
    return missing, p


def check_output_dir(path: str | os.PathLike, field: str = "--out", replace: bool = False) -> Path:
    """Check, WITHOUT creating anything, that ``path`` is or can become a writable folder.

    The nearest existing ancestor must be a folder we may write into (a path under a regular
    file, or a file where the folder should be, is refused). With ``replace`` (the command replaces
    the whole folder) a folder holding an input of the command is refused too. Raises
    :class:`~lm_eval_values.core.errors.UserError` naming ``field``.
    """
    path = Path(path)
    check_not_input(path, field, replaces=replace)
    missing, existing = _first_missing(path)
    if missing is None and not path.is_dir():
        raise UserError(field, f"{path} exists and is not a folder", "give a folder path")
    if not existing.is_dir():
        raise UserError(field, f"cannot create {path}: {existing} is a file, not a folder",
                        "choose an output folder outside that file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(field, f"cannot write to {existing} (permission denied)", "choose a writable output folder")
    return path


def atomic_write_files(folder: str | os.PathLike, files: dict[str, bytes], field: str = "--out") -> dict[str, Path]:
    """Write several files into ``folder`` all-or-nothing.

    Every file is first written (and fsynced) to a ``.tmp-`` sibling; only when all are complete
    are they renamed into place. On an ``OSError`` (disk full, permissions, a path under a
    file) the temporaries, and any folders this call created, are removed and a
    :class:`~lm_eval_values.core.errors.UserError` naming ``field`` is raised: the folder is as before.
    """
    folder = Path(folder)
    for name in files:
        check_not_input(folder / name, field)
    created, _ = _first_missing(folder)
    temps: list[tuple[Path, Path]] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + target.name + ".", dir=target.parent)
            temps.append((Path(tmp), target))
            os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise UserError(field, f"cannot write to {folder} ({exc.strerror or exc})",
                        "free disk space or choose a writable output folder; nothing was written") from None
    for tmp, target in temps:
        os.replace(tmp, target)
    _fsync_dir(folder)
    return {name: folder / name for name in files}
