"""Background knowledge for causal discovery, in node names -> causal-learn ``BackgroundKnowledge``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from causallearn.graph.GraphNode import GraphNode
from causallearn.utils.PCUtils.BackgroundKnowledge import BackgroundKnowledge

from lm_eval_values.core.errors import UserError


@dataclass
class Background:
    """Background knowledge in node names.

    Attributes:
        forbidden: ``(u, v)`` pairs: no edge u -> v.
        required: ``(u, v)`` pairs: edge u -> v must be present.
        tiers: list of lists of node names; a node in a later tier cannot cause one in an earlier tier.
        forbid_within_tiers: tier indices whose members may not be adjacent to each other.
    """

    forbidden: list[tuple[str, str]] = field(default_factory=list)
    required: list[tuple[str, str]] = field(default_factory=list)
    tiers: list[list[str]] = field(default_factory=list)
    forbid_within_tiers: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], field_name: str = "background") -> "Background":
        """From ``{"forbidden": [[u, v], ...], "required": [...], "tiers": [[...], ...]}``."""
        if not isinstance(d, Mapping):
            raise UserError(field_name, "must be an object with forbidden / required / tiers",
                            'e.g. {"forbidden": [["Economic", "Religious"]], "tiers": [["Religious"], ["Economic"]]}')
        unknown = set(d) - {"forbidden", "required", "tiers", "forbid_within_tiers"}
        if unknown:
            raise UserError(field_name, f"unknown key(s) {sorted(unknown)}", "use forbidden, required, tiers, forbid_within_tiers")

        def pairs(key: str) -> list[tuple[str, str]]:
            out = []
            for p in d.get(key, []) or []:
                if not (isinstance(p, (list, tuple)) and len(p) == 2):
                    raise UserError(f"{field_name}.{key}", f"{p!r} is not a [from, to] pair", "give [from, to] name pairs")
                out.append((str(p[0]), str(p[1])))
            return out

        tiers = d.get("tiers", []) or []
        if not all(isinstance(t, (list, tuple)) for t in tiers):
            raise UserError(f"{field_name}.tiers", "must be a list of lists of node names", 'e.g. [["A"], ["B", "C"]]')
        return cls(pairs("forbidden"), pairs("required"), [[str(x) for x in t] for t in tiers],
                   [int(i) for i in d.get("forbid_within_tiers", []) or []])

    def to_dict(self) -> dict[str, Any]:
        """Inverse of :meth:`from_dict` (lists of lists, JSON-ready)."""
        return {"forbidden": [list(p) for p in self.forbidden], "required": [list(p) for p in self.required],
                "tiers": [list(t) for t in self.tiers], "forbid_within_tiers": list(self.forbid_within_tiers)}

    def names(self) -> set[str]:
        """Every node name mentioned."""
        s = {x for p in self.forbidden + self.required for x in p}
        s |= {x for t in self.tiers for x in t}
        return s

    def is_empty(self) -> bool:
        """True when no constraint is given."""
        return not (self.forbidden or self.required or self.tiers)

    def to_causallearn(self, nodes: Sequence[str]) -> Any:
        """A causal-learn ``BackgroundKnowledge`` over ``nodes`` (unknown names -> UserError)."""
        unknown = sorted(self.names() - set(nodes))
        if unknown:
            raise UserError("background", f"unknown node name(s) {unknown}", f"use some of: {', '.join(nodes)}")
        clash = set(self.forbidden) & set(self.required)
        if clash:
            raise UserError("background", f"edge(s) both forbidden and required: {sorted(clash)}", "keep one")
        bk = BackgroundKnowledge()
        for u, v in self.forbidden:
            bk.add_forbidden_by_node(GraphNode(u), GraphNode(v))
        for u, v in self.required:
            bk.add_required_by_node(GraphNode(u), GraphNode(v))
        seen: set[str] = set()
        for t, members in enumerate(self.tiers):
            for m in members:
                if m in seen:
                    raise UserError("background.tiers", f"{m!r} is in more than one tier", "put each node in one tier")
                seen.add(m)
                bk.add_node_to_tier(GraphNode(m), t)
        for t in self.forbid_within_tiers:
            bk.forbid_within_tier(t)
        return bk


def parse_background(obj: Any) -> Background | None:
    """None, a :class:`Background`, or its dict form -> Background."""
    if obj is None or isinstance(obj, Background):
        return obj
    return Background.from_dict(obj)


__all__ = ["Background", "parse_background"]
