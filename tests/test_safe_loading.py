"""Safe loading, proven at grep level over the whole shipped code base.

No unpickling (`pickle`, `torch.load` without `weights_only=True`, `weights_only=False`),
no `yaml.load(` without a safe loader, no `eval(` / `exec(` anywhere in the packages, task
utils, benchmarks or scripts. lm-eval's `!function` tags appear only in the package's own
task YAMLs (never in anything generated from user input without our own module names).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANNED = ["lm_eval_values", "steering_hooks", "tasks", "benchmarks"]

FORBIDDEN = {
    "pickle import": re.compile(r"^\s*(import|from)\s+(c?pickle|dill|cloudpickle|joblib)\b", re.M),
    "pickle call": re.compile(r"\b(c?pickle|dill|cloudpickle)\.(load|loads)\("),
    "weights_only=False": re.compile(r"weights_only\s*=\s*False"),
    "unsafe yaml.load": re.compile(r"yaml\.load\((?![^)]*Loader\s*=\s*yaml\.(Safe|CSafe)Loader)"),
    "yaml unsafe loader": re.compile(r"yaml\.(unsafe_load|full_load|UnsafeLoader|FullLoader)\b"),
    "eval(": re.compile(r"(?<![\w.])eval\("),
    "exec(": re.compile(r"(?<![\w.])exec\("),
    "np.load allow_pickle": re.compile(r"allow_pickle\s*=\s*True"),
    "pandas read_pickle": re.compile(r"read_pickle\("),
}
TORCH_LOAD = re.compile(r"torch\.load\(")


def _call_args(code: str, open_paren: int) -> str:
    """The text between the parenthesis at ``open_paren - 1`` and its matching close."""
    depth = 1
    for i in range(open_paren, len(code)):
        depth += {"(": 1, ")": -1}.get(code[i], 0)
        if depth == 0:
            return code[open_paren:i]
    return code[open_paren:]


def _python_files() -> list[Path]:
    files: list[Path] = []
    for top in SCANNED:
        files += sorted((REPO / top).rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def test_scanner_finds_code():
    assert len(_python_files()) >= 5


def test_no_forbidden_constructs():
    problems = []
    for path in _python_files():
        text = path.read_text(encoding="utf-8")
        code = re.sub(r"(?m)#.*$", "", text)  # comments may mention the words
        for name, pattern in FORBIDDEN.items():
            for m in pattern.finditer(code):
                line = code[: m.start()].count("\n") + 1
                problems.append(f"{path.relative_to(REPO)}:{line}: {name}")
        for m in TORCH_LOAD.finditer(code):
            if not re.search(r"weights_only\s*=\s*True", _call_args(code, m.end())):
                line = code[: m.start()].count("\n") + 1
                problems.append(f"{path.relative_to(REPO)}:{line}: torch.load without weights_only=True")
    assert not problems, "\n".join(problems)


def test_scanner_would_catch_violations(tmp_path):
    """The patterns are live: each one flags a sample of the construct it forbids."""
    samples = {
        "pickle import": "import pickle\n",
        "pickle call": "x = pickle.loads(b)\n",
        "weights_only=False": "torch.load(f, weights_only=False)\n",
        "unsafe yaml.load": "yaml.load(open(p))\n",
        "eval(": "y = eval(s)\n",
        "exec(": "exec(code)\n",
    }
    for name, sample in samples.items():
        assert FORBIDDEN[name].search(sample), name
    assert not FORBIDDEN["unsafe yaml.load"].search("yaml.load(f, Loader=yaml.SafeLoader)")
    assert not FORBIDDEN["eval("].search("model.eval()")
    sample = "torch.load(str(p), map_location='cpu')"
    assert not re.search(r"weights_only\s*=\s*True", _call_args(sample, TORCH_LOAD.search(sample).end()))
    sample = "torch.load(str(p), weights_only=True)"
    assert re.search(r"weights_only\s*=\s*True", _call_args(sample, TORCH_LOAD.search(sample).end()))


def test_function_tags_only_in_own_task_yamls():
    """`!function` (code execution by lm-eval) only points at utils modules shipped next to our YAMLs."""
    for yaml_path in (REPO / "tasks").rglob("*.yaml"):
        for m in re.finditer(r"!function\s+([\w.]+)", yaml_path.read_text(encoding="utf-8")):
            module = m.group(1).rsplit(".", 1)[0]
            assert (yaml_path.parent / f"{module}.py").exists(), f"{yaml_path}: !function {m.group(1)}"
