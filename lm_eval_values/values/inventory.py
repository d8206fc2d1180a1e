"""Item banks and inventory loading for the ``values_*`` tasks.

Three sources of items, all turned into the same lm-eval docs by :func:`build_docs`:

* the project's own Schwartz bank (``tasks/schwartz/schwartz_items.jsonl``, written for this
  project, see ``docs/ITEM_BANK.md``): :func:`schwartz_items`, offline, always available;
* ValueBench (``questionnaire,item,value,agreement,question``): :func:`load_inventory` on
  the source named by :func:`valuebench_source` - the task metadata key ``valuebench``
  (``--metadata '{"valuebench": "PATH_OR_URL"}'``), else the environment variable
  ``LM_EVAL_VALUES_VALUEBENCH``, else the upstream CSV at a pinned commit
  (:data:`VALUEBENCH_URL`). The item text is read at run time and never stored in the repo;
* a user's own CSV/JSONL with the same columns (``lm-eval-values make-tasks``).

lm-eval calls :func:`load_task_dataset` (``custom_dataset: !function utils.custom_dataset``)
with the task metadata and ``dataset_kwargs`` (``values_family``, ``values_dimension``,
``values_format`` and, for subsets and user files, ``values_questionnaire`` /
``values_source``).

Every doc carries ``item_id``, ``value`` (display name), ``agreement`` (+1 / -1),
``format``, ``inventory`` (questionnaire), ``family``, ``statement`` (first-person form)
and ``question`` (advice-seeking form). Docs are ordered so that positively and
reverse-keyed items alternate first (stable otherwise), so even ``--limit 2`` sees both keys.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.paths import tasks_dir
from lm_eval_values.values.scoring import FORMATS

VALUEBENCH_ENV = "LM_EVAL_VALUES_VALUEBENCH"
VALUEBENCH_METADATA_KEY = "valuebench"
VALUEBENCH_COMMIT = "188773443c1f2f24ff3223e46216bd74ed91ae51"
VALUEBENCH_URL = (
    f"https://raw.githubusercontent.com/Value4AI/ValueBench/{VALUEBENCH_COMMIT}/data/value_orientation.csv"
)
#: task names of ValueBench: ``valuebench_<slug>[suffix]``; groups over all 224 dimensions, the study's 17
#: (Kang et al. 2025) and the PVQ-40 rows (tasks ``valuebench_pvq40_<value>``). Outside ``values_*`` on
#: purpose: ``--tasks 'values_*'`` runs only what works offline.
VALUEBENCH_TASK_PREFIX = "valuebench"
VALUEBENCH_ALL_GROUP = "valuebench_all"
VALUEBENCH_VCG17_GROUP = "valuebench_vcg17"
VALUEBENCH_PVQ40_GROUP = "valuebench_pvq40"
REQUIRED_COLUMNS: tuple[str, ...] = ("questionnaire", "item", "value", "agreement", "question")
SCHWARTZ_INVENTORY = "lev-schwartz-10x10"
FAMILIES = ("schwartz", "valuebench", "user")
_FETCH_TIMEOUT_S = 30


@dataclass(frozen=True)
class Item:
    """One questionnaire item, usable as a statement and as a question."""

    item_id: str
    value: str
    agreement: int
    statement: str
    question: str
    inventory: str


# --------------------------------------------------------------------------- reading

def _read_text(source: str, field: str) -> str:
    """Text of a local file or http(s) URL; :class:`UserError` when it cannot be read."""
    fix = (f"point {VALUEBENCH_ENV} or --metadata '{{\"{VALUEBENCH_METADATA_KEY}\": PATH}}' "
           "at a readable copy of the inventory (e.g. value_orientation.csv)")
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=_FETCH_TIMEOUT_S) as resp:  # noqa: S310 (http(s) only)
                return resp.read().decode("utf-8-sig")
        except (urllib.error.URLError, OSError, TimeoutError, UnicodeDecodeError) as exc:
            raise UserError(field, f"cannot read {source}: {exc}", fix) from None
    path = Path(source).expanduser()
    if not path.is_file():
        raise UserError(field, f"{source} does not exist or is not a file", fix)
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(field, f"cannot read {source}: {exc}", fix) from None


def _parse_rows(text: str, source: str, field: str) -> list[dict[str, Any]]:
    """Rows of a CSV (default) or JSONL (``.jsonl`` / ``.json`` suffix) text."""
    name = source.split("?", 1)[0].lower()
    if name.endswith((".jsonl", ".json", ".ndjson")):
        rows: list[dict[str, Any]] = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(field, f"{source} line {n} is not valid JSON ({exc.msg})",
                                "write one JSON object per line") from None
            if not isinstance(row, dict):
                raise UserError(field, f"{source} line {n} is not a JSON object", "write one JSON object per line")
            rows.append(row)
        return rows
    try:
        reader = csv.DictReader(io.StringIO(text))
        rows = [dict(r) for r in reader]
    except csv.Error as exc:
        raise UserError(field, f"{source} is not a readable CSV ({exc})", "save it as comma-separated UTF-8") from None
    if reader.fieldnames is None:
        raise UserError(field, f"{source} is empty", f"give a CSV with columns {','.join(REQUIRED_COLUMNS)}")
    return rows


def _agreement(raw: Any, where: str, field: str) -> int:
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = float("nan")
    if value not in (1.0, -1.0):
        raise UserError(field, f"{where}: agreement must be +1 or -1, got {raw!r}",
                        "use 1 for items keyed towards the value and -1 for reverse-keyed items")
    return int(value)


def validate_rows(rows: list[dict[str, Any]], source: str, field: str = "inventory",
                  id_prefix: str = "r") -> list[Item]:
    """Check columns, keys and texts; return :class:`Item` objects (row order kept).

    ``item_id`` comes from an optional ``item_id`` column, else ``<id_prefix><row:04d>``
    (1-based data row). Raises :class:`UserError` on the first problem.
    """
    if not rows:
        raise UserError(field, f"{source} has no items", f"give rows with columns {','.join(REQUIRED_COLUMNS)}")
    columns = set().union(*(r.keys() for r in rows))
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise UserError(field, f"{source} lacks column(s) {', '.join(missing)}",
                        f"the file needs columns {','.join(REQUIRED_COLUMNS)}")
    items: list[Item] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, 1):
        where = f"{source} row {n}"
        texts = {}
        for col in ("questionnaire", "item", "value", "question"):
            val = row.get(col)
            val = "" if val is None else str(val).strip()
            if not val:
                raise UserError(field, f"{where}: empty {col!r}", f"fill in {col!r} on every row")
            texts[col] = " ".join(val.split())
        item_id = str(row.get("item_id") or "").strip() or f"{id_prefix}{n:04d}"
        if item_id in seen:
            raise UserError(field, f"{where}: duplicate item_id {item_id!r}", "make item_id unique")
        seen.add(item_id)
        items.append(Item(item_id=item_id, value=texts["value"], agreement=_agreement(row.get("agreement"), where, field),
                          statement=texts["item"], question=texts["question"], inventory=texts["questionnaire"]))
    return items


@functools.lru_cache(maxsize=16)
def load_inventory(source: str, field: str = "inventory", id_prefix: str = "r") -> tuple[Item, ...]:
    """Read and validate an inventory CSV/JSONL (path or URL), cached per process."""
    text = _read_text(source, field)
    return tuple(validate_rows(_parse_rows(text, source, field), source, field, id_prefix))


def valuebench_source(metadata: dict[str, Any] | None = None) -> str:
    """Where ValueBench is read from: metadata ``valuebench``, else ``$LM_EVAL_VALUES_VALUEBENCH``, else the pinned URL."""
    meta_src = (metadata or {}).get(VALUEBENCH_METADATA_KEY)
    if meta_src:
        return str(meta_src)
    env_src = os.environ.get(VALUEBENCH_ENV, "").strip()
    return env_src or VALUEBENCH_URL


def valuebench_hint() -> str:
    """One sentence: how to add ValueBench to a run (its source and its group names)."""
    return (f"ValueBench is not in values_* (it needs its CSV): add --tasks {VALUEBENCH_VCG17_GROUP} (the study's 17 "
            f"dimensions), {VALUEBENCH_PVQ40_GROUP} or {VALUEBENCH_ALL_GROUP} (all 224; suffixes _yesno_rev, _likert, "
            f"_likert_rev, _gen for other formats) with --metadata '{{\"{VALUEBENCH_METADATA_KEY}\": PATH}}' or "
            f"${VALUEBENCH_ENV}=PATH (value_orientation.csv; without either it is downloaded from GitHub)")


def load_valuebench(source: str | None = None) -> tuple[Item, ...]:
    """ValueBench items (``item_id`` = ``vb<row>``) from ``source`` or :func:`valuebench_source`."""
    return load_inventory(source or valuebench_source(), field=f"ValueBench source (${VALUEBENCH_ENV})", id_prefix="vb")


def schwartz_bank_path() -> Path:
    """The project's own Schwartz item bank (JSONL, shipped with the tasks)."""
    return tasks_dir() / "schwartz" / "schwartz_items.jsonl"


