"""Progress lines: quiet unless turned on; counted loops print elapsed time and what is left."""

from __future__ import annotations

import io
import time

from lm_eval_values.core.progress import heartbeat, progress_enabled, progress_lines, track


def test_quiet_by_default_and_when_disabled() -> None:
    assert not progress_enabled()
    assert list(track(range(5), "x", 5)) == [0, 1, 2, 3, 4]
    buf = io.StringIO()
    with progress_lines(False, every_s=0.0, stream=buf):
        assert list(track(range(3), "x", 3)) == [0, 1, 2]
        with heartbeat("stage"):
            pass
    assert buf.getvalue() == ""


def test_counted_loop_prints_progress_and_the_end() -> None:
    buf = io.StringIO()
    with progress_lines(True, every_s=0.0, stream=buf):
        assert progress_enabled()
        out = [x * 2 for x in track(range(4), "graph bootstrap", 4, "resamples")]
    assert not progress_enabled()
    assert out == [0, 2, 4, 6]
    lines = buf.getvalue().splitlines()
    assert lines[0].strip().startswith("graph bootstrap: 1/4 resamples,") and "elapsed, about" in lines[0]
    assert lines[-1].strip().startswith("graph bootstrap: 4/4 resamples in")
    assert len(lines) == 4  # 1/4, 2/4, 3/4, and the closing line


def test_heartbeat_speaks_only_after_silence() -> None:
    buf = io.StringIO()
    with progress_lines(True, heartbeat_s=0.05, stream=buf):
        with heartbeat("4/6 causal graph"):
            time.sleep(0.3)
    assert "4/6 causal graph:" in buf.getvalue() and "elapsed, still running" in buf.getvalue()
