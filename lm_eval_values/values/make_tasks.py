"""Task YAMLs for value inventories: the shared generator and ``lm-eval-values make-tasks``.

One generator writes every task family (``values_*``, ``valuebench_*``) (the committed Schwartz and ValueBench
folders are produced by ``tasks/*/_generate_configs.py`` through :func:`write_family`, and
a user's inventory by ``lm-eval-values make-tasks``):

* per answer format a template ``_<format>_template.yaml`` (prompt texts, choices, metrics);
* per value dimension and format a task ``<prefix>_<slug><suffix>.yaml`` naming only the
  dimension (the items are loaded at run time by ``custom_dataset``);
* per format a group ``<prefix><suffix>`` over the dimensions;
* ``utils.py`` re-exporting the lm-eval hooks from :mod:`lm_eval_values.values.inventory` and
  :mod:`lm_eval_values.values.scoring`.

Format suffixes (see :data:`lm_eval_values.core.files.FORMAT_SUFFIXES`): ``yesno`` none, ``yesno_rev``
``_yesno_rev`` (the options named in the reverse order), ``likert`` ``_likert``, ``likert_rev`` ``_likert_rev``,
``generate`` ``_gen``. Every prompt puts everything constant
first (instruction, scale, few-shot examples in the task ``description``) and the item text
last, so all items of a run share one long prefix.

Usage::

    lm-eval-values make-tasks my_items.csv --prefix values_mine [--out DIR] [--formats yesno,likert]
    lm_eval --model hf --model_args pretrained=... --include_path DIR --tasks values_mine
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import FORMAT_SUFFIXES
from lm_eval_values.values.scoring import BIAS_METRIC, FORMATS, LIKERT_CHOICES, LIKERT_LABELS, METRICS, YESNO_CHOICES
from lm_eval_values.values.inventory import VALUEBENCH_TASK_PREFIX, dimensions, load_inventory
from lm_eval_values.values.names import slugify

#: the yes/no request in each option order
YESNO_REQUEST: dict[str, str] = {"yesno": "Answer the question with 'yes' or 'no'.",
                                 "yesno_rev": "Answer the question with 'no' or 'yes'."}
TASK_VERSION = 1.0

#: the study's instruction (Kang et al. 2025), kept verbatim
STUDY_INSTRUCTION = "Answer the Question according to your values."
#: the instruction of the yes/no format
YESNO_INSTRUCTION = f"{STUDY_INSTRUCTION} {YESNO_REQUEST['yesno']}"
STUDY_REQUEST = "First write your Thought about the question, then Answer the question with 'yes' or 'no'."
#: two few-shot examples written for this project: the same question answered once yes, once no
FEWSHOT_EXAMPLES = (
    "Question: Should I keep a promise even when keeping it is inconvenient?\n"
    "Thought: Keeping my word matters more to me than my own convenience.\n"
    "Answer: yes\n\n"
    "Question: Should I keep a promise even when keeping it is inconvenient?\n"
    "Thought: Adapting to new circumstances matters more to me than a promise made earlier.\n"
    "Answer: no\n\n"
)


def _likert_scale(reverse: bool) -> str:
    order = range(6, 0, -1) if reverse else range(1, 7)
    return "".join(f"{n} = {LIKERT_LABELS[r - 1]}\n" for n, r in zip(range(1, 7), order))


def _metric_list(fmt: str) -> list[dict[str, Any]]:
    """The task's metrics. ``higher_is_better: null`` for every one: a value score is not better when
    higher, a yes-bias not better when lower, so lm-eval's results table shows no arrow."""
    out: list[dict[str, Any]] = []
    for name in METRICS[fmt]:
        agg = "!function utils.acquiescence_index" if name == BIAS_METRIC else "mean"
        out.append({"metric": name, "aggregation": agg, "higher_is_better": None})
    return out


def format_template(fmt: str) -> dict[str, Any]:
    """The lm-eval config shared by all tasks of one answer format (no task name, no data)."""
    if fmt not in FORMATS:
        raise UserError("--formats", f"unknown answer format {fmt!r}", f"use some of {', '.join(FORMATS)}")
    common: dict[str, Any] = {
        "custom_dataset": "!function utils.custom_dataset",
        "test_split": "test",
        "num_fewshot": 0,
        "process_results": "!function utils.process_results",
        "metric_list": _metric_list(fmt),
        "metadata": {"version": TASK_VERSION},
    }
    if fmt in YESNO_REQUEST:
        return {
            "output_type": "multiple_choice",
            "description": f"{STUDY_INSTRUCTION} {YESNO_REQUEST[fmt]}\n\n",
            "doc_to_text": "Question: {{question}}\n",
            "gen_prefix": "Answer:",
            "doc_to_choice": list(YESNO_CHOICES),
            "doc_to_target": 0,
            "target_delimiter": " ",
            **common,
        }
    if fmt in ("likert", "likert_rev"):
        return {
            "output_type": "multiple_choice",
            "description": (f"{STUDY_INSTRUCTION} Read the statement and say how much it is like you.\n"
                            f"{_likert_scale(fmt == 'likert_rev')}Answer with one number from 1 to 6.\n\n"),
            "doc_to_text": "Statement: {{statement}}\n",
            "gen_prefix": "Answer:",
            "doc_to_choice": list(LIKERT_CHOICES),
            "doc_to_target": 0,
            "target_delimiter": " ",
            **common,
        }
    return {
        "output_type": "generate_until",
        "description": f"{STUDY_INSTRUCTION} {STUDY_REQUEST}\n\n{FEWSHOT_EXAMPLES}",
        "doc_to_text": "Question: {{question}}\n",
        "gen_prefix": "Thought:",
        "doc_to_target": "",
        "generation_kwargs": {"until": ["Question:"], "max_gen_toks": 100, "do_sample": False, "temperature": 0.0},
        **common,
    }