@functools.lru_cache(maxsize=1)
def schwartz_items() -> tuple[Item, ...]:
    """The 100 items (10 per Schwartz value) written for this project."""
    items = []
    for line in schwartz_bank_path().read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items.append(Item(item_id=row["item_id"], value=row["value"], agreement=int(row["agreement"]),
                              statement=row["statement"], question=row["question"], inventory=SCHWARTZ_INVENTORY))
    return tuple(items)


def dimensions(items: Iterable[Item]) -> list[str]:
    """Value names in first-appearance order."""
    return list(dict.fromkeys(it.value for it in items))


# --------------------------------------------------------------------------- docs

def interleave_keys(items: Iterable[Item]) -> list[Item]:
    """Alternate positively and reverse-keyed items (+, -, +, -, ...), each side in its own order."""
    pool = list(items)
    pos = [it for it in pool if it.agreement == 1]
    neg = [it for it in pool if it.agreement == -1]
    out: list[Item] = []
    for i in range(max(len(pos), len(neg))):
        out += pos[i:i + 1] + neg[i:i + 1]
    return out


def build_docs(items: Iterable[Item], fmt: str, family: str) -> list[dict[str, Any]]:
    """lm-eval docs for ``items`` in answer format ``fmt`` (keys interleaved)."""
    if fmt not in FORMATS:
        raise UserError("values_format", f"unknown answer format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    docs = []
    for it in interleave_keys(list(items)):
        doc = asdict(it)
        doc.update(format=fmt, family=family)
        docs.append(doc)
    return docs


def select_items(family: str, dimension: str, questionnaire: str | None = None, source: str | None = None,
                 metadata: dict[str, Any] | None = None) -> list[Item]:
    """Items of one value dimension of a family (optionally one questionnaire only)."""
    if family == "schwartz":
        pool: tuple[Item, ...] = schwartz_items()
    elif family == "valuebench":
        pool = load_valuebench(valuebench_source(metadata))
    elif family == "user":
        if not source:
            raise UserError("values_source", "a user inventory task needs dataset_kwargs.values_source",
                            "regenerate the task YAMLs with `lm-eval-values make-tasks`")
        pool = load_inventory(str(source), field="values_source")
    else:
        raise UserError("values_family", f"unknown family {family!r}", f"use one of {', '.join(FAMILIES)}")
    chosen = [it for it in pool if it.value == dimension and (questionnaire is None or it.inventory == questionnaire)]
    if not chosen:
        where = f" in questionnaire {questionnaire}" if questionnaire else ""
        raise UserError("values_dimension", f"no items for value {dimension!r}{where} in the {family} source",
                        "check the source file (it must be the inventory the task YAMLs were generated from)")
    return chosen


def load_task_dataset(values_family: str, values_dimension: str, values_format: str,
                      values_questionnaire: str | None = None, values_source: str | None = None,
                      **metadata: Any) -> dict[str, Any]:
    """lm-eval ``custom_dataset``: ``{"test": datasets.Dataset}`` of one value dimension in one format."""
    import datasets

    items = select_items(values_family, values_dimension, values_questionnaire, values_source, metadata)
    return {"test": datasets.Dataset.from_list(build_docs(items, values_format, values_family))}
