"""Informative, downstream and upstream scores of one update W -> W′ on a batch of reward prompts.

Passes per batch (METHOD.md §6): forward+backward at W; forward+backward at W′ (which also caches the
inputs of every q/k/v and gate/up projection); one hybrid forward at W with those inputs substituted,
all layers at once. The counterfactual outputs o(W; x̃) are the batch's own outputs at W: partners are
other prompts of the batch (the caller keeps a relation's prompts in one batch), so no extra pass.
Weights are never modified: W and W′ are two models (keep them float32; Δ in bfloat16 is lossy).
Parameter gradients are not kept (only activation gradients), so a 7B model needs no gradient memory
for its weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from trajectory.extractive.scores import align_positions, counterfactual_mean, embedding_term, input_side, output_side, paired_change, per_head
from trajectory.models.taps import READERS, Taps, check_supported, frozen, linear_modules, tap_linears
from trajectory.prompts import RewardBatch, reward

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@dataclass
class UpdateScores:
    """Per prompt: heads [B, L, H], FFNs [B, L]; embedding/unembedding informative terms [B]."""

    informative_heads: torch.Tensor
    informative_ffns: torch.Tensor
    informative_embedding: torch.Tensor
    informative_unembedding: torch.Tensor
    downstream_heads: torch.Tensor
    downstream_ffns: torch.Tensor
    upstream_heads: torch.Tensor
    upstream_ffns: torch.Tensor
    reward_before: torch.Tensor
    reward_after: torch.Tensor

    def total_informative(self) -> torch.Tensor:
        """[B] Σ over every component: ∇R·ΔW over all weights."""
        return self.informative_heads.sum((1, 2)) + self.informative_ffns.sum(1) + self.informative_embedding + self.informative_unembedding


def _forward_backward(
    model: PreTrainedModel, batch: RewardBatch, substitute: torch.Tensor | None = None, backward: bool = True
) -> tuple[Taps, torch.Tensor]:
    with frozen(model), torch.set_grad_enabled(backward), tap_linears(model, substitute) as taps:
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        rewards = reward(
            logits.to(torch.promote_types(logits.dtype, torch.float32)), batch.position, batch.answer, batch.candidates, batch.candidate_mask
        )
        if backward:
            rewards.sum().backward()  # prompts are independent: each one's activation gradients are its own
    return taps, rewards.detach()


def score_update(before: torch.nn.Module, after: torch.nn.Module, batch: RewardBatch) -> UpdateScores:
    """Informative, downstream and upstream scores of every head and FFN for the update before -> after.

    Computed in float32, or float64 for float64 models (the exactness tests)."""
    check_supported(before)
    dtype = torch.promote_types(next(before.parameters()).dtype, torch.float32)
    passes: list[Taps] = []
    try:
        at_w, reward_before = _forward_backward(before, batch)
        passes.append(at_w)
        at_w2, reward_after = _forward_backward(after, batch)
        passes.append(at_w2)
        cache = [{name: layer[name].input.detach() for name in READERS} for layer in at_w2.layers]
        hybrid, _ = _forward_backward(before, batch, substitute=cache, backward=False)
        passes.append(hybrid)
        del cache
        with torch.no_grad():
            return _combine(before, after, batch, at_w, at_w2, hybrid, reward_before, reward_after, dtype)
    finally:
        for taps in passes:
            taps.clear()


def _combine(
    before: torch.Tensor,
    after: torch.Tensor,
    batch: RewardBatch,
    at_w: Taps,
    at_w2: Taps,
    hybrid: Taps,
    reward_before: torch.Tensor,
    reward_after: torch.Tensor,
    dtype: torch.dtype,
) -> UpdateScores:
    n_heads = before.config.num_attention_heads
    valid = batch.attention_mask[..., None].to(dtype)  # [B, T, 1]
    modules_w, modules_w2 = linear_modules(before), linear_modules(after)
    pi = align_positions(
        batch.attention_mask.sum(1)[:, None].expand_as(batch.partners),
        batch.subject_start[:, None].expand_as(batch.partners),
        batch.subject_end[:, None].expand_as(batch.partners),
        batch.attention_mask.sum(1)[batch.partners],
        batch.subject_start[batch.partners],
        batch.subject_end[batch.partners],
        batch.input_ids.shape[1],
    )
    scores: dict[str, list[torch.Tensor]] = {k: [] for k in ("ih", "if", "dh", "df", "uh", "uf")}
    for layer_w, layer_w2, layer_h, mods_w, mods_w2 in zip(at_w.layers, at_w2.layers, hybrid.layers, modules_w, modules_w2):
        delta = {name: (mods_w2[name].weight.to(dtype) - mods_w[name].weight.to(dtype)) for name in mods_w}
        tapped = {name: (tap.grad_out.to(dtype), tap.input.detach().to(dtype)) for name, tap in layer_w.items()}
        # Heads: q/k/v rows and O columns of each head.
        attention = sum(output_side(*tapped[name], delta[name]) for name in ("q_proj", "k_proj", "v_proj"))
        attention = attention + input_side(*tapped["o_proj"], delta["o_proj"])
        scores["ih"].append(per_head(attention, n_heads))
        scores["if"].append(sum(output_side(*tapped[name], delta[name]).sum(1) for name in ("gate_proj", "up_proj", "down_proj")))
        # Outputs and their gradients: z (the o_proj input; ∂R/∂z = ∂R/∂(o_proj out) · W_O) and the FFN output.
        z_w, z_h = layer_w["o_proj"].input.detach().to(dtype), layer_h["o_proj"].input.to(dtype)
        gz_w = layer_w["o_proj"].grad_out.to(dtype) @ mods_w["o_proj"].weight.to(dtype)
        gz_w2 = layer_w2["o_proj"].grad_out.to(dtype) @ mods_w2["o_proj"].weight.to(dtype)
        f_w, f_h = layer_w["down_proj"].output.detach().to(dtype), layer_h["down_proj"].output.to(dtype)
        gf_w, gf_w2 = layer_w["down_proj"].grad_out.to(dtype), layer_w2["down_proj"].grad_out.to(dtype)
        scores["dh"].append(per_head(paired_change(gz_w * valid, z_h, z_w), n_heads))
        scores["df"].append(paired_change(gf_w * valid, f_h, f_w).sum(1))
        z_cf = counterfactual_mean(z_w, batch.partners, pi, batch.partner_mask)
        f_cf = counterfactual_mean(f_w, batch.partners, pi, batch.partner_mask)
        scores["uh"].append(per_head(paired_change((gz_w2 - gz_w) * valid, z_w, z_cf), n_heads))
        scores["uf"].append(paired_change((gf_w2 - gf_w) * valid, f_w, f_cf).sum(1))

    emb_delta = after.get_input_embeddings().weight.to(dtype) - before.get_input_embeddings().weight.to(dtype)
    unemb_delta = after.get_output_embeddings().weight.to(dtype) - before.get_output_embeddings().weight.to(dtype)
    embedding = embedding_term(at_w.embedding.grad_out.to(dtype), batch.input_ids, emb_delta)
    unembedding = output_side(at_w.unembedding.grad_out.to(dtype), at_w.unembedding.input.detach().to(dtype), unemb_delta).sum(1)
    stack = {k: torch.stack(v, dim=1).cpu() for k, v in scores.items()}
    return UpdateScores(
        stack["ih"],
        stack["if"],
        embedding.cpu(),
        unembedding.cpu(),
        stack["dh"],
        stack["df"],
        stack["uh"],
        stack["uf"],
        reward_before.cpu(),
        reward_after.cpu(),
    )
