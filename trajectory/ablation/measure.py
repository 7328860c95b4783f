"""R, the answer's rank and top-1 for (configuration, prompt) rows, all configurations batched."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajectory.ablation.hooks import Replacement, ablated
from trajectory.masks import Ablation
from trajectory.prompts import RewardBatch, reward, vocabulary_ranks

# Faithfulness (R_circuit − R_none) / (R_clean − R_none) is reported where the denominator is at least this
# many logits (and a fact below it has no causal circuit): below, the whole model barely beats its fully
# ablated self and the ratio is noise.
MIN_EFFECT = 1.0


@dataclass
class AblationOutcome:
    """Per measured row (or per configuration c and prompt b): reward (METHOD.md §6's R at the last prompt
    token), answer_rank over the vocabulary (0 = top-1)."""

    reward: torch.Tensor
    answer_rank: torch.Tensor


@torch.no_grad()
def run_rows(
    model: torch.nn.Module,
    batch: RewardBatch,
    ablation: Ablation,
    replacement: Replacement,
    config_of_row: torch.Tensor,
    prompt_of_row: torch.Tensor,
    rows_per_pass: int = 256,
) -> AblationOutcome:
    """Row k: configuration ``config_of_row[k]`` of ``ablation`` on prompt ``prompt_of_row[k]`` of ``batch``.
    K rows in passes of ``rows_per_pass``, ordered by prompt length so that a pass pads little; the
    unembedding is applied at the last prompt token only. Returns reward [K], answer_rank [K]."""
    device = next(model.parameters()).device
    batch = batch.to(device)
    lengths = batch.attention_mask.sum(1).cpu()
    order = torch.argsort(lengths[prompt_of_row], stable=True)
    rewards = torch.empty(len(order))
    ranks = torch.empty(len(order), dtype=torch.long)
    unembed = model.get_output_embeddings()
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), rows_per_pass):
            rows = order[start : start + rows_per_pass]
            config, prompt = config_of_row[rows], prompt_of_row[rows]
            length = int(lengths[prompt].max())
            prompt = prompt.to(device)
            ids, mask = batch.input_ids[prompt, :length], batch.attention_mask[prompt, :length]
            with ablated(model, Ablation(ablation.heads[config], ablation.ffns[config]), replacement):
                hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
            position = batch.position[prompt]
            at = unembed(hidden[torch.arange(len(rows), device=device), position]).float()  # [n, V]
            rewards[rows] = reward(
                at[:, None], torch.zeros_like(position), batch.answer[prompt], batch.candidates[prompt], batch.candidate_mask[prompt]
            ).cpu()
            ranks[rows] = vocabulary_ranks(at, batch.answer[prompt]).cpu()
    finally:
        model.train(was_training)
    return AblationOutcome(rewards, ranks)


def run_ablations(
    model: torch.nn.Module, batch: RewardBatch, ablation: Ablation, replacement: Replacement, rows_per_pass: int = 256
) -> AblationOutcome:
    """Every configuration of ``ablation`` (C rows) on every prompt of ``batch`` (B): reward and answer_rank [C, B]."""
    configs, prompts = len(ablation), batch.input_ids.shape[0]
    rows = torch.arange(configs * prompts)
    outcome = run_rows(model, batch, ablation, replacement, rows // prompts, rows % prompts, rows_per_pass)
    return AblationOutcome(outcome.reward.reshape(configs, prompts), outcome.answer_rank.reshape(configs, prompts))
