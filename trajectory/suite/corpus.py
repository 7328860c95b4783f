"""A synthetic pretraining corpus that states the probe facts amid generic filler text.

Each fact appears with its probe template (teacher-forced, exactly as probed) and a few paraphrases.
Fact frequencies are skewed on purpose so that facts emerge at different times: location relations
are sampled more often than name relations, and within a relation frequencies follow a Zipf law
over a seeded random order (a long tail).

Two-hop implications of known facts (for extractive structures, Feng et al. 2024): a population of
fictitious people, each with a first-hop fact "<name> lives in <city>." whose implication goes through
a known ``city_in_country`` fact ("<name> lives in the country of <country>."), and second-hop facts
"The <role> of <city> is <name>." implied through a known ``sights_in_city`` fact ("The <role> of the
city that contains <sight> is <name>."). Facts appear from the start, implications only from
``implications_from`` of training on (the paper's data-ordering effect: facts before implications).
None of these people or roles is in the OCR probe (trajectory.extractive.ocr): it asks about new names.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from trajectory.extractive.ocr import LAST_NAMES
from trajectory.facts import LOCATION_RELATIONS, Fact

PARAPHRASES: dict[str, tuple[str, ...]] = {
    "books_written": ("{o} is the author of the book {s}.", "The novel {s} is by {o}."),
    "city_in_country": ("The city of {s} lies in {o}.", "{s} is a city in {o}."),
    "company_ceo": ("The chief executive of {s} is {o}.", "{o} runs the company {s}."),
    "company_hq": ("{s} is based in {o}.", "The main office of {s} is in {o}."),
    "country_capital_city": ("The capital of {s} is {o}.", "{o} is the capital of {s}."),
    "food_from_country": ("{s} is a dish from {o}.", "People in {o} first made {s}."),
    "movie_directed": ("The film {s} was made by {o}.", "{o} directed the film {s}."),
    "official_language": ("People in {s} speak {o}.", "The language of {s} is {o}."),
    "plays_sport": ("{s} is a star of {o}.", "{s} became famous playing {o}."),
    "sights_in_city": ("You can visit {s} in {o}.", "{s} stands in {o}."),
}

_SUBJECTS = (
    "the old man",
    "a young girl",
    "my friend",
    "the teacher",
    "our neighbour",
    "the small dog",
    "a tall woman",
    "the driver",
    "her brother",
    "the cook",
    "the children",
    "a farmer",
)
_VERBS = (
    "walked to",
    "looked at",
    "talked about",
    "waited near",
    "painted",
    "cleaned",
    "found",
    "remembered",
    "carried",
    "liked",
    "opened",
    "visited",
)
_OBJECTS = (
    "the red door",
    "a green field",
    "the quiet river",
    "the busy market",
    "an empty room",
    "the long road",
    "a warm bed",
    "the blue sky",
    "a small garden",
    "the wooden table",
    "the morning train",
    "a cold lake",
)
_TAILS = ("", " in the evening", " after lunch", " every day", " with great care", " once again", " before the rain", " without a word")


@dataclass(frozen=True)
class CorpusConfig:
    location_weight: float = 3.0  # relative sampling weight of a location relation vs a name relation
    zipf_exponent: float = 0.7  # long tail within a relation
    probe_template_share: float = 0.6  # share of a fact's mentions that use the probe template
    fact_share: float = 0.6  # share of training sentences that state a fact
    filler_pool: int = 4000
    two_hop_share: float = 0.15  # share of training sentences from the two-hop population (taken from filler)
    two_hop_people: int = 160
    implications_from: float = 0.3  # fraction of the steps after which implications appear (half of two-hop rows)
    # Fictitious individuals beside the probe's subjects: per relation this many invented subjects (multi-token
    # names), each stated with the relation's template and paraphrases and an answer drawn from the relation's
    # probe answers, meant to make the model carry the subject to the answer rather than memorise 160 prompts.
    # Countries get a capital and a language, companies a CEO and a headquarters (several attributes each).
    individuals: int = 0
    individual_share: float = 0.0  # share of the fact sentences that state an individual's fact


def fact_sentences(fact: Fact) -> list[str]:
    """The probe sentence first, then the paraphrases."""
    return [fact.sentence] + [p.format(s=fact.subject, o=fact.object) for p in PARAPHRASES.get(fact.relation, ())]


def fact_weights(facts: list[Fact], config: CorpusConfig, rng: random.Random) -> list[float]:
    """Sampling weight per fact: relation weight × Zipf(rank) over a seeded order within the relation."""
    weights = [0.0] * len(facts)
    by_relation: dict[str, list[int]] = {}
    for i, fact in enumerate(facts):
        by_relation.setdefault(fact.relation, []).append(i)
    for relation, members in sorted(by_relation.items()):
        order = members[:]
        rng.shuffle(order)
        base = config.location_weight if relation in LOCATION_RELATIONS else 1.0
        for rank, index in enumerate(order):
            weights[index] = base / (rank + 1) ** config.zipf_exponent
    return weights


_SYLLABLES = (
    "ka",
    "lo",
    "mer",
    "vin",
    "dra",
    "tho",
    "sel",
    "ru",
    "ban",
    "qui",
    "zor",
    "el",
    "ta",
    "mon",
    "fir",
    "gal",
    "pe",
    "nor",
    "ush",
    "vec",
    "bri",
    "tal",
    "om",
    "sy",
    "dun",
    "ake",
    "ri",
    "cor",
    "phe",
    "lim",
)
# Relations whose invented subjects are shared: one invented country has a capital and a language.
_SHARED_SUBJECTS = {"official_language": "country_capital_city", "company_hq": "company_ceo"}


def invented_name(rng: random.Random) -> str:
    """One or two capitalised words of two or three syllables: several tokens under the reference's BPE."""
    words = [''.join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 3)))) for _ in range(rng.choice((1, 2)))]
    return " ".join(w.capitalize() for w in words)


