"""Attribution patching (AtP; Nanda 2023, Kramár et al. 2024): every component's mean-ablation effect on R,
estimated to first order from one forward and one backward pass.

ΔR(c, f) ≈ Σ_t (ā_c − a_c(f)_t) · ∂R/∂a_c(f)_t over f's real positions, where a_c is what the ablation
replaces (a head's z slice, the input of the attention output projection; an FFN's output) and ā_c the
replacement. AtP*'s two corrections are not applied: its attention-saturation fix concerns patching queries
and keys, which no component here does (a head is patched at its output), and GradDrop is left out (the
exhaustive effects on the reference measure how far the plain estimate is from the truth).
"""

from __future__ import annotations

from typing import Any

import torch

from trajectory.models.architectures import (
    architecture_of,
    decoder_layers,
    out_projection,
)
from trajectory.prompts import RewardBatch, reward


def attribution_patching(
    model: torch.nn.Module, batch: RewardBatch, head_replacement: torch.Tensor, ffn_replacement: torch.Tensor, batch_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """First-order ΔR of replacing each component by its replacement, per prompt.

    batch: B prompts cut at t*; head_replacement [L, H, dh] (ā of each head's z slice), ffn_replacement [L, d].
    Returns heads [B, L, H] and ffns [B, L] in float32 (float64 for a float64 model; negative: the ablation lowers
    R), computed in prompt chunks of ``batch_size``.
    """
    device = next(model.parameters()).device
    architecture = architecture_of(model)
    layers = decoder_layers(model)
    n_heads = model.config.num_attention_heads
    unembed = model.get_output_embeddings()
    dtype = torch.promote_types(next(model.parameters()).dtype, torch.float32)  # float32 at least, float64 stays
    heads_out = torch.empty(batch.input_ids.shape[0], len(layers), n_heads, dtype=dtype)
    ffns_out = torch.empty(batch.input_ids.shape[0], len(layers), dtype=dtype)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, batch.input_ids.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            part = RewardBatch(**{k: v[rows] for k, v in vars(batch).items()}).to(device)
            length = int(part.attention_mask.sum(1).max())
            ids, mask = part.input_ids[:, :length], part.attention_mask[:, :length]
            values: list[tuple[torch.Tensor, torch.Tensor]] = []  # per layer: z [n, T, H·dh], ffn [n, T, d]
            shifts: list[tuple[torch.Tensor, torch.Tensor]] = []  # zero tensors added to them: their grads are ∂R/∂a
            handles = []
            for layer in layers:

                def shift_z(
                    module: torch.nn.Module,
                    args: tuple[Any, ...],
                    store: list[tuple[torch.Tensor, torch.Tensor | None]] = values,
                    shifts: list[tuple[torch.Tensor, torch.Tensor | None]] = shifts,
                ) -> tuple[torch.Tensor]:
                    z = args[0]
                    delta = torch.zeros_like(z, requires_grad=True)
                    store.append((z.detach(), None))
                    shifts.append((delta, None))
                    return (z + delta,)

                def shift_ffn(
                    module: torch.nn.Module,
                    args: tuple[Any, ...],
                    output: torch.Tensor,
                    store: list[tuple[torch.Tensor, torch.Tensor | None]] = values,
                    shifts: list[tuple[torch.Tensor, torch.Tensor | None]] = shifts,
                ) -> torch.Tensor:
                    delta = torch.zeros_like(output, requires_grad=True)
                    z, _ = store[-1]
                    store[-1] = (z, output.detach())
                    shifts[-1] = (shifts[-1][0], delta)
                    return output + delta

                handles += [out_projection(layer, architecture).register_forward_pre_hook(shift_z), layer.mlp.register_forward_hook(shift_ffn)]
            try:
                with torch.enable_grad():
                    hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
                    logits = unembed(hidden[torch.arange(len(ids), device=device), part.position]).to(dtype)
                    rewards = reward(logits[:, None], torch.zeros_like(part.position), part.answer, part.candidates, part.candidate_mask)
                    grads = torch.autograd.grad(rewards.sum(), [d for pair in shifts for d in pair])
            finally:
                for handle in handles:
                    handle.remove()
            real = mask.to(dtype)[:, :, None]  # [n, T, 1]
            for index, (z, out) in enumerate(values):
                g_z, g_ffn = grads[2 * index].to(dtype), grads[2 * index + 1].to(dtype)
                dz = (head_replacement[index].to(device, dtype).reshape(1, 1, -1) - z.to(dtype)) * g_z * real  # [n, T, H·dh]
                heads_out[rows, index] = dz.reshape(*dz.shape[:2], n_heads, -1).sum((1, 3)).cpu()
                dffn = (ffn_replacement[index].to(device, dtype) - out.to(dtype)) * g_ffn * real
                ffns_out[rows, index] = dffn.sum((1, 2)).cpu()
    finally:
        model.train(was_training)
    return heads_out, ffns_out
