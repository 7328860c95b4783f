"""The reference's recipe: sizes, schedule, the steps it saves, and the batch draws. Shared by the build
(trajectory.suite.build), which trains on the draws, and the frequency count (trajectory.suite.frequency),
which replays them without training."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from trajectory.config import SUITE_ARCHITECTURES
from trajectory.errors import TrajectoryError
from trajectory.seeds import seeded_repo
from trajectory.suite.corpus import CorpusConfig

REFERENCE_REPO = "trajectory/olmo-tiny-facts-v3"
SMALL_REPO = "trajectory/olmo-tiny-facts-small"
NEOX_REPO = "trajectory/neox-tiny-facts-v3"
NEOX_SMALL_REPO = "trajectory/neox-tiny-facts-small"
V1_REPO = "trajectory/olmo-tiny-facts"  # the first references keep their names: stores of them stay theirs
V2_REPO = "trajectory/olmo-tiny-facts-v2"


@dataclass(frozen=True)
class SuiteConfig:
    """A reference's recipe; the defaults are the first reference's (:data:`V1`), :data:`FULL` the default one."""

    repo_id: str = V1_REPO
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
    # Standard deviation of the initial token embeddings (None: the architecture's initializer_range, 0.02); a
    # design tried for the reference (larger embeddings: a residual stream that dominates what each head writes).
    embedding_std: float | None = None
    # Standard deviation of the initial output projections of every attention and MLP block (None: the
    # initializer_range; 0: zero, so that every block starts silent and becomes active only as training recruits it).
    output_init_std: float | None = None
    # Group lasso on the heads (a proximal step after each update shrinks every head's slice of the attention output
    # projection by lr × head_lasso in norm; 0: off). Weight decay, an L2 penalty, is smallest when many heads share a
    # job; the group penalty is smallest when few heads carry it (as Voita et al. 2019's L0 gates on heads), each then
    # costly to remove.
    head_lasso: float = 0.0
    # Sentences per training row (1: each sentence its own row, padded). Above 1 the batch's sentences are packed into
    # rows as pretraining packs documents (round robin, so a row mixes facts, two-hop and filler sentences; each keeps its
    # EOS, no mask between them): attention must then pick the current sentence's subject out of unrelated text instead
    # of averaging a whole row, as every head can when a row is one sentence.
    pack_sentences: int = 1
    pack_from: float = 0.0  # the fraction of the steps after which rows are packed (before it: one sentence a row)
    # The probe accuracy has the study's shape: ~0 at the first checkpoint, partial in the middle, >= 90 % at main,
    # location facts before name facts (a long warm-up delays the rise).
    steps: int = 1000
    batch_size: int = 48
    learning_rate: float = 3e-4
    warmup_steps: int = 450
    weight_decay: float = 0.01
    n_checkpoints: int = 40
    corpus: CorpusConfig = field(default_factory=CorpusConfig)


# The first reference, kept for comparison (`--preset v1`): the 160 facts alone; its knowledge sits in its FFNs and
# a fact's circuit holds nearly every head from the first checkpoint on.
V1 = SuiteConfig()
# The second reference, kept for comparison (`--preset v2`): 40 invented subjects per relation beside the probe's (half
# of the fact sentences), meant to make a fact's answer be carried from its subject rather than memorised per prompt,
# trained longer with more weight decay. Its circuits are no sparser than the first reference's.
V2 = replace(V1, repo_id=V2_REPO, steps=1400, weight_decay=0.1, corpus=CorpusConfig(individuals=40, individual_share=0.5))
# The default reference (issue #35; benchmarks/reference_phenomena.py measured the designs, results/reference_designs.json):
# the second's corpus and steps, with every attention and MLP block starting silent (zero output projections) and a
# weight decay that acts within the steps (AdamW shrinks by lr × wd a step: by e^-0.75 over the run's schedule), so that a block
# stays silent unless training needs it. A fact's circuit holds about a third of the heads at main and grows there
# from none; the knowledge still sits mostly in the FFNs (no single head costs a logit).
FULL = replace(V2, repo_id=REFERENCE_REPO, output_init_std=0.0, learning_rate=1e-3, weight_decay=1.0)
# Seconds to build: for tests of everything downstream (the shape of learning is not expected here).
SMALL = SuiteConfig(
    repo_id=SMALL_REPO,
    vocab_size=400,
    hidden_size=32,
    intermediate_size=64,
    num_layers=2,
    num_heads=4,
    steps=40,
    batch_size=16,
    learning_rate=3e-3,
    warmup_steps=5,
    n_checkpoints=4,
    corpus=CorpusConfig(filler_pool=300),
)
# Candidates measured by benchmarks/reference_phenomena.py (results/reference_designs.json).
DESIGNS = {
    "v1": V1,
    "individuals": replace(V1, repo_id="trajectory/design-individuals", corpus=FULL.corpus),
    "v2": V2,  # individuals, trained longer with more weight decay
    "full": FULL,  # v2 with silent blocks and a weight decay that acts (= silent-wd1)
    "individuals-120": replace(V2, repo_id="trajectory/design-individuals-120", steps=1500, corpus=replace(FULL.corpus, individuals=120)),
    "heads-8": replace(V1, repo_id="trajectory/design-heads-8", num_heads=8, corpus=FULL.corpus),
    "heads-4": replace(V1, repo_id="trajectory/design-heads-4", num_heads=4, corpus=FULL.corpus),
    "embeddings-1": replace(V2, repo_id="trajectory/design-embeddings-1", embedding_std=1.0),
    "embeddings-0.3": replace(V2, repo_id="trajectory/design-embeddings-0.3", embedding_std=0.3),
    # Blocks that start silent (zero output projections) and a weight decay strong enough to act within the steps
    # (AdamW shrinks by lr × wd per step): a block stays silent unless training needs it.
    "silent": replace(V2, repo_id="trajectory/design-silent", output_init_std=0.0),
    "silent-wd1": replace(V2, repo_id="trajectory/design-silent-wd1", output_init_std=0.0, learning_rate=1e-3, weight_decay=1.0),
    "silent-wd3": replace(V2, repo_id="trajectory/design-silent-wd3", output_init_std=0.0, learning_rate=1e-3, weight_decay=3.0),
    "silent-wd1-h8": replace(V2, repo_id="trajectory/design-silent-wd1-h8", output_init_std=0.0, learning_rate=1e-3, weight_decay=1.0, num_heads=8),
    "silent-wd1-h4": replace(V2, repo_id="trajectory/design-silent-wd1-h4", output_init_std=0.0, learning_rate=1e-3, weight_decay=1.0, num_heads=4),
    # Smaller FFNs: the last token's FFNs cannot hold every fact, so attention must carry more (Nichani et al. 2024).
    # Fewer, wider heads over more layers: each head carries more of what moves the subject (h4 made 3 heads costly).
    "silent-wd1-h4-l8": replace(
        V2, repo_id="trajectory/design-silent-wd1-h4-l8", output_init_std=0.0, learning_rate=1e-3, weight_decay=1.0, num_heads=4, num_layers=8
    ),
    # Wider heads in a wider stream (8 heads of width 32, d = 256) over FFNs of the same size: heads that carry more each.
    "silent-wd1-w32": replace(
        V2, repo_id="trajectory/design-silent-wd1-w32", output_init_std=0.0, learning_rate=1e-3, weight_decay=1.0, hidden_size=256, num_heads=8
    ),
    # v3 with a group lasso on the heads: heads recruited only where training needs them, each carrying its job alone.
    "silent-wd1-lasso8": replace(FULL, repo_id="trajectory/design-silent-wd1-lasso8", head_lasso=8.0),
    "silent-wd1-lasso24": replace(FULL, repo_id="trajectory/design-silent-wd1-lasso24", head_lasso=24.0),
    "silent-wd1-lasso4": replace(FULL, repo_id="trajectory/design-silent-wd1-lasso4", head_lasso=4.0),
    "silent-wd1-lasso1": replace(FULL, repo_id="trajectory/design-silent-wd1-lasso1", head_lasso=1.0),
    "silent-wd1-lasso2": replace(FULL, repo_id="trajectory/design-silent-wd1-lasso2", head_lasso=2.0),
    # Three times the invented individuals, stated in 70 % of the fact sentences: more subjects than the last token's FFNs
    # hold, so that attention must carry each subject to the answer (Allen-Zhu & Li 2024; Nichani et al. 2024).
    "silent-wd1-ind120": replace(
        FULL, repo_id="trajectory/design-silent-wd1-ind120", corpus=replace(FULL.corpus, individuals=120, individual_share=0.7)
    ),
    # The lasso with h4's 4 wide heads per layer (h4 alone made 3 heads cost a logit).
    "silent-wd1-h4-lasso4": replace(FULL, repo_id="trajectory/design-silent-wd1-h4-lasso4", head_lasso=4.0, num_heads=4),
    # The lasso slows learning (lasso8: 74 % top-1 at main after 1400 steps): the same trained longer.
    "silent-wd1-lasso8-s2000": replace(FULL, repo_id="trajectory/design-silent-wd1-lasso8-s2000", head_lasso=8.0, steps=2000),
    # FFNs too small to hold the facts (16 units a layer): the knowledge must sit in the heads' OV circuits (attention as an
    # associative memory, Nichani et al. 2024), each relation's facts in a few heads, each then costly to remove.
    "silent-wd1-ffn16": replace(FULL, repo_id="trajectory/design-silent-wd1-ffn16", intermediate_size=16),
    "silent-wd1-ffn16-lasso1": replace(FULL, repo_id="trajectory/design-silent-wd1-ffn16-lasso1", intermediate_size=16, head_lasso=1.0),
    # Sentences packed 6 to a row, as pretraining packs documents: heads must select the subject, not average the row.
    "silent-wd1-pack6": replace(FULL, repo_id="trajectory/design-silent-wd1-pack6", pack_sentences=6),
    "silent-wd1-pack6-lasso1": replace(FULL, repo_id="trajectory/design-silent-wd1-pack6-lasso1", pack_sentences=6, head_lasso=1.0),
    # Packed rows with 8 heads of width 16 (heads that each carry more), and with 12 sentences a row (more to ignore).
    "silent-wd1-pack6-h8": replace(FULL, repo_id="trajectory/design-silent-wd1-pack6-h8", pack_sentences=6, num_heads=8),
    "silent-wd1-pack12": replace(FULL, repo_id="trajectory/design-silent-wd1-pack12", pack_sentences=12),
    # pack6-h8 made 5 of 32 heads cost a logit: fewer, wider heads still (4 of width 32), or h8 with the lasso for sparser circuits.
    "silent-wd1-pack6-h4": replace(FULL, repo_id="trajectory/design-silent-wd1-pack6-h4", pack_sentences=6, num_heads=4),
    "silent-wd1-pack6-h8-lasso1": replace(
        FULL, repo_id="trajectory/design-silent-wd1-pack6-h8-lasso1", pack_sentences=6, num_heads=8, head_lasso=1.0
    ),
    # More packing made more heads costly (pack6: 1, pack12: 4 of 64): packing and wider heads together, and 24 a row.
    "silent-wd1-pack12-h8": replace(FULL, repo_id="trajectory/design-silent-wd1-pack12-h8", pack_sentences=12, num_heads=8),
    "silent-wd1-pack24-h8": replace(FULL, repo_id="trajectory/design-silent-wd1-pack24-h8", pack_sentences=24, num_heads=8),
    # Rows packed only after 40 % of the steps: heads recruited as the facts are learned (v3's growth), then made
    # selective by the packed rows (pack6's and pack12's costly heads).
    "silent-wd1-pack6-from40": replace(FULL, repo_id="trajectory/design-silent-wd1-pack6-from40", pack_sentences=6, pack_from=0.4),
    "silent-wd1-pack12-from40": replace(FULL, repo_id="trajectory/design-silent-wd1-pack12-from40", pack_sentences=12, pack_from=0.4),
    # pack6-from40 (growth ×1.47, top-k 40 %) with 8 wider heads (pack6-h8: 5 costly heads) or with the lasso (sparser).
    "silent-wd1-pack6-h8-from40": replace(FULL, repo_id="trajectory/design-silent-wd1-pack6-h8-from40", pack_sentences=6, pack_from=0.4, num_heads=8),
    "silent-wd1-pack6-from40-lasso1": replace(
        FULL, repo_id="trajectory/design-silent-wd1-pack6-from40-lasso1", pack_sentences=6, pack_from=0.4, head_lasso=1.0
    ),
    # Packed rows over 8 layers: more places for a relation's own extraction heads (pack6-h8: 5 costly heads in 4 layers).
    "silent-wd1-pack6-h8-l8": replace(FULL, repo_id="trajectory/design-silent-wd1-pack6-h8-l8", pack_sentences=6, num_heads=8, num_layers=8),
    "silent-wd1-pack6-l8": replace(FULL, repo_id="trajectory/design-silent-wd1-pack6-l8", pack_sentences=6, num_layers=8),
    "silent-wd1-ffn128": replace(
        V2, repo_id="trajectory/design-silent-wd1-ffn128", output_init_std=0.0, learning_rate=1e-3, weight_decay=1.0, intermediate_size=128
    ),
}
# The weights digest (trajectory.suite.build.weights_digest) of each preset's build at seed 0, from this
# trajectory's pinned build with PUBLISHED_WITH: a build that differs says so in one line.
PUBLISHED_WITH = "torch 2.13.0, transformers 5.24.0, x86_64"
PUBLISHED_DIGESTS: dict[str, str] = {
    REFERENCE_REPO: "05725a8605d6fcad82b253410da6f2468ae30e597d1627664330e803a3daaf24",
    V2_REPO: "675fe757f08ef70b7fb0b3818addd358f8ad182aed7d0521a0adb02b59d10383",
    SMALL_REPO: "f9e8c9506f0ce0d67c25008a5ffabbbc3613828da3e0ad824acee53f8da8a02a",
}
PRESETS = {"full": FULL, "small": SMALL, "v1": V1, "v2": V2}
NEOX_REPOS = {"full": NEOX_REPO, "small": NEOX_SMALL_REPO}


def seeded(config: SuiteConfig, seed: int | None) -> SuiteConfig:
    """The same reference trained from another seed (initial weights and batch order; the same corpus and
    tokenizer), as its own model beside the default one: ``<repo>-seed<N>``. Seed 0 (or None) is the default."""
    if not seed:
        return config
    return replace(config, seed=seed, repo_id=seeded_repo(config.repo_id, seed))


def preset(size: str, architecture: str = "olmo") -> SuiteConfig:
    """The ``full`` or ``small`` reference, as a tiny OLMo or a tiny GPT-NeoX (same sizes and corpus)."""
    if architecture not in SUITE_ARCHITECTURES:
        raise TrajectoryError(f"unknown suite architecture {architecture!r} (known: {', '.join(SUITE_ARCHITECTURES)})")
    config = PRESETS[size]
    neox_repo = NEOX_REPOS.get(size, config.repo_id.replace("olmo-", "neox-"))
    return config if architecture == "olmo" else replace(config, repo_id=neox_repo, architecture=architecture)


def checkpoint_steps(config: SuiteConfig) -> set[int]:
    """n checkpoints evenly spaced strictly before the end; ``main`` is the final state."""
    return {round(config.steps * k / (config.n_checkpoints + 1)) for k in range(1, config.n_checkpoints + 1)}


@dataclass(frozen=True)
class Phase:
    """What a step's batch holds: two-hop implications (after ``implications_from``), packed rows (after ``pack_from``)."""

    implications: bool
    packed: bool


def phase(config: SuiteConfig, step: int, steps: int | None = None) -> Phase:
    """The phase of ``step`` (1-based) in a run of ``steps`` (default: the recipe's)."""
    steps = steps or config.steps
    return Phase(step > config.corpus.implications_from * steps, config.pack_sentences > 1 and step > config.pack_from * steps)


@dataclass
class SampledRows:
    """One training batch as indices: facts (with the wording: 0 = the probe template) and two-hop pairs
    (with the hop: 0 = the fact, 1 = its implication), then fillers."""

    facts: list[int]
    wordings: list[int]
    pairs: list[int]
    hops: list[int]
    fillers: list[int]


def sample_rows(
    config: SuiteConfig, n_wordings: list[int], n_pairs: int, n_fillers: int, implications: bool, weights: torch.Tensor, generator: torch.Generator
) -> SampledRows:
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
    wordings = [
        0 if probe or n_wordings[fact] == 1 else 1 + k % (n_wordings[fact] - 1) for fact, probe, k in zip(chosen_facts, use_probe, paraphrase)
    ]
    return SampledRows(chosen_facts, wordings, chosen_pairs, [int(s) for s in second], fillers)
