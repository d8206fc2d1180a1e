"""``lm-eval-values make-tasks``: turn an inventory CSV/JSONL into lm-eval task YAMLs and groups
(:mod:`lm_eval_values.values.make_tasks`)."""

from __future__ import annotations

import json
from pathlib import Path

from lm_eval_values.core.atomic import atomic_directory, check_output_dir
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.files import FORMAT_SUFFIXES
from lm_eval_values.core.reserved import check_new_task_names, generated_task_names
from lm_eval_values.values.make_tasks import build_user_family, write_files
from lm_eval_values.values.scoring import FORMATS


def _parse_formats(text: str) -> list[str]:
    fmts = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in fmts if f not in FORMATS]
    if not fmts or bad:
        raise UserError("--formats", f"unknown answer format(s) {', '.join(bad) or '(none)'}",
                        f"use a comma-separated subset of {','.join(FORMATS)}")
    return list(dict.fromkeys(fmts))


def main(argv: list[str]) -> int:
    """``lm-eval-values make-tasks``: turn an inventory CSV/JSONL into lm-eval task YAMLs and groups."""
    parser = ArgumentParser(
        prog="lm-eval-values make-tasks", description=main.__doc__,
        epilog="The file needs columns questionnaire,item,value,agreement,question (agreement +1/-1; optional "
               "item_id). The YAMLs reference the file by absolute path: items are read at run time.")
    parser.add_argument("source", help="inventory .csv or .jsonl")
    parser.add_argument("--prefix", required=True, help="task/group name stem, e.g. values_mine")
    parser.add_argument("--out", help="output folder (default: ./<prefix>)")
    parser.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated subset of {','.join(FORMATS)}")
    parser.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    args = parser.parse_args(argv)

    source = Path(args.source)
    if source.suffix.lower() not in (".csv", ".jsonl", ".json", ".ndjson"):
        raise UserError("source", f"{source} is neither .csv nor .jsonl", "give a .csv or .jsonl inventory file")
    formats = _parse_formats(args.formats)
    files = build_user_family(source, args.prefix, formats)  # validates everything first
    check_new_task_names(generated_task_names(files), "--prefix", f"choose a prefix whose task names are new, "
                         f"e.g. values_{args.prefix}")
    # e.g. not a path under a regular file, nor a folder (replaced as a whole) that holds the source
    out = check_output_dir(args.out or args.prefix, "--out", replace=True)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.force:
        raise UserError("--out", f"{out} exists and is not empty", "choose another --out or pass --force to replace it")
    with atomic_directory(out) as tmp:
        write_files(tmp, files)
        (tmp / "_make_tasks.json").write_text(json.dumps(
            {"source": str(source.resolve()), "prefix": args.prefix, "formats": formats}, indent=2) + "\n")
    groups = ", ".join(f"{args.prefix}{FORMAT_SUFFIXES[f]}" for f in formats)
    n_tasks = sum(1 for k in files if k.endswith(".yaml") and "/" in k and not k.split("/")[-1].startswith("_"))
    print(f"wrote {n_tasks} tasks and group(s) {groups} to {out}")
    print(f"run: lm_eval --include_path {out} --tasks {args.prefix} --model hf --model_args pretrained=...")
    return 0
