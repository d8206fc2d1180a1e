"""Strict YAML for spec files: ``yaml.safe_load`` that refuses duplicate keys and alias bombs.

The same rules as ``lm_eval_values.core.yaml_io`` (kept separate: steering_hooks is standalone):
a key written twice is an error (plain PyYAML keeps the last), and a document may expand to at
most :data:`MAX_VALUES` values through aliases and be at most :data:`MAX_BYTES` long.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 4 * 1024 * 1024
MAX_VALUES = 200_000
MAX_DEPTH = 64


class StrictYAMLError(yaml.YAMLError):
    """A duplicate key, an oversized document or an alias bomb."""


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    dup = key in seen
                    seen.add(key)
                except TypeError:
                    continue
                if dup:
                    raise StrictYAMLError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        return super().construct_mapping(node, deep=deep)


def _size(node: yaml.Node, memo: dict[int, int], active: set[int], depth: int) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active or depth > MAX_DEPTH:
        raise StrictYAMLError("recursive alias" if key in active else f"nested more than {MAX_DEPTH} levels")
    active.add(key)
    kids = (list(node.value) if isinstance(node, yaml.SequenceNode) else
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
    total = 1
    for kid in kids:
        total += _size(kid, memo, active, depth + 1)
        if total > MAX_VALUES:
            raise StrictYAMLError(f"expands to more than {MAX_VALUES:,} values through aliases")
    active.discard(key)
    memo[key] = total
    return total


def strict_load(text: str) -> Any:
    """Parse one YAML document with the rules above (raises a :class:`yaml.YAMLError`)."""
    if len(text) > MAX_BYTES:
        raise StrictYAMLError(f"{len(text):,} characters, more than {MAX_BYTES:,}")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _size(node, {}, set(), 0)
        return loader.construct_document(node)
    except RecursionError:
        raise StrictYAMLError("nested too deeply") from None
    finally:
        loader.dispose()
