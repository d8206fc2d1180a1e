"""Property-based tests (hypothesis) for the steering spec parser and the role file parsers.

* Arbitrary input never raises anything but the documented error types (``SpecError`` for specs,
  ``UserError`` for role files), and every such error is one line.
* Valid specs round-trip: ``spec_from_obj(spec.to_dict())`` is the same spec with the same hash,
  and position scopes survive ``parse_positions(str(p))``.
* Valid role banks round-trip through JSON, JSONL and CSV files.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lm_eval_values.core.errors import UserError
from lm_eval_values.model.roles import load_roles
from steering_hooks.errors import SpecError
from steering_hooks.spec import OPS, SCALES, Positions, parse_positions, spec_from_obj

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- arbitrary JSON/YAML-like values ---------------------------------------------------------------
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
KEYS = ["op", "layer", "positions", "sae", "feature", "vector", "vector_key", "coeff", "scale", "typical_act",
        "normalize", "value", "multiply", "keep_error", "required", "hook", "coefficient", "action", "position",
        "name", "interventions", "bogus"]
json_like = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6), st.integers(-3, 3)), inner, max_size=5)),
    max_leaves=15)
# values that look like the real thing, so the parser gets past its first checks
field_values = {
    "op": st.one_of(st.sampled_from(OPS), scalars),
    "layer": st.one_of(st.integers(-2, 40), st.sampled_from(["model.layers.1", "blocks.3.hook_resid_post", "-1", "x"]),
                       scalars),
    "positions": st.one_of(st.sampled_from(["all", "prompt", "generated", "last:2", "last:0", "span:", 'span:" a"']),
                           st.text(max_size=10).map(lambda t: "span:" + t), st.text(max_size=10).map(lambda t: "last:" + t),
                           st.dictionaries(st.sampled_from(["span", "last"]), scalars, max_size=1), scalars),
    "feature": st.one_of(st.integers(-5, 10 ** 6), st.text(max_size=6), scalars),
    "coeff": st.one_of(st.floats(), st.text(max_size=6), scalars),
    "scale": st.one_of(st.sampled_from(SCALES), scalars),
    "normalize": st.one_of(st.booleans(), st.sampled_from(["true", "False", "yes"]), scalars),
    "sae": st.one_of(st.text(max_size=8), scalars),
    "vector": st.one_of(st.lists(st.floats(allow_nan=False), max_size=3), st.text(max_size=8), scalars),
}
intervention_like = st.fixed_dictionaries({}, optional={k: v for k, v in field_values.items()}).flatmap(
    lambda d: st.dictionaries(st.sampled_from(KEYS), json_like, max_size=2).map(lambda extra: {**d, **extra}))
spec_like = st.one_of(
    json_like,
    st.lists(intervention_like, max_size=3),
    st.fixed_dictionaries({"interventions": st.lists(intervention_like, max_size=3)},
                          optional={"name": scalars}),
)


def _one_line(exc: BaseException) -> None:
    assert "\n" not in str(exc) and str(exc).strip()


@SETTINGS
@given(spec_like)
def test_spec_parser_raises_only_spec_errors(data: Any) -> None:
    try:
        spec = spec_from_obj(data) if not isinstance(data, str) else None  # a str is a file path: not fuzzed
    except SpecError as exc:
        _one_line(exc)
        return
    if spec is not None:  # a parsed spec is serialisable and hashable
        json.dumps(spec.to_dict(), default=str)
        assert len(spec.spec_hash()) == 64


@SETTINGS
@given(st.one_of(st.text(max_size=20), st.text(max_size=12).map(lambda t: "span:" + t),
                 st.text(max_size=6).map(lambda t: "last:" + t), scalars))
def test_positions_parser_raises_only_spec_errors_and_round_trips(value: Any) -> None:
    try:
        p = parse_positions(value)
    except SpecError as exc:
        _one_line(exc)
        return
    assert parse_positions(str(p)) == p


# -- valid specs round-trip -------------------------------------------------------------------------
span_text = st.text(min_size=1, max_size=12)  # any text, quotes and backslashes included
positions = st.one_of(st.sampled_from([Positions("all"), Positions("prompt"), Positions("generated")]),
                      st.integers(1, 50).map(lambda k: Positions("last", k=k)),
                      span_text.map(lambda t: Positions("span", text=t)))
# steering numbers are finite and at most steering_hooks.numbers.MAX_MAGNITUDE in absolute value
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=32)
valid_intervention = st.fixed_dictionaries(
    {"op": st.sampled_from(OPS)},
    optional={"layer": st.one_of(st.integers(0, 40), st.sampled_from(["model.layers.1", "blocks.2.hook_resid_pre"])),
              "positions": positions.map(str), "sae": st.sampled_from(["saes/l6", "/abs/sae"]),
              "feature": st.integers(0, 10 ** 6), "vector": st.sampled_from(["v.npy", "dir/v.safetensors"]),
              "vector_key": st.sampled_from(["a", "hook"]), "coeff": finite, "scale": st.sampled_from(SCALES),
              "typical_act": finite, "normalize": st.booleans(), "value": finite, "multiply": finite,
              "keep_error": st.booleans(), "required": st.booleans()})
valid_spec = st.fixed_dictionaries({"interventions": st.lists(valid_intervention, max_size=4)},
                                   optional={"name": st.text(max_size=10)})


@SETTINGS
@given(valid_spec)
def test_valid_specs_round_trip(data: dict[str, Any]) -> None:
    spec = spec_from_obj(data)
    assert len(spec.interventions) == len(data["interventions"])
    again = spec_from_obj(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.spec_hash() == spec.spec_hash()
    for iv, raw in zip(spec.interventions, data["interventions"]):
        assert iv.op == raw["op"]
        if "positions" in raw:
            assert parse_positions(iv.positions) == parse_positions(raw["positions"])


@SETTINGS
@given(positions)
def test_position_scopes_round_trip(p: Positions) -> None:
    assert parse_positions(str(p)) == p
    assert parse_positions(str(parse_positions(str(p)))) == p


# -- role files ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def role_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("roles")


role_record = st.one_of(json_like, st.dictionaries(st.sampled_from(["id", "name", "text", "gender", "job", "mbti",
                                                                    "split", "bio2", "mini_trait"]),
                                                   st.one_of(st.text(max_size=8), scalars), max_size=5))


@SETTINGS
@given(st.sampled_from([".json", ".jsonl", ".csv"]),
       st.one_of(st.text(max_size=80),
                 st.lists(role_record, max_size=4).map(json.dumps),
                 st.dictionaries(st.text(max_size=5), role_record, max_size=4).map(json.dumps),
                 st.lists(role_record, max_size=4).map(lambda rs: "\n".join(json.dumps(r) for r in rs))),
       st.sampled_from(["trait", "bio", "system", "text"]))
def test_role_file_parsers_raise_only_user_errors(role_dir: Path, suffix: str, text: str, template: str) -> None:
    path = role_dir / f"roles{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        roles = load_roles(path, template=template)
    except UserError as exc:
        _one_line(exc)
        return
    ids = [r.id for r in roles]
    assert roles and len(set(ids)) == len(ids) and all(i.strip() == i and i for i in ids)
    assert all(isinstance(r.text, str) and r.text for r in roles)


ident = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                min_size=1, max_size=10)
role_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
                    min_size=1, max_size=30).filter(lambda t: t.strip() == t)
role_bank = st.lists(st.tuples(ident, role_text), min_size=1, max_size=6, unique_by=lambda r: r[0])


@SETTINGS
@given(role_bank, st.sampled_from([".json", ".jsonl", ".csv"]))
def test_valid_role_banks_round_trip(role_dir: Path, bank: list[tuple[str, str]], suffix: str) -> None:
    path = role_dir / f"bank{suffix}"
    records = [{"id": i, "text": t} for i, t in bank]
    if suffix == ".json":
        path.write_text(json.dumps(records), encoding="utf-8")
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["id", "text"], lineterminator="\n")
        w.writeheader()
        w.writerows(records)
        path.write_text(buf.getvalue(), encoding="utf-8")
    roles = load_roles(path, template="text")
    assert [(r.id, r.text) for r in roles] == bank


@SETTINGS
@given(role_bank.filter(lambda b: len(b) >= 1), st.integers(0, 5), st.sampled_from([".jsonl", ".csv"]))
def test_duplicate_role_ids_are_always_refused(role_dir: Path, bank: list[tuple[str, str]], k: int,
                                               suffix: str) -> None:
    dup = bank + [bank[k % len(bank)]]
    path = role_dir / f"dup{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in dup), encoding="utf-8")
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "text"])
        w.writerows(dup)
        path.write_text(buf.getvalue(), encoding="utf-8")
    with pytest.raises(UserError, match="duplicate role id"):
        load_roles(path, template="text")
