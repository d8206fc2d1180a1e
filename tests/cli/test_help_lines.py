"""Every option of these commands has a help line; sweep and check point to the config formats."""

from __future__ import annotations

import argparse
import importlib

import pytest

from lm_eval_values.cli import COMMANDS
from lm_eval_values.core.errors import ArgumentParser

#: commands whose every option is documented here (the analysis commands have their own tests)
COMMANDS_CHECKED = ("tasks-dir", "fetch-model", "make-tasks", "sweep", "matrix", "merge", "discover-features",
                    "train-sae", "check")


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__("parser captured")
        self.parser = parser


def _parser_of(command: str, monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The command's parser, caught when its ``main`` starts parsing (nothing runs)."""
    def capture(self, *args, **kwargs):
        raise _Captured(self)

    monkeypatch.setattr(ArgumentParser, "parse_args", capture)
    module = importlib.import_module(COMMANDS[command][0])
    with pytest.raises(_Captured) as caught:
        module.main([])
    return caught.value.parser


@pytest.mark.parametrize("command", COMMANDS_CHECKED)
def test_every_option_has_a_help_line(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = _parser_of(command, monkeypatch)
    missing = [a.option_strings[0] if a.option_strings else a.dest for a in parser._actions
               if a.help != argparse.SUPPRESS and not (a.help or "").strip()]
    assert not missing, f"{command}: options without help: {missing}"
    assert (parser.description or "").strip()


@pytest.mark.parametrize("command", ("sweep", "check", "study"))
def test_config_commands_link_the_config_formats(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _parser_of(command, monkeypatch).format_help()
    assert "docs/CONFIGS.md" in text


def test_sweep_help_explains_auto_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    text = " ".join(_parser_of("sweep", monkeypatch).format_help().split())
    assert "auto" in text and "SLURM" in text and "docs/CLUSTER.md" in text
