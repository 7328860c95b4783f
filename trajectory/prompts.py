"""The inputs every measure shares: a probe set tokenised (right-padded ids, subject positions S_x and
answer positions A_x: :func:`encode_probe_set`, the IFR pass), prompts cut at t* with their answers and
candidates (:func:`encode_prompts`, for R, grafting, ablation and extractive structures), the reward R and
vocabulary ranks.

Positions come from the fast tokenizer's offset mapping (METHOD.md §2): a token belongs to the
subject (answer) when its character span overlaps the subject's (object's) characters. This stays
right when a byte-level BPE merges a token across the boundary, where matching id sequences fails.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from trajectory.errors import TrajectoryError
from trajectory.facts import Fact, ProbeSet

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class EncodedProbes:
    """The probe set as model input. B facts, T = longest sentence in tokens."""

    facts: list[Fact]
    input_ids: torch.Tensor  # [B, T] int64, right-padded
    attention_mask: torch.Tensor  # [B, T] int64, 1 for real tokens
    subject_positions: list[list[int]]  # per fact, S_x
    answer_positions: list[list[int]]  # per fact, A_x (first one >= 1)
    skipped: list[tuple[Fact, str]]  # facts that could not be located, with the reason

    @property
    def lengths(self) -> torch.Tensor:
        return self.attention_mask.sum(dim=1)

    def masks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Boolean [B, T] masks of subject positions and of answer-predicting positions (A_x − 1)."""
        batch, length = self.input_ids.shape
        subject = torch.zeros(batch, length, dtype=torch.bool)
        predicting = torch.zeros(batch, length, dtype=torch.bool)
        for row, (s_pos, a_pos) in enumerate(zip(self.subject_positions, self.answer_positions)):
            subject[row, s_pos] = True
            predicting[row, [a - 1 for a in a_pos]] = True
        return subject, predicting


def overlapping_tokens(offsets: list[tuple[int, int]], span: tuple[int, int]) -> list[int]:
    """Indices of the tokens whose (non-empty) character span overlaps ``span`` [start, end)."""
    start, end = span
    return [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]


def encode_probe_set(tokenizer: PreTrainedTokenizerBase, probes: ProbeSet | list[Fact]) -> EncodedProbes:
    """Tokenise every fact's sentence without special tokens (no BOS, METHOD.md §2)."""
    if not getattr(tokenizer, "is_fast", False):
        raise TrajectoryError("a fast tokenizer (with offset mappings) is needed to locate subjects and answers")
    facts = list(probes)
    kept: list[Fact] = []
    rows: list[list[int]] = []
    subjects: list[list[int]] = []
    answers: list[list[int]] = []
    skipped: list[tuple[Fact, str]] = []
    for fact in facts:
        enc = tokenizer(fact.sentence, add_special_tokens=False, return_offsets_mapping=True)
        offsets = [tuple(o) for o in enc["offset_mapping"]]
        s_pos = overlapping_tokens(offsets, fact.subject_span)
        a_pos = overlapping_tokens(offsets, fact.object_span)
        if not s_pos or not a_pos:
            skipped.append((fact, "no token overlaps the " + ("subject" if not s_pos else "answer")))
            continue
        if a_pos[0] == 0 or (set(s_pos) & set(a_pos)):
            skipped.append((fact, "subject and answer share a token"))
            continue
        kept.append(fact)
        rows.append(list(enc["input_ids"]))
        subjects.append(s_pos)
        answers.append(a_pos)
    if not kept:
        raise TrajectoryError("no probe fact could be located in its tokenised sentence")
    input_ids, attention_mask = right_padded(rows, pad_id(tokenizer))
    return EncodedProbes(kept, input_ids, attention_mask, subjects, answers, skipped)


def beyond_context(tokenizer: PreTrainedTokenizerBase, probes: ProbeSet, context: int | None) -> list[tuple[Fact, int]]:
    """The facts whose sentence (prompt and answer) is longer than ``context`` tokens, with their lengths."""
    if not context or not len(probes):
        return []
    lengths = [len(ids) for ids in tokenizer([f.sentence for f in probes], add_special_tokens=False)["input_ids"]]
    return [(fact, n) for fact, n in zip(probes, lengths) if n > context]


@dataclass
class RewardBatch:
    """Prompts truncated at t* (right-padded), with what R and the upstream score need. B prompts."""

    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    answer: torch.Tensor  # [B] first token of " " + answer
    candidates: torch.Tensor  # [B, C] candidate first tokens (padded)
    candidate_mask: torch.Tensor  # [B, C]
    subject_start: torch.Tensor  # [B] first subject token
    subject_end: torch.Tensor  # [B] one past the last subject token
    partners: torch.Tensor  # [B, K] indices of counterfactual prompts in the batch
    partner_mask: torch.Tensor  # [B, K]

    @property
    def position(self) -> torch.Tensor:
        return self.attention_mask.sum(1) - 1  # t*: the last prompt token

    def to(self, device: torch.device | str) -> "RewardBatch":
        return RewardBatch(**{k: v.to(device) for k, v in vars(self).items()})


@dataclass(frozen=True)
class RewardPrompt:
    key: int  # fact_id or probe_id
    group: str  # candidates and partners come from the same group (a relation, a hop)
    prompt: str  # text up to t* (no trailing space)
    subject: str  # located in ``prompt`` (its last occurrence)
    answer: str


def first_token(tokenizer: PreTrainedTokenizerBase, answer: str) -> int:
    ids = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
    if tokenizer.bos_token_id is not None and ids and ids[0] == tokenizer.bos_token_id:
        ids = ids[1:]
    if not ids:
        raise TrajectoryError(f"answer {answer!r} tokenises to nothing")
    return ids[0]


