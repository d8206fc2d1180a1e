"""Role banks: generator determinism, templates, loaders (study players*.json, JSON/JSONL/CSV)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_values.core.errors import UserError
from lm_eval_values.model.roles import (MBTI_TYPES, OCCUPATIONS, Role, generate_roles, load_roles, no_role,
                                  render_role_text)


def test_generator_same_seed_same_roles_other_seed_other_roles() -> None:
    a = generate_roles(100, 25, seed=7)
    b = generate_roles(100, 25, seed=7)
    c = generate_roles(100, 25, seed=8)
    assert [(r.id, r.text, r.split, dict(r.attributes)) for r in a] == \
        [(r.id, r.text, r.split, dict(r.attributes)) for r in b]
    assert [r.text for r in a] != [r.text for r in c]
    assert [r.split for r in a] == ["train"] * 100 + ["test"] * 25
    assert a[0].id == "train-000" and a[100].id == "test-000"


def test_generator_roles_are_distinct_and_splits_disjoint() -> None:
    roles = generate_roles(100, 25, seed=0)
    combos = {(r.attributes["gender"], r.attributes["job"], r.attributes["mbti"]) for r in roles}
    assert len(combos) == 125
    names = [r.attributes["name"] for r in roles]
    assert len(set(names)) == 125
    assert {r.attributes["mbti"] for r in roles} <= set(MBTI_TYPES)
    assert {r.attributes["job"] for r in roles} <= set(OCCUPATIONS)
    assert len({r.attributes["mbti"] for r in roles}) == 16  # all types appear in 125 draws
    assert len(set(MBTI_TYPES)) == 16


def test_generator_is_independent_of_pythonhashseed(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "from lm_eval_values.model.roles import generate_roles; print([r.text for r in generate_roles(5, 2, seed=3)])"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": h, "PATH": ""}).stdout for h in ("1", "2")}
    assert len(outs) == 1 and "FYI" in outs.pop()


def test_templates() -> None:
    attrs = {"gender": "female", "job": "Surveyor", "mbti": "ENFJ", "name": "Ana Silva"}
    assert render_role_text(attrs, "trait") == "(FYI, here is your trait. Gender: female; Job: Surveyor, MBTI: ENFJ)"
    bio = render_role_text(attrs, "bio")
    assert bio.startswith("You are Ana Silva, a female surveyor.") and "ENFJ" in bio
    system = render_role_text(attrs, "system")
    assert system.startswith("You are Ana Silva, a female surveyor") and "Stay in this role" in system
    assert render_role_text({"gender": "male", "job": "Architect", "mbti": "INTP"}, "bio").startswith(
        "You are a male architect.")
    with pytest.raises(UserError, match="template"):
        render_role_text(attrs, "poem")
    with pytest.raises(UserError, match="nothing the 'text' template can use"):
        render_role_text(attrs, "text", "r1")
    assert no_role("test") == Role(id="", text="", split="test")
    assert generate_roles(2, 0, names=False, template="system")[0].text.startswith("You are a")


def test_study_players100_loads(shared_data: Path) -> None:
    tut = shared_data / "valuecausalgraph" / "tutorials"
    if not (tut / "players100.json").is_file():
        pytest.skip("players100.json not available")
    roles = load_roles(tut / "players100.json", split="train")
    assert len(roles) == 100 and len({r.id for r in roles}) == 100
    assert roles[0].id == "Richard Carson"
    assert roles[0].text == "(FYI, here is your trait. Gender: male; Job: Engineer, maintenance (IT), MBTI: ENFJ)"
    assert all(r.split == "train" and r.text.startswith("(FYI, here is your trait. Gender: ") for r in roles)
    bios = load_roles(tut / "players25.json", template="bio")
    assert len(bios) == 25 and bios[0].id == "Erika Jones" and bios[0].text.startswith("You are a female")
    assert not {r.id for r in roles} & {r.id for r in bios}  # the study's train and test roles are disjoint
    predefined = load_roles(tut / "playersPREDEFINED.json")
    assert predefined[0].id == "John" and predefined[0].text.startswith("playerbio: John is")


def test_json_list_jsonl_and_csv(tmp_path: Path) -> None:
    recs = [{"id": "a", "gender": "male", "job": "Baker", "mbti": "ISTJ"}, {"id": "b", "text": "You love rules."}]
    (tmp_path / "r.json").write_text(json.dumps(recs))
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n\n")
    (tmp_path / "r.csv").write_text("id,gender,job,mbti,text,split\na,male,Baker,ISTJ,,train\nb,,,,You love rules.,test\n")
    for name in ("r.json", "r.jsonl", "r.csv"):
        roles = load_roles(tmp_path / name)
        assert [r.id for r in roles] == ["a", "b"]
        assert roles[0].text == "(FYI, here is your trait. Gender: male; Job: Baker, MBTI: ISTJ)"
        assert roles[1].text == "You love rules."
    assert [r.split for r in load_roles(tmp_path / "r.csv")] == ["train", "test"]
    with pytest.raises(UserError, match="roles\\['a'\\]: the record has nothing the 'text' template can use"):
        load_roles(tmp_path / "r.json", template="text")


@pytest.mark.parametrize("name,content,match", [
    ("dup.json", '{"Ann": {"text": "x"}, "Ann": {"text": "y"}}', "duplicate key 'Ann'"),
    ("dup_list.json", '[{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]', "duplicate role id 'a'"),
    ("dup.csv", "id,text\na,x\na,y\n", "duplicate role id 'a'"),
    ("dup.jsonl", '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "duplicate role id 'a'"),
    ("noid.json", '[{"text": "x"}]', "role has no id"),
    ("bad.json", '{"a": ', "not valid JSON"),
    ("empty.json", "[]", "holds no roles"),
    ("roles.txt", "a", "unknown role file type"),
    ("scalar.json", "3", "top level is a int"),
    ("noheader.csv", "", "no header row"),
])
def test_bad_role_files(tmp_path: Path, name: str, content: str, match: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(UserError, match=match):
        load_roles(tmp_path / name)


def test_missing_role_file_and_too_many_roles(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_roles(tmp_path / "nope.json")
    with pytest.raises(UserError, match="distinct"):
        generate_roles(5000, 0)
    with pytest.raises(UserError, match="non-negative"):
        generate_roles(-1, 0)
