"""Reward prompts in batches of whole groups, for the extractive scores (partners share their prompt's batch)."""

from __future__ import annotations

from trajectory.prompts import RewardPrompt, members_by_group


def group_chunks(prompts: list[RewardPrompt], batch_size: int) -> list[list[int]]:
    """Indices in batches of whole groups (partners stay in their prompt's batch), about batch_size each;
    groups in order of their longest prompt, so that a batch pads little."""
    chunks: list[list[int]] = [[]]
    for members in sorted(members_by_group(prompts).values(), key=lambda m: max(len(prompts[i].prompt) for i in m)):
        if chunks[-1] and len(chunks[-1]) + len(members) > batch_size:
            chunks.append([])
        chunks[-1].extend(members)
    return chunks