def encode_prompts(
    tokenizer: PreTrainedTokenizerBase, prompts: list[RewardPrompt], *, candidates: bool = True, counterfactuals: int = 0, seed: int = 0
) -> RewardBatch:
    """Tokenise prompts cut at t* (no special tokens, right-padded) with their subject spans and answers'
    first tokens; with ``candidates``, each group's candidate answers (what R needs); with
    ``counterfactuals`` K > 0, up to K partners per prompt (the extractive upstream score)."""
    if not getattr(tokenizer, "is_fast", False):
        raise TrajectoryError("a fast tokenizer (with offset mappings) is needed to locate subjects")
    rows, spans = [], []
    for p in prompts:
        enc = tokenizer(p.prompt, add_special_tokens=False, return_offsets_mapping=True)
        start = p.prompt.rindex(p.subject)
        inside = overlapping_tokens([tuple(o) for o in enc["offset_mapping"]], (start, start + len(p.subject)))
        if not inside:
            raise TrajectoryError(f"subject {p.subject!r} not found in the tokens of {p.prompt!r}")
        rows.append(enc["input_ids"])
        spans.append((inside[0], inside[-1] + 1))
    answers = [first_token(tokenizer, p.answer) for p in prompts]
    groups = members_by_group(prompts)
    options = {g: sorted({answers[i] for i in members}) if candidates else [] for g, members in groups.items()}
    width = max(len(c) for c in options.values())
    rng = random.Random(seed)
    partners, partner_mask = [], []
    for i, p in enumerate(prompts):
        pool = [j for j in groups[p.group] if prompts[j].subject != p.subject and answers[j] != answers[i]]
        rng.shuffle(pool)
        chosen = pool[:counterfactuals]
        # No counterfactual (a group of one): its upstream score is undefined (NaN, stored as NULL).
        partners.append(chosen + [chosen[0] if chosen else i] * (counterfactuals - len(chosen)))
        partner_mask.append([True] * len(chosen) + [False] * (counterfactuals - len(chosen)))
    ids, mask = right_padded(rows, pad_id(tokenizer))
    cand = torch.tensor([options[p.group] + options[p.group][:1] * (width - len(options[p.group])) for p in prompts], dtype=torch.long).reshape(
        len(prompts), width
    )
    cand_mask = torch.tensor([[True] * len(options[p.group]) + [False] * (width - len(options[p.group])) for p in prompts], dtype=torch.bool).reshape(
        len(prompts), width
    )
    return RewardBatch(
        ids,
        mask,
        torch.tensor(answers),
        cand,
        cand_mask,
        torch.tensor([s for s, _ in spans]),
        torch.tensor([e for _, e in spans]),
        torch.tensor(partners, dtype=torch.long).reshape(len(prompts), counterfactuals),
        torch.tensor(partner_mask, dtype=torch.bool).reshape(len(prompts), counterfactuals),
    )


def members_by_group(prompts: list[RewardPrompt]) -> dict[str, list[int]]:
    """group -> the indices of its prompts, in order."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(p.group, []).append(i)
    return groups


def fact_prompts(facts: ProbeSet | list[Fact]) -> list[RewardPrompt]:
    """Each fact's prompt for R: its template cut at the answer, grouped by relation."""
    return [RewardPrompt(f.fact_id, f.relation, f.prompt, f.subject, f.object) for f in facts]


def reward(
    logits: torch.Tensor, position: torch.Tensor, answer: torch.Tensor, candidates: torch.Tensor, candidate_mask: torch.Tensor
) -> torch.Tensor:
    """R = ℓ_{t*}[answer] − mean over the relation's candidates of ℓ_{t*}[c] (raw logits).

    logits [B, T, V]; position [B] t*; answer [B] token id; candidates [B, C] token ids, padded where
    ``candidate_mask`` [B, C] is False. Returns [B].
    """
    at = logits[torch.arange(logits.shape[0], device=logits.device), position]  # [B, V]
    right = at.gather(1, answer[:, None])[:, 0]
    mask = candidate_mask.to(at.dtype)
    mean = (at.gather(1, candidates) * mask).sum(1) / mask.sum(1)
    return right - mean


def candidate_ranks(logits_at: torch.Tensor, answer: torch.Tensor, candidates: torch.Tensor, candidate_mask: torch.Tensor) -> torch.Tensor:
    """0-based rank of the answer among its candidates (ties in its favour): logits_at [B, V] -> [B] int64."""
    right = logits_at.gather(1, answer[:, None])
    better = (logits_at.gather(1, candidates) > right) & candidate_mask
    return better.sum(1)


def pad_id(tokenizer: PreTrainedTokenizerBase) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)


def right_padded(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows as [B, T] int64 ids padded on the right with ``pad``, and the [B, T] mask of real tokens."""
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def vocabulary_ranks(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target over the vocabulary, ties in its favour (the number of strictly larger
    logits): logits [..., V], targets [...] -> [...] int64."""
    logits = logits.float()
    return (logits > logits.gather(-1, targets.unsqueeze(-1))).sum(-1)


def next_token_ranks(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Rank (0 = top-1) of the actual next token at each position.

    logits [B, T, V], input_ids [B, T] -> [B, T] int64; the last column is -1 (no next token).
    """
    ranks = vocabulary_ranks(logits[:, :-1], input_ids[:, 1:])
    return torch.cat([ranks, torch.full_like(ranks[:, :1], -1)], dim=1)


def first_answer_ranks(ranks: torch.Tensor, encoded: EncodedProbes) -> torch.Tensor:
    """[B] rank of each fact's first answer token, read at position A_x[0] − 1."""
    predicting = torch.tensor([a[0] - 1 for a in encoded.answer_positions])
    return ranks[torch.arange(len(predicting)), predicting]
