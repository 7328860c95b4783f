"""The probe set: facts (relation, template, subject, object) and their token positions.

The 160 facts of the reference study ship with the package (``trajectory/data/facts_160.tsv``);
users can bring their own file as TSV, CSV or JSON with the same four fields.

A TSV file is plain tab-separated text: one fact per line, no quoting (a field may start with ``"``), and
every line has as many fields as the header. A CSV file follows RFC 4180 quoting, but a fact never spans
lines. Files are UTF-8 (a byte-order mark is allowed); anything else is an error naming file and line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from trajectory.errors import TrajectoryError

COLUMNS = ("relation", "template", "subject", "object")
BUILTIN_NAME = "facts_160"
# The 160 facts under three templates each: the probe's, a paraphrase the reference's corpus states, and one it
# never states (held out). `--facts paraphrases`.
PARAPHRASES_NAME = "facts_160_paraphrases"

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
    # The whole file's hash when some facts are left out for one model (:meth:`without`): the set's identity stays.
    identity: str | None = field(default=None, compare=False)

    def without(self, fact_ids: set[int]) -> "ProbeSet":
        """The set less some facts (those a model cannot read), keeping the whole set's identity in the store."""
        return ProbeSet(self.name, tuple(f for f in self.facts if f.fact_id not in fact_ids), self.content_hash)

    def __len__(self) -> int:
        return len(self.facts)

    def __iter__(self) -> Iterator[Fact]:
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
        if self.identity is not None:
            return self.identity
        text = "\x1e".join("\x1f".join((f.relation, f.template, f.subject, f.object)) for f in self.facts)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_builtin() -> ProbeSet:
    """The study's 160 facts in 10 relations."""
    text = resources.files("trajectory").joinpath("data", f"{BUILTIN_NAME}.tsv").read_text(encoding="utf-8")
    return ProbeSet(BUILTIN_NAME, _validate(_read_tsv(text, BUILTIN_NAME + ".tsv"), BUILTIN_NAME + ".tsv"))


def load_probe_set(spec: str | Path | None = None) -> ProbeSet:
    """Load ``builtin`` (or None) or a user's TSV/CSV/JSON file.

    Raises TrajectoryError with one line naming the file, the line and the problem.
    """
    if spec is None or str(spec) in ("builtin", BUILTIN_NAME):
        return load_builtin()
    if str(spec) in ("paraphrases", PARAPHRASES_NAME):
        text = resources.files("trajectory").joinpath("data", f"{PARAPHRASES_NAME}.tsv").read_text(encoding="utf-8")
        return ProbeSet(PARAPHRASES_NAME, _validate(_read_tsv(text, PARAPHRASES_NAME + ".tsv"), PARAPHRASES_NAME + ".tsv"))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise TrajectoryError(f"{path}: probe file not found")
    text = read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        rows = _read_json(text, str(path))
    elif suffix in (".tsv", ".tab"):
        rows = _read_tsv(text, str(path))
    elif suffix == ".csv":
        rows = _read_csv(text, str(path))
    else:
        raise TrajectoryError(f"{path}: unknown probe file type {suffix!r}; use .tsv, .csv or .json")
    return ProbeSet(path.stem, _validate(rows, str(path)))


def read_text(path: Path) -> str:
    """A probe file's text: UTF-8, an optional byte-order mark dropped; other bytes are an error naming the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise TrajectoryError(f"{path}:{line}: not UTF-8 text (byte {data[err.start]:#04x}); save the file as UTF-8") from None


def _header(fields: list[str], where: str) -> list[str]:
    names = [name.strip() for name in fields]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise TrajectoryError(
            f"{where}:1: missing column(s) {', '.join(missing)} (need {', '.join(COLUMNS)}; the header has {', '.join(map(repr, names))})"
        )
    return names


def _read_tsv(text: str, where: str) -> list[tuple[int, dict]]:
    """Plain tab-separated lines: no quoting, the header's field count on every non-empty line."""
    lines = text.split("\n")
    header = _header(lines[0].rstrip("\r").split("\t"), where)
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise TrajectoryError(f"{where}:{number}: {len(fields)} tab-separated fields, the header has {len(header)}")
        rows.append((number, dict(zip(header, fields))))
    return rows


def _read_csv(text: str, where: str) -> list[tuple[int, dict]]:
    """RFC 4180 CSV, one fact per line: a quoted field that runs past its line (an unbalanced quote) is an error."""
    reader = csv.reader(io.StringIO(text, newline=""))
    previous = csv.field_size_limit()
    csv.field_size_limit(len(text) + 1)  # a long field is the validator's business, not the csv module's
    try:
        header, rows, line = None, [], 1
        for fields in reader:
            first, line = line, reader.line_num + 1
            if reader.line_num != first:
                raise TrajectoryError(
                    f"{where}:{first}: a quoted field runs over {reader.line_num - first + 1} lines (an unbalanced quote?); one fact per line"
                )
            if header is None:
                header = _header(fields, where)
            elif any(f.strip() for f in fields):
                if len(fields) != len(header):
                    raise TrajectoryError(f"{where}:{first}: {len(fields)} comma-separated fields, the header has {len(header)}")
                rows.append((first, dict(zip(header, fields))))
    except csv.Error as err:
        raise TrajectoryError(f"{where}:{reader.line_num}: invalid CSV: {err}") from None
    finally:
        csv.field_size_limit(previous)
    if header is None:
        _header([], where)
    return rows


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


def _frequency(value: Any, where: str, label: str, line: int) -> int | None:
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
    seen: dict[tuple[str, str, str], int] = {}
    answers: dict[tuple[str, str], tuple[str, int]] = {}
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
            raise TrajectoryError(f"{where}: {label} {line}: template must contain exactly one {{}} and no other braces: {values['template']!r}")
        # One fact under several templates: paraphrases. Templates that differ in spaces only are the same prompt.
        key = (values["relation"], values["subject"], " ".join(values["template"].split()))
        if key in seen:
            raise TrajectoryError(
                f"{where}: {label} {line}: duplicate fact ({key[0]}, {key[1]!r}) with the same template (spaces aside), first on {label} {seen[key]}"
            )
        seen[key] = line
        fact_key = (values["relation"], values["subject"])
        if fact_key in answers and answers[fact_key][0] != values["object"]:
            first_answer, first_line = answers[fact_key]
            raise TrajectoryError(
                f"{where}: {label} {line}: ({fact_key[0]}, {fact_key[1]!r}) answers {values['object']!r} here but {first_answer!r} on "
                f"{label} {first_line}; one fact has one answer under every template"
            )
        answers.setdefault(fact_key, (values["object"], line))
        facts.append(
            Fact(
                len(facts),
                values["relation"],
                values["template"],
                values["subject"],
                values["object"],
                _frequency(row.get("frequency"), where, label, line),
            )
        )
    if not facts:
        raise TrajectoryError(f"{where}: no facts")
    return tuple(facts)
