"""Proximity contributions of Information Flow Routes (METHOD.md §3): pure tensors in, tensors out.

For parts z_k summing to a whole w: prox_k = max(ε, ‖w‖₁ − ‖w − z_k‖₁), c_k = prox_k / Σ prox.
Everything here is float32 and vectorised; the only loop is over chunks of target positions, which
bounds the [B, P, H, d] temporary over causal (target, source) pairs (never [B, T, T, H, d]).
"""

from __future__ import annotations

import torch

EPSILON = 1e-5


def head_outputs(values: torch.Tensor, o_weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Per-head value vectors through their slice of the output projection: f^h_j = v^h_j W_O^h.

    values [B, H_kv, T, dh] (after any clamp, before GQA repetition); o_weight [d, H·dh].
    Returns [B, T, H, d] float32. GQA: query head h reads key/value head h // (H / H_kv).
    """
    batch, kv_heads, length, head_dim = values.shape
    values = values.float().repeat_interleave(n_heads // kv_heads, dim=1)  # [B, H, T, dh]
    w = o_weight.float().reshape(o_weight.shape[0], n_heads, head_dim)  # [d, H, dh]
    return torch.einsum("bhtk,dhk->bthd", values, w)


def attention_contributions(
    residual: torch.Tensor,
    pattern: torch.Tensor,
    head_out: torch.Tensor,
    valid: torch.Tensor,
    *,
    max_chunk_elements: int = 1 << 26,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised contributions of every (source j ≤ i, head h) part and of the residual to m_i.

    residual  [B, T, d]  x_i, the stream entering the layer
    pattern   [B, H, T, T] attention weights a^h_{ij}, already multiplied by any per-target branch
              scale (post-norm models); zero above the diagonal
    head_out  [B, T, H, d] f^h_j (times any per-dimension branch weight)
    valid     [B, T] bool, real (non-padding) positions
    Returns (c_attn [B, T, T, H] indexed [target, source, head], c_res [B, T]); rows of padding
    targets are 0. Parts and residual sum to 1 per valid target.
    """
    batch, length, _ = residual.shape
    heads, dim = head_out.shape[2], head_out.shape[3]
    pattern = pattern.float()
    weights = pattern.permute(0, 2, 3, 1)  # [B, T(i), T(j), H]
    branch = torch.einsum("bijh,bjhd->bid", weights, head_out)  # Σ_{j,h} a f
    whole = residual.float() + branch  # m_i
    whole_norm = whole.abs().sum(-1)  # [B, T]

    # ‖m_i − a^h_ij f^h_j‖₁ for the causal pairs (j ≤ i) only, flattened and chunked: one gathered copy
    # of f, scaled and shifted in place, then a single-pass L1 norm.
    targets, sources = torch.tril_indices(length, length, device=residual.device)
    prox = torch.empty(batch, targets.numel(), heads, device=residual.device)
    step = max(1, max_chunk_elements // (batch * heads * dim))
    for start in range(0, targets.numel(), step):
        i, j = targets[start : start + step], sources[start : start + step]
        distance = head_out[:, j]  # [B, P, H, d], a copy
        distance.mul_(weights[:, i, j].unsqueeze(-1)).sub_(whole[:, i].unsqueeze(2))
        prox[:, start : start + step] = whole_norm[:, i, None] - torch.linalg.vector_norm(distance, ord=1, dim=-1)
    prox.clamp_(min=EPSILON)
    c_attn = torch.zeros(batch, length, length, heads, device=residual.device)
    c_attn[:, targets, sources] = prox  # sources after the target are not parts
    res_prox = (whole_norm - branch.abs().sum(-1)).clamp(min=EPSILON)  # ‖m‖ − ‖m − x‖

    total = c_attn.sum(dim=(2, 3)) + res_prox
    c_attn /= total[:, :, None, None]
    c_res = res_prox / total
    # Padding sources are never parts of a real target (right padding, causal); padding targets root nothing.
    c_attn *= (valid[:, :, None] & valid[:, None, :]).unsqueeze(-1)
    return c_attn, c_res * valid


def ffn_contributions(mid: torch.Tensor, ffn_out: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Contributions of FFN_i and of the residual m_i to y_i = m_i + FFN_i.

    mid [B, T, d], ffn_out [B, T, d], valid [B, T] -> (c_ffn [B, T], c_res [B, T]), 0 on padding.
    """
    mid, ffn_out = mid.float(), ffn_out.float()
    whole_norm = (mid + ffn_out).abs().sum(-1)
    prox_ffn = (whole_norm - mid.abs().sum(-1)).clamp(min=EPSILON)
    prox_res = (whole_norm - ffn_out.abs().sum(-1)).clamp(min=EPSILON)
    total = prox_ffn + prox_res
    return prox_ffn / total * valid, prox_res / total * valid


def threshold_attention(c_attn: torch.Tensor, c_res: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero every part ≤ τ and renormalise the survivors per target position.

    c_attn [..., T, T, H], c_res [..., T]. A target whose parts all fall at or below τ keeps none
    (all zeros) rather than dividing by zero.
    """
    if tau <= 0:
        return c_attn, c_res
    c_attn = c_attn * (c_attn > tau)
    c_res = c_res * (c_res > tau)
    total = (c_attn.sum(dim=(-2, -1)) + c_res).clamp(min=torch.finfo(torch.float32).tiny)
    return c_attn / total[..., None, None], c_res / total


def threshold_ffn(
    c_ffn: torch.Tensor, c_res: torch.Tensor, tau: float, renormalisation: str = "per_position"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero the FFN and residual parts ≤ τ and renormalise the survivors.

    c_ffn, c_res [..., T] (the last axis: the positions of one prompt; padding 0).
    ``per_position`` (METHOD.md §3): divide by c_ffn[i] + c_res[i].
    ``study``: what the study's code computed. Its thresholding helper divides the blocks by
    ``c_res + c_blocks.sum(dim=tuple(range(resid_dims, block_dims)))``; for the FFN that tuple is
    empty, and an empty-tuple sum in PyTorch reduces every axis, so position i is divided by
    c_res[i] + Σ_j c_ffn[j] over all positions of the prompt (the study traced one prompt at a time).
    The parts of a position then no longer sum to 1, and FFN edges fall below τ far more often.
    """
    if tau <= 0 and renormalisation == "per_position":
        return c_ffn, c_res
    c_ffn = c_ffn * (c_ffn > tau)
    c_res = c_res * (c_res > tau)
    if renormalisation == "per_position":
        total = c_ffn + c_res
    elif renormalisation == "study":
        total = c_res + c_ffn.sum(dim=-1, keepdim=True)
    else:
        raise ValueError(f"unknown FFN renormalisation {renormalisation!r}")
    total = total.clamp(min=torch.finfo(torch.float32).tiny)
    return c_ffn / total, c_res / total
