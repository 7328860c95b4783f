"""Reward prompts: a prompt cut at t*, its answer's first token, its group's candidates and counterfactuals.

METHOD.md §6: the text is ``prompt + " " + answer``; tok(answer) is the first token of ``" " + answer``
tokenised alone; the candidates C are the distinct first tokens of the group's answers (a relation's
objects, or a hop's); the counterfactual partners x̃ of a prompt are up to K other prompts of its group
with another subject and another answer token, chosen by a seeded shuffle (none: upstream is NaN).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from trajectory.errors import TrajectoryError
from trajectory.extractive.measure import RewardBatch
from trajectory.prompts import overlapping_tokens, pad_id, right_padded


@dataclass(frozen=True)
class RewardPrompt:
    key: int  # fact_id or probe_id
    group: str  # candidates and partners come from the same group (a relation, a hop)
    prompt: str  # text up to t* (no trailing space)
    subject: str  # located in ``prompt`` (its last occurrence)
    answer: str


def first_token(tokenizer, answer: str) -> int:
    ids = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
    if tokenizer.bos_token_id is not None and ids and ids[0] == tokenizer.bos_token_id:
        ids = ids[1:]
    if not ids:
        raise TrajectoryError(f"answer {answer!r} tokenises to nothing")
    return ids[0]


def encode_rewards(tokenizer, prompts: list[RewardPrompt], counterfactuals: int = 10, seed: int = 0) -> RewardBatch:
    """Tokenise (no special tokens, right-padded) and pick candidates and partners per group."""
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
    candidates = {g: sorted({answers[i] for i in members}) for g, members in groups.items()}
    width = max(len(c) for c in candidates.values())
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
    cand = torch.tensor([candidates[p.group] + [candidates[p.group][0]] * (width - len(candidates[p.group])) for p in prompts])
    cand_mask = torch.tensor([[True] * len(candidates[p.group]) + [False] * (width - len(candidates[p.group])) for p in prompts])
    return RewardBatch(ids, mask, torch.tensor(answers), cand, cand_mask, torch.tensor([s for s, _ in spans]),
                       torch.tensor([e for _, e in spans]), torch.tensor(partners), torch.tensor(partner_mask))


def members_by_group(prompts: list[RewardPrompt]) -> dict[str, list[int]]:
    """group -> the indices of its prompts, in order."""
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(p.group, []).append(i)
    return groups


def group_chunks(prompts: list[RewardPrompt], batch_size: int) -> list[list[int]]:
    """Indices in batches of whole groups (partners stay in their prompt's batch), about batch_size each;
    groups in order of their longest prompt, so that a batch pads little."""
    chunks: list[list[int]] = [[]]
    for members in sorted(members_by_group(prompts).values(), key=lambda m: max(len(prompts[i].prompt) for i in m)):
        if chunks[-1] and len(chunks[-1]) + len(members) > batch_size:
            chunks.append([])
        chunks[-1].extend(members)
    return chunks
