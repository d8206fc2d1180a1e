"""Role banks: synthetic role generation, role files, role templates.

A :class:`Role` is what a sweep asks the model to play: an ``id`` (unique in a bank), the
``text`` shown to the model (rendered from the role's attributes by a template), the
``split`` it belongs to (``train``/``test``/...) and its raw ``attributes``.

Sources:

* :func:`generate_roles`: a deterministic generator in the style of Kang et al. (2025):
  a gender, an occupation, one of the 16 MBTI types and (optionally) a name, drawn with a
  seeded ``random.Random`` from lists written for this project (no network, no Faker).
  Train and test roles are disjoint (no two roles share gender, occupation and type).
* :func:`load_roles`: JSON (an object ``{id: {...}}`` as in the study's ``players*.json``,
  or a list of objects), JSONL (one object per line) or CSV (a header row). Each record has
  an ``id`` (or ``name``; the key for the object form) and either a ready ``text`` or the
  attributes a template needs (``gender``, ``job``, ``mbti``, ``name``, ``mini_trait``,
  ``bio2``, ``bio3``, ``trait``, ``bio``, ``system``).

Templates (:data:`TEMPLATES`):

* ``trait``: the study's hint, ``(FYI, here is your trait. Gender: female; Job: Surveyor, MBTI: ENFJ)``;
* ``bio``: a second-person biography (``bio2`` of the study files when present);
* ``system``: a system-prompt persona (``You are Ana Silva, a female surveyor ...``);
* ``text``: the record's own ``text`` field, verbatim.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from lm_eval_values.core.conditions import NO_ROLE
from lm_eval_values.core.errors import UserError

TEMPLATES: tuple[str, ...] = ("trait", "bio", "system", "text")

MBTI_TYPES: tuple[str, ...] = (
    "ISTJ", "ISFJ", "INFJ", "INTJ", "ISTP", "ISFP", "INFP", "INTP",
    "ESTP", "ESFP", "ENFP", "ENTP", "ESTJ", "ESFJ", "ENFJ", "ENTJ",
)

GENDERS: tuple[str, ...] = ("female", "male")

#: Occupations (written for this project; title case as in the study's hints).
OCCUPATIONS: tuple[str, ...] = (
    "Accountant", "Actor", "Aircraft Mechanic", "Air Traffic Controller", "Anesthetist", "Archaeologist",
    "Architect", "Archivist", "Art Teacher", "Astronomer", "Auditor", "Baker", "Bank Teller", "Barber",
    "Beekeeper", "Bicycle Courier", "Biochemist", "Bookbinder", "Bricklayer", "Bus Driver", "Butcher",
    "Carpenter", "Cartographer", "Chef", "Chemical Engineer", "Child Psychologist", "Civil Engineer",
    "Claims Adjuster", "Climate Scientist", "Composer", "Construction Manager", "Copy Editor",
    "Court Interpreter", "Crane Operator", "Customs Officer", "Dance Instructor", "Data Analyst",
    "Dental Hygienist", "Dentist", "Dietitian", "Diplomat", "Electrician", "Emergency Dispatcher",
    "Environmental Lawyer", "Event Planner", "Farmer", "Film Editor", "Financial Planner", "Firefighter",
    "Fisher", "Flight Attendant", "Florist", "Forester", "Furniture Restorer", "Game Designer", "Geologist",
    "Glassblower", "Graphic Designer", "Hairdresser", "Hospice Nurse", "Hotel Manager", "HR Specialist",
    "Hydrologist", "Insurance Broker", "Interior Designer", "Investment Banker", "Jeweller", "Journalist",
    "Judge", "Kindergarten Teacher", "Laboratory Technician", "Landscape Gardener", "Librarian",
    "Lighthouse Keeper", "Locksmith", "Machinist", "Marine Biologist", "Marketing Manager",
    "Mathematics Lecturer", "Midwife", "Mining Engineer", "Museum Curator", "Music Therapist",
    "Nurse", "Occupational Therapist", "Optician", "Paramedic", "Park Ranger", "Pastry Chef",
    "Pharmacist", "Photographer", "Physicist", "Physiotherapist", "Piano Tuner", "Pilot", "Plumber",
    "Police Officer", "Potter", "Priest", "Prison Guard", "Private Investigator", "Project Manager",
    "Psychiatrist", "Public Defender", "Radio Presenter", "Real Estate Agent", "Receptionist",
    "Restaurant Owner", "Retail Buyer", "Sailor", "Sales Representative", "School Principal",
    "Sculptor", "Security Guard", "Social Worker", "Software Developer", "Sommelier", "Sound Engineer",
    "Speech Therapist", "Statistician", "Stockbroker", "Surgeon", "Surveyor", "Tailor", "Tax Adviser",
    "Taxi Driver", "Tour Guide", "Translator", "Truck Driver", "Urban Planner", "Veterinarian",
    "Video Game Tester", "Waiter", "Web Designer", "Welder", "Wind Turbine Technician", "Zookeeper",
)

FEMALE_FIRST_NAMES: tuple[str, ...] = (
    "Ada", "Amara", "Ana", "Astrid", "Beatriz", "Camille", "Chiara", "Dalia", "Eleni", "Elif", "Emma",
    "Fatima", "Freya", "Grace", "Hana", "Ines", "Ingrid", "Isla", "Jana", "Keiko", "Lara", "Leila",
    "Lina", "Maeve", "Maja", "Marta", "Mei", "Mira", "Nadia", "Naledi", "Nora", "Olga", "Priya",
    "Rosa", "Ruth", "Saanvi", "Sara", "Sofia", "Tamar", "Thandi", "Valeria", "Vera", "Wanjiru",
    "Yara", "Yuki", "Zainab", "Zofia", "Zuri",
)

MALE_FIRST_NAMES: tuple[str, ...] = (
    "Aarav", "Adam", "Ahmed", "Aleksander", "Andre", "Arjun", "Bruno", "Carlos", "Chidi", "Daniel",
    "David", "Diego", "Emil", "Erik", "Felix", "Hamza", "Hiroshi", "Ivan", "Jakob", "James", "Jonas",
    "Kenji", "Kofi", "Luca", "Lucas", "Malik", "Marco", "Mateo", "Mikael", "Nikhil", "Noah", "Omar",
    "Pablo", "Pedro", "Rafael", "Rohan", "Samuel", "Sipho", "Stefan", "Tariq", "Thomas", "Tomasz",
    "Viktor", "Wei", "Yusuf", "Zoran",
)

SURNAMES: tuple[str, ...] = (
    "Abebe", "Adeyemi", "Andersen", "Bauer", "Becker", "Bianchi", "Carvalho", "Castillo", "Chen",
    "Costa", "Dubois", "Eriksson", "Fernandes", "Fischer", "Garcia", "Hansen", "Haddad", "Ito",
    "Ivanova", "Jensen", "Kaur", "Kim", "Kowalski", "Kuznetsov", "Lambert", "Larsen", "Lopez",
    "Mbeki", "Meyer", "Moreau", "Murphy", "Nakamura", "Novak", "Nowak", "Okafor", "Olsen", "Ortiz",
    "Park", "Patel", "Petrov", "Popescu", "Quispe", "Rahman", "Rossi", "Santos", "Sato", "Schmidt",
    "Silva", "Singh", "Svoboda", "Tanaka", "Torres", "Van Dijk", "Vargas", "Wagner", "Walsh",
    "Weber", "Yilmaz", "Zhang", "Zielinski",
)


@dataclass(frozen=True)
class Role:
    """One role of a role bank.

    Attributes:
        id: unique id within the bank (``""`` only for the no-role condition).
        text: the role text shown to the model (``""`` for the no-role condition).
        split: ``train``, ``test`` or another label (``""`` when unassigned).
        attributes: the raw record the text was rendered from (strings).
    """

    id: str
    text: str
    split: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_no_role(self) -> bool:
        """True for the no-role condition."""
        return self.id == NO_ROLE


def no_role(split: str = "") -> Role:
    """The no-role condition (empty id and text)."""
    return Role(id=NO_ROLE, text="", split=split)


# ----------------------------------------------------------------------------- templates
def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _check_template(template: str, field_name: str = "template") -> None:
    if template not in TEMPLATES:
        raise UserError(field_name, f"unknown role template {template!r}", f"use one of: {', '.join(TEMPLATES)}")


def render_role_text(attrs: Mapping[str, Any], template: str = "trait", role_id: str = "?") -> str:
    """Render a role's text from its attributes with one of :data:`TEMPLATES`.

    Raises:
        UserError: unknown template, or the record lacks what the template needs.
    """
    _check_template(template)
    a = {k: str(v).strip() for k, v in attrs.items() if v is not None and str(v).strip() != ""}
    has_fields = all(k in a for k in ("gender", "job", "mbti"))
    name = a.get("name", "")
    if template == "text":
        if "text" in a:
            return a["text"]
    elif template == "trait":
        if "mini_trait" in a:
            return f"(FYI, here is your trait. {a['mini_trait']})"
        if has_fields:
            return f"(FYI, here is your trait. Gender: {a['gender']}; Job: {a['job']}, MBTI: {a['mbti']})"
        if "trait" in a:
            return a["trait"]
        if "text" in a:
            return a["text"]
    elif template == "bio":
        for key in ("bio", "bio2"):
            if key in a:
                return a[key]
        if has_fields:
            job = a["job"].lower()
            lead = f"You are {name}, {_article(a['gender'])} {a['gender']} {job}" if name else \
                f"You are {_article(a['gender'])} {a['gender']} {job}"
            return (f"{lead}. Your MBTI personality type is {a['mbti']}, and it shapes how you work, "
                    f"decide and get along with other people.")
        if "text" in a:
            return a["text"]
    else:  # system
        if "system" in a:
            return a["system"]
        if has_fields:
            who = f"{name}, {_article(a['gender'])}" if name else _article(a["gender"])
            return (f"You are {who} {a['gender']} {a['job'].lower()} whose MBTI personality type is {a['mbti']}. "
                    f"Stay in this role and answer every question as this person would.")
        for key in ("bio2", "bio", "text"):
            if key in a:
                return a[key]
    raise UserError(f"roles[{role_id!r}]", f"the record has nothing the {template!r} template can use "
                    f"(keys: {', '.join(sorted(a)) or 'none'})",
                    "give gender/job/mbti, mini_trait, bio2 or text, or choose another role template")


# ----------------------------------------------------------------------------- generator
def generate_roles(n_train: int = 100, n_test: int = 25, seed: int = 0, names: bool = True,
                   template: str = "trait") -> list[Role]:
    """Deterministic synthetic roles: ``n_train`` train roles then ``n_test`` disjoint test roles.

    Every role has a distinct (gender, occupation, MBTI type) combination and, with ``names``,
    a distinct full name. The same arguments always give the same roles (``random.Random``
    seeded with a string, independent of ``PYTHONHASHSEED``). Ids are ``train-000``,
    ``test-000``, ...

    Raises:
        UserError: negative sizes, more roles than distinct combinations, unknown template.
    """
    _check_template(template)
    if template == "text":
        raise UserError("roles.template", "generated roles have no 'text' field", "use trait, bio or system")
    for fname, n in (("roles.generate.train", n_train), ("roles.generate.test", n_test)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise UserError(fname, f"must be a non-negative integer, got {n!r}", "give a count such as 100")
    combos = list(itertools.product(GENDERS, OCCUPATIONS, MBTI_TYPES))
    total = n_train + n_test
    if total > len(combos):
        raise UserError("roles.generate", f"{total} roles requested but only {len(combos)} distinct "
                        "gender/occupation/MBTI combinations exist", f"ask for at most {len(combos)} roles")
    rng = random.Random(f"lm-eval-values-roles|{seed}")
    picks = rng.sample(range(len(combos)), total)
    used_names: set[str] = set()
    roles: list[Role] = []
    for k, idx in enumerate(picks):
        gender, job, mbti = combos[idx]
        attrs = {"gender": gender, "job": job, "mbti": mbti}
        if names:
            firsts = FEMALE_FIRST_NAMES if gender == "female" else MALE_FIRST_NAMES
            while True:
                full = f"{rng.choice(firsts)} {rng.choice(SURNAMES)}"
                if full not in used_names:
                    used_names.add(full)
                    break
            attrs["name"] = full
        split, i = ("train", k) if k < n_train else ("test", k - n_train)
        rid = f"{split}-{i:03d}"
        roles.append(Role(id=rid, text=render_role_text(attrs, template, rid), split=split, attributes=attrs))
    return roles


# ----------------------------------------------------------------------------- loaders
def _no_duplicate_pairs(path: Path):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for k, v in pairs:
            if k in seen:
                raise UserError(f"roles ({path.name})", f"duplicate key {k!r} in the JSON file",
                                "give every role a unique id")
            seen[k] = v
        return seen
    return hook


def _records_from_json(path: Path, text: str) -> list[tuple[str | None, Any]]:
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_pairs(path))
    except json.JSONDecodeError as exc:
        raise UserError(f"roles ({path.name})", f"not valid JSON ({exc.msg} at line {exc.lineno})",
                        "give a JSON object {id: {...}}, a JSON list, JSONL or CSV") from None
    if isinstance(data, dict):
        if isinstance(data.get("roles"), list) and len(data) <= 2:
            data = data["roles"]
        else:
            return [(str(k), v) for k, v in data.items()]
    if isinstance(data, list):
        return [(None, v) for v in data]
    raise UserError(f"roles ({path.name})", f"top level is a {type(data).__name__}",
                    "give an object {id: {...}} or a list of role objects")


def _records_from_jsonl(path: Path, text: str) -> list[tuple[str | None, Any]]:
    out: list[tuple[str | None, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((None, json.loads(line, object_pairs_hook=_no_duplicate_pairs(path))))
        except json.JSONDecodeError as exc:
            raise UserError(f"roles ({path.name}:{n})", f"not valid JSON ({exc.msg})",
                            "one JSON object per line") from None
    return out


def _records_from_csv(path: Path, text: str) -> list[tuple[str | None, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise UserError(f"roles ({path.name})", "the CSV has no header row", "add a header such as id,text")
    return [(None, {k: v for k, v in row.items() if k is not None}) for row in reader]


def _record_to_role(key: str | None, rec: Any, n: int, path: Path, template: str, split: str | None) -> Role:
    where = f"roles ({path.name}, record {n + 1})"
    if isinstance(rec, str):
        rec = {"text": rec}
    if not isinstance(rec, dict):
        raise UserError(where, f"a role must be an object, got {type(rec).__name__}",
                        "give objects with an id and text or gender/job/mbti")
    attrs = {str(k): ("" if v is None else str(v)) for k, v in rec.items() if not isinstance(v, (dict, list))}
    rid = key if key is not None else (attrs.get("id") or attrs.get("name") or "")
    rid = str(rid).strip()
    if not rid:
        raise UserError(where, "role has no id", "add an 'id' (or 'name') field")
    if key is not None and "name" not in attrs:
        attrs["name"] = rid
    role_split = split if split is not None else attrs.get("split", "").strip()
    return Role(id=rid, text=render_role_text(attrs, template, rid), split=role_split, attributes=attrs)


def load_roles(path: str | Path, template: str = "trait", split: str | None = None) -> list[Role]:
    """Load a role bank from a JSON, JSONL or CSV file.

    Args:
        path: the role file (format from the extension: ``.json``, ``.jsonl``, ``.csv``).
        template: how to render each role's text (see :data:`TEMPLATES`).
        split: split label for every role (default: each record's ``split`` field, else ``""``).

    Raises:
        UserError: missing/unreadable file, unknown format, a record without an id, duplicate
            ids, a record the template cannot render, an empty file.
    """
    _check_template(template)
    p = Path(path)
    if not p.is_file():
        raise UserError("roles.path", f"{p} does not exist", "give a JSON, JSONL or CSV role file")
    suffix = p.suffix.lower()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError("roles.path", f"cannot read {p} ({exc})", "give a UTF-8 JSON, JSONL or CSV file") from None
    if suffix == ".json":
        records = _records_from_json(p, text)
    elif suffix == ".jsonl":
        records = _records_from_jsonl(p, text)
    elif suffix == ".csv":
        records = _records_from_csv(p, text)
    else:
        raise UserError("roles.path", f"unknown role file type {suffix or '(none)'!r} for {p.name}",
                        "use .json, .jsonl or .csv")
    if not records:
        raise UserError("roles.path", f"{p} holds no roles", "add at least one role")
    roles = [_record_to_role(k, r, n, p, template, split) for n, (k, r) in enumerate(records)]
    check_unique_ids(roles, f"roles ({p.name})")
    return roles


def check_unique_ids(roles: Iterable[Role], field_name: str = "roles") -> None:
    """Raise :class:`UserError` if two roles share an id (the no-role condition may recur once per split)."""
    seen: set[tuple[str, str]] = set()
    for r in roles:
        key = (r.id, r.split if r.is_no_role else "")
        if key in seen:
            what = f"the no-role condition appears twice in split {r.split!r}" if r.is_no_role \
                else f"duplicate role id {r.id!r}"
            raise UserError(field_name, what, "give every role a unique id")
        seen.add(key)
