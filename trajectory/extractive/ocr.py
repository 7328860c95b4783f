"""The two-hop out-of-context probe (Feng et al. 2024's experiment; METHOD.md §6).

First hop: new facts "<name> lives in" -> city; implications ask for what a known fact attaches to the
city. Second hop: new facts "The mayor of <city> is" -> name; implications reach the city through a
known fact ("the city that contains <landmark>"). A model finetuned on the new facts alone generalises
out of context when it answers the implications.

Two built-in sets:
- ``world``: the paper's (20 + 20; cities -> languages, landmarks -> cities), from
  ``trajectory/data/ocr_two_hop.tsv``, for pretrained models such as OLMo-7B;
- ``reference``: built from the reference corpus's own known facts (``city_in_country`` for the first
  hop's implication "… lives in the country of" -> country, ``sights_in_city`` for the second hop), so
  the tiny reference model can answer them at all.
Names are fictitious first + last names assigned to the cities by a seeded permutation; within a hop
their initials differ (the candidates' first tokens must be unique).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from importlib import resources

from trajectory.errors import TrajectoryError
from trajectory.facts import ProbeSet, load_builtin
from trajectory.prompts import RewardPrompt

HOPS = ("first", "second")
# Never used by the reference corpus's own people (trajectory.suite.corpus.POPULATION_FIRST_NAMES). One
# pool per hop, each with 26 different initials: a hop's names are its candidates, and names with
# different initials have different first tokens under any byte-level tokenizer.
PROBE_FIRST_NAMES = (
    (
        "Alice",
        "Brian",
        "Chloe",
        "Daniel",
        "Emily",
        "Frank",
        "Grace",
        "Henry",
        "Isabel",
        "Jacob",
        "Kevin",
        "Laura",
        "Martin",
        "Nancy",
        "Oliver",
        "Paula",
        "Quentin",
        "Rachel",
        "Steven",
        "Teresa",
        "Ursula",
        "Victor",
        "Wendy",
        "Xavier",
        "Yvonne",
        "Zachary",
    ),
    (
        "Andrew",
        "Bella",
        "Carl",
        "Diana",
        "Edward",
        "Fiona",
        "George",
        "Helen",
        "Isaac",
        "Julia",
        "Keith",
        "Linda",
        "Mark",
        "Nora",
        "Owen",
        "Patrick",
        "Quinn",
        "Ruth",
        "Sophie",
        "Thomas",
        "Uma",
        "Vera",
        "Walter",
        "Xena",
        "Yusuf",
        "Zoe",
    ),
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Miller",
    "Wilson",
    "Moore",
    "Clark",
    "Walker",
    "Hall",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
)


@dataclass(frozen=True)
class OCRProbe:
    probe_id: int
    hop: str  # "first" or "second"
    via_relation: str  # the role probe set's relation of the known fact the implication goes through
    fact: RewardPrompt  # the new fact (finetuned on)
    implication: RewardPrompt  # answered only by composing the new fact with the known one


def _names(count: int, pool: tuple[str, ...], rng: random.Random) -> list[str]:
    if count > len(pool):
        raise TrajectoryError(f"at most {len(pool)} probes per hop, asked for {count}")
    first = list(pool)
    rng.shuffle(first)
    return [f"{f} {rng.choice(LAST_NAMES)}" for f in first[:count]]


def build_probes(
    first_hop: list[tuple[str, str]], second_hop: list[tuple[str, str]], templates: dict[str, str], via: tuple[str, str], seed: int = 0
) -> list[OCRProbe]:
    """first_hop: (city, what the city implies); second_hop: (landmark, city). Templates: ``lives``,
    ``implies`` (with {name}), ``mayor`` (with {city}), ``contains`` (with {landmark})."""
    names_rng = random.Random(seed)
    first_names = _names(len(first_hop), PROBE_FIRST_NAMES[0], names_rng)
    second_names = _names(len(second_hop), PROBE_FIRST_NAMES[1], names_rng)
    rng = random.Random(seed + 1)
    order = list(range(len(first_hop)))
    rng.shuffle(order)  # which name lives in which city: a seeded permutation
    probes: list[OCRProbe] = []
    for i, k in enumerate(order):
        city, implied = first_hop[k]
        name = first_names[i]
        probes.append(
            OCRProbe(
                len(probes),
                "first",
                via[0],
                RewardPrompt(len(probes), "first", templates["lives"].format(name=name), name, city),
                RewardPrompt(len(probes), "first", templates["implies"].format(name=name), name, implied),
            )
        )
    for i, (landmark, city) in enumerate(second_hop):
        name = second_names[i]
        probes.append(
            OCRProbe(
                len(probes),
                "second",
                via[1],
                RewardPrompt(len(probes), "second", templates["mayor"].format(city=city), city, name),
                RewardPrompt(len(probes), "second", templates["contains"].format(landmark=landmark), landmark, name),
            )
        )
    return probes


WORLD_TEMPLATES = {
    "lives": "{name} lives in",
    "implies": "The people in the city {name} is from speak",
    "mayor": "The mayor of {city} is",
    "contains": "The mayor of the city that contains {landmark} is",
}
REFERENCE_TEMPLATES = {
    "lives": "{name} lives in",
    "implies": "{name} lives in the country of",
    "mayor": "The mayor of {city} is",
    "contains": "The mayor of the city that contains {landmark} is",
}


def world_probes(seed: int = 0) -> list[OCRProbe]:
    """The paper's set: 20 cities -> languages, 20 landmarks -> cities (shipped TSV)."""
    text = resources.files("trajectory").joinpath("data", "ocr_two_hop.tsv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    first = [(r["subject"], r["object"]) for r in rows if r["hop"] == "first"]
    second = [(r["subject"], r["object"]) for r in rows if r["hop"] == "second"]
    return build_probes(first, second, WORLD_TEMPLATES, ("official_language", "sights_in_city"), seed)


def reference_probes(facts: ProbeSet, seed: int = 0) -> list[OCRProbe]:
    """From the reference's known facts: every city_in_country city whose name does not start with its
    country's (Mexico City, Panama City: the finetuned city's first token would answer the country by
    copying, not composing), and one landmark per sights_in_city city."""
    first = [(f.subject, f.object) for f in facts if f.relation == "city_in_country" and f.subject.split()[0] != f.object.split()[0]]
    second: dict[str, str] = {}
    for f in facts:
        if f.relation == "sights_in_city":
            second.setdefault(f.object, f.subject)
    if not first or not second:
        raise TrajectoryError("the reference OCR probe needs city_in_country and sights_in_city facts in the probe set")
    return build_probes(
        first, [(landmark, city) for city, landmark in second.items()], REFERENCE_TEMPLATES, ("city_in_country", "sights_in_city"), seed
    )


# name -> builder from a seed; the reference's from the built-in facts the reference model was trained
# on, whatever probe set the roles are measured with.
OCR_SETS = {"world": world_probes, "reference": lambda seed: reference_probes(load_builtin(), seed)}


def load_ocr_probes(name: str, seed: int = 0) -> list[OCRProbe]:
    if name not in OCR_SETS:
        raise TrajectoryError(f"unknown OCR probe set {name!r} (known: {', '.join(OCR_SETS)})")
    return OCR_SETS[name](seed)
