"""How often the reference corpus states each fact and names each subject, up to every checkpoint.

The build draws its batches from one seeded generator (trajectory.suite.recipe.sample_rows); this replays
the same draws without tokenising or training, and counts. The build publishes the counts up to each
checkpoint beside it (``fact_frequency.tsv``, :func:`frequency_table`), as a trainer would its data counts. fact_count: sentences stating the fact in any
wording (the probe template or a paraphrase); subject_count: occurrences of the fact's subject, as a whole
word, in every sampled sentence (facts, two-hop sentences, fillers).
"""

from __future__ import annotations

import random
import re

import numpy as np

from trajectory.facts import Fact, load_builtin
from trajectory.suite.corpus import fact_sentences, filler_sentences, training_facts, two_hop_pairs
from trajectory.suite.recipe import SuiteConfig, checkpoint_steps, phase, sample_rows


def occurrences(sentences: list[str], subjects: list[str]) -> np.ndarray:
    """[S, F]: how many times subject f occurs as a whole word in sentence s."""
    table = np.zeros((len(sentences), len(subjects)), dtype=np.int64)
    for f, subject in enumerate(subjects):  # a loop over subjects, each a scan of the distinct sentences
        pattern = re.compile(rf"(?<!\w){re.escape(subject)}(?!\w)")
        table[:, f] = [len(pattern.findall(s)) if subject in s else 0 for s in sentences]
    return table


def corpus_counts(config: SuiteConfig) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """step -> (fact_count [F], subject_count [F]) after that many training steps, for every checkpoint step
    and the last step, over the built-in facts in order (the suite trains on those)."""
    import torch

    rng = random.Random(config.corpus_seed)  # the build's draws, in the build's order
    facts = list(load_builtin())
    fillers = filler_sentences(config.corpus.filler_pool, rng)
    pairs = two_hop_pairs(facts, config.corpus, rng)
    trained, trained_weights = training_facts(facts, config.corpus, rng, config.corpus_seed)
    variants = [fact_sentences(f) for f in trained]  # the probe's facts first, then the invented individuals'
    weights = torch.tensor(trained_weights)
    generator = torch.Generator().manual_seed(config.seed)

    # Sentence ids: every wording of every fact, then each pair's two sentences, then the fillers.
    first_wording = np.cumsum([0] + [len(v) for v in variants])
    sentences = [s for v in variants for s in v] + [s for pair in pairs for s in pair] + fillers
    pair_base, filler_base = int(first_wording[-1]), int(first_wording[-1]) + 2 * len(pairs)
    per_sentence = occurrences(sentences, [f.subject for f in facts])
    fact_of_sentence = np.full(len(sentences), -1)
    fact_of_sentence[:pair_base] = np.repeat(np.arange(len(trained)), [len(v) for v in variants])

    wanted = checkpoint_steps(config) | {config.steps}
    seen = np.zeros(len(sentences), dtype=np.int64)  # times each sentence was drawn so far
    counts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    n_wordings = [len(v) for v in variants]
    for step in range(1, config.steps + 1):
        implications = phase(config, step).implications
        rows = sample_rows(config, n_wordings, len(pairs), len(fillers), implications, weights, generator)
        drawn = np.concatenate(
            [
                first_wording[np.asarray(rows.facts, dtype=np.int64)] + np.asarray(rows.wordings, dtype=np.int64),
                pair_base + 2 * np.asarray(rows.pairs, dtype=np.int64) + np.asarray(rows.hops, dtype=np.int64),
                filler_base + np.asarray(rows.fillers, dtype=np.int64),
            ]
        ).astype(np.int64)
        seen += np.bincount(drawn, minlength=len(sentences))
        if step in wanted:
            stating = fact_of_sentence >= 0
            fact_count = np.bincount(fact_of_sentence[stating], weights=seen[stating], minlength=len(trained))[: len(facts)].astype(np.int64)
            counts[step] = (fact_count, seen @ per_sentence)
    return counts


def frequency_table(facts: list[Fact], fact_count: np.ndarray, subject_count: np.ndarray) -> bytes:
    """The published counts: a tab-separated table of relation, subject, object, fact_count, subject_count."""
    lines = ["relation\tsubject\tobject\tfact_count\tsubject_count"]
    lines += [f"{f.relation}\t{f.subject}\t{f.object}\t{int(n)}\t{int(m)}" for f, n, m in zip(facts, fact_count, subject_count)]
    return ("\n".join(lines) + "\n").encode()
