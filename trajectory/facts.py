"""The probe set: facts (relation, template, subject, object) and their token positions.

The 160 facts of the reference study ship with the package (``trajectory/data/facts_160.tsv``);
users can bring their own file as TSV, CSV or JSON with the same four fields.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from trajectory.errors import TrajectoryError

COLUMNS = ("relation", "template", "subject", "object")
BUILTIN_NAME = "facts_160"

# METHOD.md §2: location-valued relations versus person-name-valued relations.
LOCATION_RELATIONS = frozenset(
    {
        "city_in_country",
        "company_hq",
        "country_capital_city",
        "food_from_country",
        "official_language",
        "plays_sport",
        "sights_in_city",
    }
)
NAME_RELATIONS = frozenset({"books_written", "company_ceo", "movie_directed"})


@dataclass(frozen=True)
class Fact:
    fact_id: int
    relation: str
    template: str
    subject: str
    object: str
    # How often the training data states the fact, where the probe file says (an optional `frequency` column).
    frequency: int | None = field(default=None, compare=False)

    @property
    def prompt(self) -> str:
        """The sentence up to (not including) the answer."""
        return self.template.format(self.subject)

    @property
    def sentence(self) -> str:
        """What the model reads: the prompt, a space, the teacher-forced answer (METHOD.md §2)."""
        return f"{self.prompt} {self.object}"

    @property
    def subject_span(self) -> tuple[int, int]:
        """Character span [start, end) of the subject inside :attr:`sentence`."""
        start = self.template.index("{}")
        return start, start + len(self.subject)

    @property
    def object_span(self) -> tuple[int, int]:
        """Character span [start, end) of the object inside :attr:`sentence`."""
        start = len(self.prompt) + 1
        return start, start + len(self.object)

    @property
    def relation_type(self) -> str:
        return "location" if self.relation in LOCATION_RELATIONS else "name" if self.relation in NAME_RELATIONS else "other"


@dataclass(frozen=True)
class ProbeSet:
    name: str
    facts: tuple[Fact, ...]

    def __len__(self) -> int:
        return len(self.facts)

    def __iter__(self):
        return iter(self.facts)

    @property
    def relations(self) -> list[str]:
        return sorted({f.relation for f in self.facts})

    @property
    def content_hash(self) -> str:
        """16 hex digits of sha256 over the facts in file order: the probe set's identity in a store.

        Fields are joined by U+001F and facts by U+001E; ``sql/schema/002_analyses.sql`` computes the
        same hash for the facts of a version-1 store.
        """
        text = "\x1e".join("\x1f".join((f.relation, f.template, f.subject, f.object)) for f in self.facts)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_builtin() -> ProbeSet:
    """The study's 160 facts in 10 relations."""
    text = resources.files("trajectory").joinpath("data", f"{BUILTIN_NAME}.tsv").read_text(encoding="utf-8")
    return ProbeSet(BUILTIN_NAME, _validate(_read_delimited(text, "\t", BUILTIN_NAME + ".tsv"), BUILTIN_NAME + ".tsv"))


def load_probe_set(spec: str | Path | None = None) -> ProbeSet:
    """Load ``builtin`` (or None) or a user's TSV/CSV/JSON file.

    Raises TrajectoryError with one line naming the file, the line and the problem.
    """
    if spec is None or str(spec) in ("builtin", BUILTIN_NAME):
        return load_builtin()
    path = Path(spec).expanduser()
    if not path.is_file():
        raise TrajectoryError(f"{path}: probe file not found")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".json":
        rows = _read_json(text, str(path))
    elif suffix in (".tsv", ".tab"):
        rows = _read_delimited(text, "\t", str(path))
    elif suffix == ".csv":
        rows = _read_delimited(text, ",", str(path))
    else:
        raise TrajectoryError(f"{path}: unknown probe file type {suffix!r}; use .tsv, .csv or .json")
    return ProbeSet(path.stem, _validate(rows, str(path)))


def _read_delimited(text: str, delimiter: str, where: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise TrajectoryError(f"{where}:1: missing column(s) {', '.join(missing)} (need {', '.join(COLUMNS)})")
    # DictReader's line_num counts physical lines; the header is line 1.
    return [(reader.line_num, row) for row in reader]


def _read_json(text: str, where: str) -> list[tuple[int, dict]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise TrajectoryError(f"{where}:{err.lineno}: invalid JSON: {err.msg}") from None
    if isinstance(data, dict) and "facts" in data:
        data = data["facts"]
    if not isinstance(data, list):
        raise TrajectoryError(f"{where}:1: expected a JSON list of facts (or {{\"facts\": [...]}})")
    rows = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise TrajectoryError(f"{where}: fact {i}: expected an object with {', '.join(COLUMNS)}")
        missing = [c for c in COLUMNS if c not in item]
        if missing:
            raise TrajectoryError(f"{where}: fact {i}: missing field(s) {', '.join(missing)}")
        rows.append((i, item))
    return rows


def _frequency(value, where: str, label: str, line: int) -> int | None:
    """The optional ``frequency`` column: a count >= 0, or empty (unknown)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        count = int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        count = None
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise TrajectoryError(f"{where}: {label} {line}: frequency must be a whole number >= 0, got {value!r}")
    return count


def _validate(rows: list[tuple[int, dict]], where: str) -> tuple[Fact, ...]:
    label = "fact" if where.endswith(".json") else "line"
    facts: list[Fact] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in rows:
        values: dict[str, str] = {}
        for column in COLUMNS:
            value = row.get(column)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise TrajectoryError(f"{where}: {label} {line}: {column} must be text")
            values[column] = value.strip()
        for column in ("relation", "subject", "object"):
            if not values[column]:
                raise TrajectoryError(f"{where}: {label} {line}: empty {column}")
        outside = values["template"].replace("{}", "", 1)
        if values["template"].count("{}") != 1 or "{" in outside or "}" in outside:
            raise TrajectoryError(
                f"{where}: {label} {line}: template must contain exactly one {{}} and no other braces: {values['template']!r}"
            )
        key = (values["relation"], values["subject"])
        if key in seen:
            raise TrajectoryError(
                f"{where}: {label} {line}: duplicate fact ({key[0]}, {key[1]!r}), first on {label} {seen[key]}"
            )
        seen[key] = line
        facts.append(Fact(len(facts), values["relation"], values["template"], values["subject"], values["object"],
                          _frequency(row.get("frequency"), where, label, line)))
    if not facts:
        raise TrajectoryError(f"{where}: no facts")
    return tuple(facts)
