"""The reference's recipe: sizes, schedule, the steps it saves, and the batch draws. Shared by the build
(trajectory.suite.build), which trains on the draws, and the frequency count (trajectory.suite.frequency),
which replays them without training."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from trajectory.config import SUITE_ARCHITECTURES
from trajectory.errors import TrajectoryError
from trajectory.suite.corpus import CorpusConfig

REFERENCE_REPO = "trajectory/olmo-tiny-facts"
SMALL_REPO = "trajectory/olmo-tiny-facts-small"
NEOX_REPO = "trajectory/neox-tiny-facts"
NEOX_SMALL_REPO = "trajectory/neox-tiny-facts-small"


@dataclass(frozen=True)
class SuiteConfig:
    repo_id: str = REFERENCE_REPO
    architecture: str = "olmo"  # or "gpt-neox" (Pythia's architecture and naming)
    seed: int = 0  # the initial weights and the order of the batches
    corpus_seed: int = 0  # the corpus (sentences, fact weights, two-hop pairs) and so the tokenizer: the same for every seed
    vocab_size: int = 768
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    # 16 heads of width 8: with 8 heads every head stays in every per-root circuit (all "general" at
    # θ = 0.1); with 16, entity, relation and fact heads separate out during training, as in the study.
    num_heads: int = 16
    clip_qkv: float = 8.0
    # Tuned so the probe accuracy has the study's shape: ~0 at the first checkpoint, partial in the
    # middle, >= 90% at main, location facts before name facts (a long warm-up delays the rise).
    steps: int = 1000
    batch_size: int = 48
    learning_rate: float = 3e-4
    warmup_steps: int = 450
    weight_decay: float = 0.01
    n_checkpoints: int = 40
    corpus: CorpusConfig = field(default_factory=CorpusConfig)


FULL = SuiteConfig()
# Seconds to build: for tests of everything downstream (the shape of learning is not expected here).
SMALL = SuiteConfig(
    repo_id=SMALL_REPO, vocab_size=400, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
    steps=40, batch_size=16, learning_rate=3e-3, warmup_steps=5, n_checkpoints=4, corpus=CorpusConfig(filler_pool=300),
)
PRESETS = {"full": FULL, "small": SMALL}
NEOX_REPOS = {"full": NEOX_REPO, "small": NEOX_SMALL_REPO}


def seeded(config: SuiteConfig, seed: int | None) -> SuiteConfig:
    """The same reference trained from another seed (initial weights and batch order; the same corpus and
    tokenizer), as its own model beside the default one: ``<repo>-seed<N>``. Seed 0 (or None) is the default."""
    if not seed:
        return config
    return replace(config, seed=seed, repo_id=f"{config.repo_id}-seed{seed}")


def preset(size: str, architecture: str = "olmo") -> SuiteConfig:
    """The ``full`` or ``small`` reference, as a tiny OLMo or a tiny GPT-NeoX (same sizes and corpus)."""
    if architecture not in SUITE_ARCHITECTURES:
        raise TrajectoryError(f"unknown suite architecture {architecture!r} (known: {', '.join(SUITE_ARCHITECTURES)})")
    config = PRESETS[size]
    return config if architecture == "olmo" else replace(config, repo_id=NEOX_REPOS[size], architecture=architecture)


def checkpoint_steps(config: SuiteConfig) -> set[int]:
    """n checkpoints evenly spaced strictly before the end; ``main`` is the final state."""
    return {round(config.steps * k / (config.n_checkpoints + 1)) for k in range(1, config.n_checkpoints + 1)}


@dataclass
class SampledRows:
    """One training batch as indices: facts (with the wording: 0 = the probe template) and two-hop pairs
    (with the hop: 0 = the fact, 1 = its implication), then fillers."""

    facts: list[int]
    wordings: list[int]
    pairs: list[int]
    hops: list[int]
    fillers: list[int]


def sample_rows(config: SuiteConfig, n_wordings: list[int], n_pairs: int, n_fillers: int, implications: bool, weights,
                generator) -> SampledRows:
    """The batch's draws from ``generator``, in a fixed order (trajectory.suite.frequency replays them)."""
    kind = torch.rand(config.batch_size, generator=generator)
    n_facts = int((kind < config.corpus.fact_share).sum())
    n_two_hop = int(((kind >= config.corpus.fact_share) & (kind < config.corpus.fact_share + config.corpus.two_hop_share)).sum())
    chosen_facts = torch.multinomial(weights, n_facts, replacement=True, generator=generator).tolist() if n_facts else []
    use_probe = (torch.rand(n_facts, generator=generator) < config.corpus.probe_template_share).tolist()
    paraphrase = torch.randint(1, 1 << 30, (n_facts,), generator=generator).tolist()
    chosen_pairs = torch.randint(n_pairs, (n_two_hop,), generator=generator).tolist()
    second = (torch.rand(n_two_hop, generator=generator) < (0.5 if implications else 0.0)).tolist()
    fillers = torch.randint(n_fillers, (config.batch_size - n_facts - n_two_hop,), generator=generator).tolist()
    wordings = [0 if probe or n_wordings[fact] == 1 else 1 + k % (n_wordings[fact] - 1)
                for fact, probe, k in zip(chosen_facts, use_probe, paraphrase)]
    return SampledRows(chosen_facts, wordings, chosen_pairs, [int(s) for s in second], fillers)
