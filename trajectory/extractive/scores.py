"""Extractive-structure scores (Feng, Russell & Steinhardt 2024; METHOD.md §6): pure tensors in, tensors out.

W is the model before an update, W′ after it, Δ = W′ − W. A component c is an attention head (its
output z_{t,h}, head h's slice of the output projection's input) or an FFN layer (its output, the
down projection's output). g = ∂R/∂(component output at t). All scores are first order, summed over
positions t here (the caller averages over prompts):

- informative I_c = Σ_t Σ_{P ∈ c's linear maps} g^P_t · (ΔW_P u^P_t): ⟨∇_{W_c} R, ΔW_c⟩ exactly, where
  u^P is the map's input and g^P the gradient at its output (:func:`output_side` / :func:`input_side`);
- downstream D_c = Σ_t g_{c,t}(W) · [o_{c,t}(W_c; in(W′)) − o_{c,t}(W)]  (:func:`paired_change`);
- upstream U_c = Σ_t [g_{c,t}(W′) − g_{c,t}(W)] · [o_{c,t}(W; x) − E_x̃ o_{c,π(t)}(W; x̃)]  (:func:`paired_change`
  with the counterfactual mean from :func:`counterfactual_mean` and :func:`align_positions`).
Positive always means "raises R".
"""

from __future__ import annotations

import torch


def output_side(grad_out: torch.Tensor, inputs: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Σ_t g_t ⊙ (ΔW u_t) per output unit: grad_out [B, T, o], inputs [B, T, i], delta [o, i] -> [B, o].

    Summed over the units of a block of rows of W (a head's rows of q/k/v, an FFN's gate/up/down), this
    is that block's ⟨∇R, ΔW⟩.
    """
    return (grad_out * torch.nn.functional.linear(inputs, delta)).sum(1)


def input_side(grad_out: torch.Tensor, inputs: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Σ_t (g_tᵀ ΔW) ⊙ u_t per input unit: [B, T, o], [B, T, i], [o, i] -> [B, i] (a head's columns of O)."""
    return ((grad_out @ delta) * inputs).sum(1)


def per_head(values: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[..., H·dh] -> [..., H]: sum each head's slice."""
    return values.reshape(*values.shape[:-1], n_heads, -1).sum(-1)


def embedding_term(grad_out: torch.Tensor, input_ids: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Σ_t g_t · ΔE[token_t]: grad_out [B, T, d], input_ids [B, T], delta [V, d] -> [B]."""
    return (grad_out * delta[input_ids]).sum((1, 2))


def paired_change(grad: torch.Tensor, after: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
    """Σ_t g_t ⊙ (after_t − before_t) per unit: [B, T, X] each -> [B, X] (per head: :func:`per_head`)."""
    return (grad * (after - before)).sum(1)


def align_positions(
    length: torch.Tensor,
    subject_start: torch.Tensor,
    subject_end: torch.Tensor,
    partner_length: torch.Tensor,
    partner_start: torch.Tensor,
    partner_end: torch.Tensor,
    positions: int,
) -> torch.Tensor:
    """π(t): the counterfactual's position that plays the part of position t of the prompt.

    Per (prompt, partner) pair, all [B, K]; subject spans [start, end) in tokens. The shared prefix maps
    to itself, the shared suffix from the end, the subject right-aligned (extra leading subject tokens of
    the prompt map to the partner's first subject token). Returns [B, K, positions] int64, clamped into
    the partner; positions ≥ length are padding (their value does not matter, their gradient is 0).
    """
    t = torch.arange(positions, device=length.device)[None, None, :]
    length, start, end = length[..., None], subject_start[..., None], subject_end[..., None]
    p_length, p_start, p_end = partner_length[..., None], partner_start[..., None], partner_end[..., None]
    from_end = end - 1 - t
    subject = torch.maximum(p_end - 1 - from_end, p_start)
    suffix = t - length + p_length
    pi = torch.where(t < start, t, torch.where(t < end, subject, suffix))
    return pi.clamp(min=0).minimum(p_length - 1)


def counterfactual_mean(outputs: torch.Tensor, partners: torch.Tensor, pi: torch.Tensor, partner_mask: torch.Tensor) -> torch.Tensor:
    """E over each prompt's counterfactual partners of their outputs at the aligned positions.

    outputs [N, T′, X] of the prompts that may serve as partners; partners [B, K] indices into N;
    pi [B, K, T]; partner_mask [B, K]. Returns [B, T, X]; NaN for a prompt without partners.
    """
    gathered = outputs[partners[..., None], pi]  # [B, K, T, X]
    weight = partner_mask.to(outputs.dtype)[..., None, None]
    return (gathered * weight).sum(1) / weight.sum(1)
