"""Named analysis protocols: the settings a published study used, shipped as data.

A protocol (``lm_eval_values/data/protocols/<name>.yaml``) holds, per analysis stage, the stage's own
settings keys (what its command's options and a study config's section take). A command given
``--protocol NAME`` starts from that section instead of the honest defaults; options given on the
command line still change single settings. ``kang2025-gemma-2b-it`` is the reference study's
analysis of its Gemma-2B-IT data (docs/REPRODUCE.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.yaml_io import read_yaml_file

PROTOCOL_DIR = Path(__file__).resolve().parents[1] / "data" / "protocols"


def protocol_names() -> list[str]:
    """The shipped protocols."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


@dataclass(frozen=True)
class Protocol:
    """A named protocol: its title, data files, and one settings mapping per stage section."""

    name: str
    title: str
    sections: Mapping[str, Any]

    def section(self, name: str, field: str = "--protocol") -> dict[str, Any]:
        """The settings of one stage (``graph``, ``side_effects.sae``, ...); a one-line error if absent."""
        node: Any = self.sections
        for part in name.split("."):
            if not isinstance(node, Mapping) or part not in node:
                have = [k for k, v in self.sections.items() if isinstance(v, Mapping)]
                raise UserError(field, f"protocol {self.name!r} has no {name!r} section",
                                f"use a command whose stage it covers ({', '.join(have)})")
            node = node[part]
        if not isinstance(node, Mapping):
            raise UserError(field, f"protocol {self.name!r}: {name!r} is not a settings mapping", "fix the file")
        return dict(node)


def load_protocol(name: str, field: str = "--protocol") -> Protocol:
    """A shipped protocol by name, or a protocol YAML file by path."""
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        path = PROTOCOL_DIR / f"{name}.yaml"
        if not path.is_file():
            raise UserError(field, f"no protocol {name!r}", f"use one of: {', '.join(protocol_names())} "
                                                            "(or a protocol YAML file)")
    data = read_yaml_file(path, field, "a protocol YAML file")
    if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
        raise UserError(field, f"{path} is not a protocol (no name)", "give a protocol YAML file")
    return Protocol(name=data["name"], title=str(data.get("title", data["name"])), sections=data)


__all__ = ["PROTOCOL_DIR", "Protocol", "load_protocol", "protocol_names"]
