"""HTML building blocks of the report: escaping, tables, figures, links to the run folder's files."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from lm_eval_values.report.summary import fmt_number


def esc(x: Any) -> str:
    """``x`` as escaped HTML text."""
    return html.escape(str(x))


def table(rows: list[dict[str, Any]], cols: list[tuple[str, str]], left: tuple[str, ...] = ()) -> str:
    """An HTML table of ``rows`` with columns ``(key, title)``; ``left``: left-aligned keys."""
    head = "".join(f"<th class='l'>{esc(t)}</th>" if k in left else f"<th>{esc(t)}</th>" for k, t in cols)
    body = []
    for r in rows:
        cells = []
        for k, _ in cols:
            v = r.get(k)
            if isinstance(v, float):
                v = fmt_number(v, 3)
            elif v is None:
                v = "n/a"
            cells.append(f"<td class='l'>{esc(v)}</td>" if k in left else f"<td>{esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def figure(src: str, caption: str) -> str:
    """An image with a caption (``caption`` is HTML)."""
    return f"<figure><img src='{esc(src)}' alt='{esc(caption[:80])}'><figcaption>{caption}</figcaption></figure>"


#: files the report build in progress will write (relative paths): linked even before they exist on disk
PLANNED_FILES: set[str] = set()


def exists(run: Path, rel: str) -> bool:
    """True when ``run/rel`` exists or the report build will write it."""
    return rel in PLANNED_FILES or (run / rel).exists()


def link(run: Path, rel: str) -> str:
    """A relative link to ``rel`` when it exists, else ``""``."""
    return f"<a href='{esc(rel)}'>{esc(rel)}</a>" if exists(run, rel) else ""
