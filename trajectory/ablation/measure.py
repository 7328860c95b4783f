"""R, the answer's rank and top-1 for every (configuration, prompt), all configurations batched."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajectory.ablation.hooks import Replacement, ablated
from trajectory.ablation.masks import Ablation
from trajectory.extractive.measure import RewardBatch
from trajectory.extractive.scores import reward
from trajectory.prompts import vocabulary_ranks


@dataclass
class AblationOutcome:
    """Per configuration c and prompt b: reward [C, B] (METHOD.md §6's R at the last prompt token),
    answer_rank [C, B] over the vocabulary (0 = top-1), top1 [C, B]."""

    reward: torch.Tensor
    answer_rank: torch.Tensor

    @property
    def top1(self) -> torch.Tensor:
        return self.answer_rank == 0


@torch.no_grad()
def run_ablations(model: torch.nn.Module, batch: RewardBatch, ablation: Ablation, replacement: Replacement,
                  rows_per_pass: int = 256) -> AblationOutcome:
    """Every configuration of ``ablation`` (C rows) on every prompt of ``batch`` (B), as C·B batch rows in
    passes of ``rows_per_pass``; row k is configuration k // B on prompt k % B."""
    configs, prompts = len(ablation), batch.input_ids.shape[0]
    device = next(model.parameters()).device
    batch = batch.to(device)
    rewards = torch.empty(configs * prompts)
    ranks = torch.empty(configs * prompts, dtype=torch.long)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, configs * prompts, rows_per_pass):
            rows = torch.arange(start, min(start + rows_per_pass, configs * prompts))
            config, prompt = rows // prompts, (rows % prompts).to(device)
            length = int(batch.attention_mask[prompt].sum(1).max())
            ids, mask = batch.input_ids[prompt, :length], batch.attention_mask[prompt, :length]
            with ablated(model, Ablation(ablation.heads[config], ablation.ffns[config]), replacement):
                logits = model(input_ids=ids, attention_mask=mask).logits.float()
            position = batch.position[prompt]
            rewards[rows] = reward(logits, position, batch.answer[prompt], batch.candidates[prompt], batch.candidate_mask[prompt]).cpu()
            at = logits[torch.arange(len(rows), device=device), position]
            ranks[rows] = vocabulary_ranks(at, batch.answer[prompt]).cpu()
    finally:
        model.train(was_training)
    return AblationOutcome(rewards.reshape(configs, prompts), ranks.reshape(configs, prompts))
