"""A synthetic pretraining corpus that states the probe facts amid generic filler text.

Each fact appears with its probe template (teacher-forced, exactly as probed) and a few paraphrases.
Fact frequencies are skewed on purpose so that facts emerge at different times: location relations
are sampled more often than name relations, and within a relation frequencies follow a Zipf law
over a seeded random order (a long tail).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

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

_SUBJECTS = ("the old man", "a young girl", "my friend", "the teacher", "our neighbour", "the small dog",
             "a tall woman", "the driver", "her brother", "the cook", "the children", "a farmer")
_VERBS = ("walked to", "looked at", "talked about", "waited near", "painted", "cleaned", "found",
          "remembered", "carried", "liked", "opened", "visited")
_OBJECTS = ("the red door", "a green field", "the quiet river", "the busy market", "an empty room",
            "the long road", "a warm bed", "the blue sky", "a small garden", "the wooden table",
            "the morning train", "a cold lake")
_TAILS = ("", " in the evening", " after lunch", " every day", " with great care", " once again",
          " before the rain", " without a word")


@dataclass(frozen=True)
class CorpusConfig:
    location_weight: float = 3.0  # relative sampling weight of a location relation vs a name relation
    zipf_exponent: float = 0.7  # long tail within a relation
    probe_template_share: float = 0.6  # share of a fact's mentions that use the probe template
    fact_share: float = 0.6  # share of training sentences that state a fact
    filler_pool: int = 4000


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


def filler_sentences(count: int, rng: random.Random) -> list[str]:
    sentences = []
    for _ in range(count):
        subject = rng.choice(_SUBJECTS)
        sentence = f"{subject} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_TAILS)}."
        sentences.append(sentence[0].upper() + sentence[1:])
    return sentences
