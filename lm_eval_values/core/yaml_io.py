"""Reading user YAML files strictly, with one-line errors.

Every YAML document the package reads from a user (sweep, study and check configs) goes through
:func:`read_yaml_file` / :func:`load_yaml_text`, which keep ``yaml.safe_load``'s safety (no Python
tags) and add three rules:

* a key written twice in one mapping is an error (plain PyYAML keeps the last one silently);
* a document may have at most :data:`MAX_YAML_BYTES` bytes and nest at most :data:`MAX_YAML_DEPTH`
  levels;
* a document may stand for at most :data:`MAX_YAML_VALUES` values once its aliases (``*name``) are
  expanded, so an alias bomb ("billion laughs") is refused in linear time instead of hanging
  whatever walks the parsed data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.inputs import mark_input

#: largest YAML document read (configs are a few KiB)
MAX_YAML_BYTES = 4 * 1024 * 1024
#: most values (scalars, lists, mappings) a document may expand to through aliases
MAX_YAML_VALUES = 200_000
#: deepest nesting of lists / mappings
MAX_YAML_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlLimitError(yaml.YAMLError):
    """A document over a size limit, or with a key written twice (a :class:`yaml.YAMLError`)."""

    def __init__(self, problem: str, fix: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.line = line


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys in a mapping."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader reports it below
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise YamlLimitError(f"duplicate key {key!r} at line {line} (first written at line {first})",
                                         "write each key once (YAML would silently keep the last one)", line)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int], depth: int) -> int:
    """Number of values ``node`` stands for with every alias expanded (memoised per node)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise YamlLimitError("an alias refers to the list or mapping that contains it", "remove the recursive alias",
                             node.start_mark.line + 1)
    if depth > MAX_YAML_DEPTH:
        raise YamlLimitError(f"lists or mappings are nested more than {MAX_YAML_DEPTH} levels deep",
                             "flatten the document", node.start_mark.line + 1)
    active.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        total += _expanded_size(child, memo, active, depth + 1)
        if total > MAX_YAML_VALUES:
            raise YamlLimitError(f"it expands to more than {MAX_YAML_VALUES:,} values through aliases (*name)",
                                 "write the values out instead of nesting aliases")
    active.discard(key)
    memo[key] = total
    return total


def load_yaml_text(text: str, source: str = "YAML", field: str = "CONFIG") -> Any:
    """Parse one YAML document strictly (see the module docstring); problems are a one-line :class:`UserError`."""
    size = len(text.encode("utf-8"))
    if size > MAX_YAML_BYTES:
        raise UserError(field, f"{source} has {size:,} bytes, more than the {MAX_YAML_BYTES:,} a YAML input may have",
                        "give a smaller file (configs are a few KiB)")
    loader = StrictSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set(), 0)
        return loader.construct_document(node)
    except YamlLimitError as exc:
        raise UserError(field, f"{source}: {exc.problem}", exc.fix) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(field, f"{source} is not valid YAML{where}", "fix the YAML syntax") from None
    except RecursionError:
        raise UserError(field, f"{source}: lists or mappings are nested too deeply", "flatten the document") from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | Path, field: str = "CONFIG", what: str = "a YAML file") -> Any:
    """Read and parse ``path`` strictly; a missing, unreadable, non-UTF-8, invalid or oversized file is a UserError."""
    p = Path(path)
    if not p.is_file():
        raise UserError(field, f"{p} does not exist" if not p.exists() else f"{p} is not a file", f"give {what}")
    mark_input(p)
    try:
        size = p.stat().st_size
        if size > MAX_YAML_BYTES:
            raise UserError(field, f"{p} has {size:,} bytes, more than the {MAX_YAML_BYTES:,} a YAML input may have",
                            "give a smaller file (configs are a few KiB)")
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(field, f"{p} is not UTF-8 text", "give a YAML text file") from None
    except OSError as exc:
        raise UserError(field, f"cannot read {p} ({exc.strerror or exc})", f"give {what}") from None
    return load_yaml_text(text, str(p), field)