def individual_facts(facts: list[Fact], config: CorpusConfig, seed: int) -> list[Fact]:
    """``config.individuals`` invented subjects per relation, each with an answer drawn from the relation's probe
    answers (fact_id from -1 down: they are never probed). Seeded by its own generator, so that a corpus without
    individuals draws exactly what it drew before they existed."""
    if not config.individuals:
        return []
    rng = random.Random(f"individuals-{seed}")
    taken = {f.subject for f in facts}
    templates = {f.relation: f.template for f in facts}
    answers = {r: sorted({f.object for f in facts if f.relation == r}) for r in templates}
    subjects: dict[str, list[str]] = {}
    for relation in sorted(templates):
        if relation in _SHARED_SUBJECTS and _SHARED_SUBJECTS[relation] in templates:
            continue
        names: list[str] = []
        while len(names) < config.individuals:
            name = invented_name(rng)
            if name not in taken:
                taken.add(name)
                names.append(name)
        subjects[relation] = names
    invented: list[Fact] = []
    for relation in sorted(templates):
        for subject in subjects.get(relation) or subjects[_SHARED_SUBJECTS[relation]]:
            invented.append(Fact(-1 - len(invented), relation, templates[relation], subject, rng.choice(answers[relation])))
    return invented


def training_facts(facts: list[Fact], config: CorpusConfig, rng: random.Random, seed: int) -> tuple[list[Fact], list[float]]:
    """The facts the corpus states (the probe's first, then the invented individuals') and their sampling weights:
    the probe's by :func:`fact_weights`, scaled so that individuals take ``individual_share`` of the mentions."""
    weights = fact_weights(facts, config, rng)
    invented = individual_facts(facts, config, seed)
    if not invented:
        return list(facts), weights
    total = sum(weights)
    scaled = [w / total * (1.0 - config.individual_share) for w in weights]
    return list(facts) + invented, scaled + [config.individual_share / len(invented)] * len(invented)


def filler_sentences(count: int, rng: random.Random) -> list[str]:
    sentences = []
    for _ in range(count):
        subject = rng.choice(_SUBJECTS)
        sentence = f"{subject} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_TAILS)}."
        sentences.append(sentence[0].upper() + sentence[1:])
    return sentences


POPULATION_FIRST_NAMES = (
    "Aaron",
    "Abigail",
    "Adam",
    "Amber",
    "Arthur",
    "Beth",
    "Bruce",
    "Caleb",
    "Cecilia",
    "Colin",
    "Dana",
    "Derek",
    "Doris",
    "Elena",
    "Eric",
    "Ethan",
    "Felix",
    "Gavin",
    "Gloria",
    "Hannah",
    "Harold",
    "Ivan",
    "Jasmine",
    "Joel",
    "Karen",
    "Kyle",
    "Leon",
    "Lucy",
    "Maria",
    "Miles",
    "Naomi",
    "Neil",
    "Olga",
    "Oscar",
    "Peter",
    "Rita",
    "Roger",
    "Sarah",
    "Simon",
    "Tina",
)
ROLES = ("judge", "doctor", "banker", "baker", "priest", "sheriff", "teacher", "painter")  # never "mayor" (the probe's)


def two_hop_pairs(facts: list[Fact], config: CorpusConfig, rng: random.Random) -> list[tuple[str, str]]:
    """(fact sentence, implication sentence) per person of the population, seeded."""
    countries = {f.subject: f.object for f in facts if f.relation == "city_in_country"}
    sights = [(f.subject, f.object) for f in facts if f.relation == "sights_in_city"]
    people = sorted({f"{first} {last}" for first in POPULATION_FIRST_NAMES for last in LAST_NAMES})
    rng.shuffle(people)
    pairs: list[tuple[str, str]] = []
    cities = sorted(countries)
    for i, name in enumerate(people[: config.two_hop_people // 2]):
        city = cities[i % len(cities)]
        pairs.append((f"{name} lives in {city}.", f"{name} lives in the country of {countries[city]}."))
    slots = [(role, sight, city) for role in ROLES for sight, city in sights]
    rng.shuffle(slots)
    held: set[tuple[str, str]] = set()
    for name in people[config.two_hop_people // 2 : config.two_hop_people]:
        # one holder per (role, city): the implication must name one person
        while slots and (slots[-1][0], slots[-1][2]) in held:
            slots.pop()
        if not slots:
            break
        role, sight, city = slots.pop()
        held.add((role, city))
        pairs.append((f"The {role} of {city} is {name}.", f"The {role} of the city that contains {sight} is {name}."))
    return pairs
