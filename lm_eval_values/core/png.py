"""Render a matplotlib figure to PNG bytes, deterministically (no timestamp or software metadata)."""

from __future__ import annotations

import io
from typing import Any


def figure_png(fig: Any, dpi: int = 110, tight: bool = True) -> bytes:
    """PNG bytes of ``fig`` (then closed): the same figure always gives the same bytes."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
