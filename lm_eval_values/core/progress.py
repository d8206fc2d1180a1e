"""Progress lines with elapsed time and an ETA for long loops (bootstrap resamples, permutations), and a
heartbeat for long steps that cannot count: quiet unless a caller turns them on.

The study turns them on for its analysis stages (``lm-eval-values study``; ``--no-progress`` keeps
them off, as do library calls and tests)::

    with progress_lines(enabled=True):
        results = list(track(pool.map(fit, seeds), "bootstrap", total=100, unit="resamples"))

prints to stderr, at most every ``every_s`` seconds, lines such as
``    bootstrap: 40/100 resamples, 12 s elapsed, about 18 s left`` and a closing
``    bootstrap: 100/100 resamples in 30.2 s`` (the closing line only when the loop printed before).
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator, TypeVar

T = TypeVar("T")


@dataclass
class _Reporter:
    stream: IO[str]
    every_s: float
    heartbeat_s: float
    last_print: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self, text: str) -> None:
        with self.lock:
            print(f"    {text}", file=self.stream, flush=True)
            self.last_print = time.monotonic()


_ACTIVE: _Reporter | None = None


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


@contextmanager
def progress_lines(enabled: bool = True, every_s: float = 10.0, heartbeat_s: float = 30.0,
                   stream: IO[str] | None = None) -> Iterator[None]:
    """Within the block, :func:`track` and :func:`heartbeat` print to ``stream`` (default stderr);
    ``enabled=False`` keeps them quiet (an outer setting is restored on exit)."""
    global _ACTIVE
    previous = _ACTIVE
    _ACTIVE = _Reporter(stream or sys.stderr, every_s, heartbeat_s) if enabled else None
    try:
        yield
    finally:
        _ACTIVE = previous


def progress_enabled() -> bool:
    """True inside an enabled :func:`progress_lines` block."""
    return _ACTIVE is not None


def track(items: Iterable[T], task: str, total: int, unit: str = "steps") -> Iterator[T]:
    """Yield ``items`` unchanged; count one step each time the consumer asks for the next item (so it
    works for inputs consumed by a loop and for the outputs of ``Executor.map`` alike) and print the
    progress with elapsed time and the time left (linear extrapolation)."""
    rep = _ACTIVE
    if rep is None:
        yield from items
        return
    t0 = time.monotonic()
    last = t0
    done = 0
    printed = False
    for x in items:
        yield x
        done += 1
        now = time.monotonic()
        if now - last >= rep.every_s and done < total:
            elapsed = now - t0
            left = elapsed / done * (total - done)
            rep.line(f"{task}: {done}/{total} {unit}, {_seconds(elapsed)} elapsed, about {_seconds(left)} left")
            last, printed = now, True
    if printed:
        rep.line(f"{task}: {done}/{total} {unit} in {time.monotonic() - t0:.1f} s")


@contextmanager
def heartbeat(label: str) -> Iterator[None]:
    """While the block runs, print ``label: N s elapsed`` whenever nothing else was printed for
    ``heartbeat_s`` seconds (a long step that cannot count its progress); nothing when quiet."""
    rep = _ACTIVE
    if rep is None:
        yield
        return
    stop = threading.Event()
    t0 = time.monotonic()

    def beat() -> None:
        while not stop.wait(min(rep.heartbeat_s, 5.0)):
            now = time.monotonic()
            if now - max(rep.last_print, t0) >= rep.heartbeat_s:
                rep.line(f"{label}: {_seconds(now - t0)} elapsed, still running")

    thread = threading.Thread(target=beat, name="lm-eval-values-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


__all__ = ["heartbeat", "progress_enabled", "progress_lines", "track"]