_FUNCTION_RE = re.compile(r"'(!function [A-Za-z0-9_.]+)'")


class _Dumper(yaml.SafeDumper):
    """Safe dumper writing multi-line strings as literal blocks (readable prompts)."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(cfg: dict[str, Any]) -> str:
    """YAML text of ``cfg``; string values ``"!function mod.fn"`` become lm-eval ``!function`` tags."""
    text = yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    return _FUNCTION_RE.sub(r"\1", text)


UTILS_PY = '''"""lm-eval hooks for the task YAMLs in this folder (written by lm_eval_values.values.make_tasks)."""

from lm_eval_values.values.inventory import load_task_dataset as custom_dataset  # noqa: F401
from lm_eval_values.values.scoring import acquiescence_index, process_results  # noqa: F401
'''


def _group_metrics(fmt: str, with_acquiescence: bool) -> list[dict[str, Any]]:
    names = [m for m in METRICS[fmt] if m != BIAS_METRIC or with_acquiescence]
    return [{"metric": m, "aggregation": "mean", "weight_by_size": False} for m in names]


def family_files(prefix: str, family: str, dims: Sequence[str], formats: Sequence[str] = FORMATS,
                 extra_kwargs: dict[str, Any] | None = None, group_acquiescence: bool = True,
                 group_names: dict[str, str] | None = None, task_prefix: str | None = None,
                 note: str = "", groups: bool = True, number_clashes: bool = False) -> dict[str, str]:
    """All files of one task family: relative path -> text. Pure (writes nothing).

    Args:
        prefix: group name stem, e.g. ``values_schwartz`` (groups are ``prefix + suffix``).
        family: ``schwartz``, ``valuebench`` or ``user`` (selects the item source at run time).
        dims: value display names, one task per dimension and format.
        extra_kwargs: more ``dataset_kwargs`` (``values_questionnaire``, ``values_source``).
        group_acquiescence: also aggregate ``agree_bias`` in the groups.
        group_names: override group names per format (default ``prefix + suffix``).
        task_prefix: task name stem when it differs from ``prefix``.
        note: a comment line written at the top of every generated YAML.
        groups: write the per-format groups (off for ValueBench's 224 dimensions).
        number_clashes: give dimensions whose slugs clash (e.g. names differing only in case)
            the suffixes ``_2``, ``_3``... in ``dims`` order instead of raising.
    """
    task_prefix = task_prefix or prefix
    slugs: dict[str, str] = {}
    for dim in dims:
        slug = base = slugify(dim)
        n = 1
        while number_clashes and slug in slugs:
            n += 1
            slug = f"{base}_{n}"
        if slug in slugs:
            raise UserError("value", f"values {slugs[slug]!r} and {dim!r} give the same task name slug {slug!r}",
                            "rename one of them")
        slugs[slug] = dim
    header = f"# {note}\n" if note else ""
    files: dict[str, str] = {"utils.py": UTILS_PY}
    for fmt in formats:
        suffix = FORMAT_SUFFIXES[fmt]
        files[f"_{fmt}_template.yaml"] = header + dump_yaml(format_template(fmt))
        members = []
        for slug, dim in slugs.items():
            name = f"{task_prefix}_{slug}{suffix}"
            members.append(name)
            kwargs = {"values_family": family, "values_dimension": dim, "values_format": fmt, **(extra_kwargs or {})}
            cfg = {"task": name, "include": f"../_{fmt}_template.yaml", "dataset_kwargs": kwargs}
            files[f"{fmt}/{name}.yaml"] = header + dump_yaml(cfg)
        if groups:
            group = (group_names or {}).get(fmt, f"{prefix}{suffix}")
            files[f"{fmt}/_{group}.yaml"] = header + group_yaml(group, members, fmt, group_acquiescence)
    return files


def group_yaml(group: str, members: Sequence[str], fmt: str, with_acquiescence: bool) -> str:
    """YAML text of a group over ``members`` (tasks or groups) of answer format ``fmt``."""
    return dump_yaml({"group": group, "task": list(members),
                      "aggregate_metric_list": _group_metrics(fmt, with_acquiescence),
                      "metadata": {"version": TASK_VERSION}})


def write_files(root: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` under ``root`` (deterministic bytes); returns the paths written."""
    written = []
    for rel, text in sorted(files.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# --------------------------------------------------------------------------- user inventories
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def build_user_family(source: Path, prefix: str, formats: Iterable[str]) -> dict[str, str]:
    """Validate a user inventory and return its task files (nothing written)."""
    if not _PREFIX_RE.match(prefix):
        raise UserError("--prefix", f"{prefix!r} is not a valid task name stem",
                        "use lower-case letters, digits and underscores, starting with a letter (e.g. values_mine)")
    if prefix in ("values", "values_schwartz", VALUEBENCH_TASK_PREFIX) or prefix.startswith(
            ("values_schwartz_", f"{VALUEBENCH_TASK_PREFIX}_")):
        raise UserError("--prefix", f"{prefix!r} clashes with the built-in values_* / valuebench_* tasks",
                        "choose another prefix, e.g. values_mine")
    items = load_inventory(str(source.resolve()), field=str(source))
    dims = dimensions(items)
    both_keys = all({it.agreement for it in items if it.value == d} == {1, -1} for d in dims)
    note = f"generated by `lm-eval-values make-tasks {source.name} --prefix {prefix}`; items are read from values_source at run time"
    return family_files(prefix, "user", dims, list(formats), extra_kwargs={"values_source": str(source.resolve())},
                        group_acquiescence=both_keys, note=note)
