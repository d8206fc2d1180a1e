"""Options every analysis-stage command shares (``graph``, ``compare-human``, ``side-effects``,
``reliability``): ``--study RUN_DIR --model ID`` to rerun a study's stage with the study's settings,
settings flags that default to "not given" (so that a given flag changes only its own setting), and
errors that name the flag instead of the settings key.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, TypeVar

from lm_eval_values.analysis.protocols import load_protocol, protocol_names
from lm_eval_values.core.errors import UserError
from lm_eval_values.study.rerun import StudyModel, open_study_model

T = TypeVar("T")


def add_study_options(p: argparse.ArgumentParser, stage: str) -> None:
    """``--study RUN_DIR`` and ``--model ID``."""
    p.add_argument("--study", default=None, metavar="RUN_DIR",
                   help=f"rerun the {stage} stage of a finished study: its rows and settings (other options given "
                        f"change them); the files equal RUN_DIR/<model>/{stage}/ byte for byte (all but stage.json)")
    p.add_argument("--model", default=None, metavar="ID", help="the study's model id (default: its only model)")


def add_protocol_option(p: argparse.ArgumentParser, section: str) -> None:
    """``--protocol NAME``: start from a published study's settings (``lm_eval_values/data/protocols``)."""
    p.add_argument("--protocol", default=None, metavar="NAME",
                   help=f"start from the {section} settings of a published analysis instead of the honest defaults "
                        f"(shipped: {', '.join(protocol_names())}; or a protocol YAML file); other options given "
                        "change single settings (docs/REPRODUCE.md)")


def protocol_section(args: argparse.Namespace, section: str) -> dict[str, Any] | None:
    """The ``section`` settings of ``--protocol`` (None without it); refuses ``--protocol`` with ``--study``."""
    if getattr(args, "protocol", None) is None:
        return None
    if getattr(args, "study", None) is not None:
        raise UserError("--protocol", "a study's stage is rerun with the study's own settings",
                        "drop --protocol or --study")
    return load_protocol(args.protocol).section(section)


def open_study(args: argparse.Namespace, positional: str | None = None) -> StudyModel | None:
    """The study model of ``--study`` (None without it); refuses a positional input next to it."""
    if args.study is None:
        if args.model is not None:
            raise UserError("--model", "is used with --study", "add --study RUN_DIR or drop --model")
        return None
    if positional is not None and getattr(args, positional, None) is not None:
        raise UserError("--study", f"reads the study's own inputs; {positional.upper()} was given too",
                        f"drop {positional.upper()} or --study")
    return open_study_model(args.study, args.model)


def given(args: argparse.Namespace, names: dict[str, str]) -> dict[str, Any]:
    """``{settings key: value}`` of the flags given (``names``: argparse dest -> settings key)."""
    return {key: getattr(args, dest) for dest, key in names.items() if getattr(args, dest, None) is not None}


def flag_field(field: str, parser: argparse.ArgumentParser, section: str) -> str:
    """``graph.alpha`` / ``alpha`` -> ``--alpha`` when the parser has that flag; the field otherwise."""
    name = field.split(".", 1)[1] if field.startswith(section + ".") else field
    flag = "--" + name.split(".")[0].replace("_", "-")
    known = {s for a in parser._actions for s in a.option_strings}
    return flag if flag in known else field


def with_flags(fn: Callable[[], T], parser: argparse.ArgumentParser, section: str) -> T:
    """Run ``fn``; a :class:`UserError` about a setting is re-raised naming its flag."""
    try:
        return fn()
    except UserError as exc:
        flag = flag_field(exc.field, parser, section)
        if flag == exc.field:
            raise
        raise UserError(flag, exc.problem, exc.fix) from None


def split_list(items: list[str] | None) -> list[str] | None:
    """Command-line lists: each item may hold several entries separated by commas."""
    if items is None:
        return None
    return [s.strip() for it in items for s in it.split(",") if s.strip()]


__all__ = ["add_protocol_option", "add_study_options", "protocol_section", "flag_field", "given", "open_study", "split_list", "with_flags"]
