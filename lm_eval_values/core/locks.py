"""Inter-process locks on files (``flock``): two processes never do the same piece of work at once.

A lock is an empty file; holding it means holding an exclusive ``flock`` on it. The kernel releases
it when the holder exits, even on SIGKILL, so a stale lock file never blocks anyone. The holder may
delete the file once the work it guards is done and visible (a process that locks the deleted file
afterwards finds the work done when it checks), which keeps folders free of lock debris.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, wait: bool = False) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (created if missing) inside the block.

    Yields True when the lock is held; with ``wait=False`` yields False at once when another
    process holds it (the block then must not do the guarded work).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock
