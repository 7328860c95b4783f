"""Proximity contributions of Information Flow Routes (METHOD.md §3): pure tensors in, tensors out.

For parts z_k summing to a whole w: prox_k = max(ε, ‖w‖₁ − ‖w − z_k‖₁), c_k = prox_k / Σ prox.
A sequential block (OLMo, Llama) has two wholes, m_i = x_i + attention and y_i = m_i + FFN_i; a parallel
block (GPT-NeoX) has one, y_i = x_i + attention + FFN_i (:func:`parallel_contributions`).
Everything here is float32 and vectorised; the only loop is over diagonal offsets i − j (and chunks
of a diagonal's rows), which bounds the [rows, B, H, d] temporary (never [B, T, T, H, d]).
"""

from __future__ import annotations

import torch

EPSILON = 1e-5


def attention_contributions(
    residual: torch.Tensor,
    pattern: torch.Tensor,
    head_out: torch.Tensor,
    valid: torch.Tensor,
    *,
    max_chunk_elements: int = 1 << 26,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised contributions of every (source j ≤ i, head h) part and of the residual to m_i.

    residual  [B, T, d]  x_i, the stream entering the layer (plus any output-projection bias, which no
              source carries)
    pattern   [B, H, T, T] attention weights a^h_{ij}, already multiplied by any per-target branch
              scale (post-norm models); zero above the diagonal
    head_out  [B, T, H, d] f^h_j (times any per-dimension branch weight)
    valid     [B, T] bool, real (non-padding) positions
    Returns (c_attn [B, T, T, H] indexed [target, source, head], c_res [B, T]); rows of padding
    targets are 0. Parts and residual sum to 1 per valid target. ``dtype``: what the decomposition
    computes in (float32, METHOD.md §3; bfloat16 only to measure what it would change); returns float32.
    """
    c_attn, c_res, _ = _block_contributions(residual, pattern, head_out, None, valid, max_chunk_elements, dtype)
    return c_attn, c_res


def parallel_contributions(
    residual: torch.Tensor,
    pattern: torch.Tensor,
    head_out: torch.Tensor,
    ffn_out: torch.Tensor,
    valid: torch.Tensor,
    *,
    max_chunk_elements: int = 1 << 26,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A parallel block's contributions (GPT-NeoX): one whole y_i = x_i + Σ_{j,h} a^h_ij f^h_j + FFN_i.

    Attention and FFN both read the layer input, so neither comes first: the block has one whole, the
    layer output y_i, and three kinds of parts, the (source, head) pieces, the residual x_i (plus the
    output-projection bias) and the FFN output FFN_i, all normalised together. Arguments as
    :func:`attention_contributions`, plus ffn_out [B, T, d]. Returns (c_attn [B, T, T, H], c_res [B, T],
    c_ffn [B, T]), summing to 1 per valid target, 0 on padding.
    """
    return _block_contributions(residual, pattern, head_out, ffn_out, valid, max_chunk_elements, dtype)


def _block_contributions(
    residual: torch.Tensor,
    pattern: torch.Tensor,
    head_out: torch.Tensor,
    ffn_out: torch.Tensor | None,
    valid: torch.Tensor,
    max_chunk_elements: int,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, ...]:
    batch, length, _ = residual.shape
    heads, dim = head_out.shape[2], head_out.shape[3]
    pattern = pattern.to(dtype)
    head_out = head_out.to(dtype)
    ffn = None if ffn_out is None else ffn_out.to(dtype)
    weights = pattern.permute(0, 2, 3, 1)  # [B, T(i), T(j), H]
    branch = torch.einsum("bijh,bjhd->bid", weights, head_out)  # Σ_{j,h} a f
    whole = residual.to(dtype) + branch  # m_i (sequential), or y_i with the FFN (parallel)
    if ffn is not None:
        whole = whole + ffn
    whole_norm = whole.abs().sum(-1)  # [B, T]

    # ‖w_i − a^h_ij f^h_j‖₁ for the causal pairs, one diagonal offset δ = i − j at a time: targets δ..T−1
    # and sources 0..T−1−δ are contiguous slices of position-major copies, so nothing is gathered; rows
    # of a diagonal are chunked to bound the [rows, B, H, d] temporary, kept in one reused buffer (a
    # fresh allocation per chunk costs more than the arithmetic on CPU).
    f_by_source = head_out.transpose(0, 1).contiguous()  # [T(j), B, H, d]
    m_by_target = whole.transpose(0, 1).unsqueeze(2).contiguous()  # [T(i), B, 1, d]
    norm_by_target = whole_norm.T.unsqueeze(-1)  # [T(i), B, 1]
    rows = min(length, max(1, max_chunk_elements // (batch * heads * dim)))
    buffer = torch.empty(rows, batch, heads, dim, device=residual.device, dtype=dtype)
    c_attn = torch.zeros(batch, length, length, heads, device=residual.device, dtype=dtype)
    for offset in range(length):
        # a[b, j + δ, j, h] for j = 0..T−1−δ, as [T−δ, B, H, 1]
        diagonal = weights.diagonal(offset=-offset, dim1=1, dim2=2).permute(2, 0, 1).unsqueeze(-1)
        prox = c_attn.diagonal(offset=-offset, dim1=1, dim2=2)  # [B, H, T−δ], a view written in place
        for first in range(0, length - offset, rows):
            last = min(first + rows, length - offset)
            distance = buffer[: last - first]
            # a f − w (the sign does not matter under |·|): one fused pass, then abs in place
            torch.addcmul(-m_by_target[offset + first : offset + last], f_by_source[first:last], diagonal[first:last], out=distance)
            prox[:, :, first:last] = (norm_by_target[offset + first : offset + last] - distance.abs_().sum(-1)).permute(1, 2, 0)
    # Sources after the target are not parts (they stay 0); every causal pair gets at least ε.
    causal = torch.ones(length, length, dtype=torch.bool, device=residual.device).tril()
    c_attn.clamp_(min=EPSILON).mul_(causal[None, :, :, None])
    others = branch if ffn is None else branch + ffn  # w − x
    res_prox = (whole_norm - others.abs().sum(-1)).clamp(min=EPSILON)  # ‖w‖ − ‖w − x‖
    total = c_attn.sum(dim=(2, 3)) + res_prox
    c_ffn = None
    if ffn is not None:
        ffn_prox = (whole_norm - (whole - ffn).abs().sum(-1)).clamp(min=EPSILON)  # ‖w‖ − ‖w − FFN‖
        total = total + ffn_prox
        c_ffn = (ffn_prox / total * valid).float()
    c_attn /= total[:, :, None, None]
    c_res = res_prox / total
    # Padding sources are never parts of a real target (right padding, causal); padding targets root nothing.
    c_attn *= (valid[:, :, None] & valid[:, None, :]).unsqueeze(-1)
    return c_attn.float(), (c_res * valid).float(), c_ffn


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


def threshold_ffn(c_ffn: torch.Tensor, c_res: torch.Tensor, tau: float, renormalisation: str = "per_position") -> tuple[torch.Tensor, torch.Tensor]:
    """Zero the FFN and residual parts ≤ τ and renormalise the survivors.

    c_ffn, c_res [..., T] (the last axis: the positions of one prompt; padding 0).
    ``per_position`` (METHOD.md §3): divide by c_ffn[i] + c_res[i].
    ``llm-tt``: what llm-transparency-tool's released helper (``apply_threshold_and_renormalize``)
    computes. It divides the blocks by ``c_res + c_blocks.sum(dim=tuple(range(resid_dims, block_dims)))``;
    for the FFN that tuple is empty, and an empty-tuple sum in PyTorch reduces every axis, so position i is
    divided by c_res[i] + Σ_j c_ffn[j] over all positions of the prompt (one prompt at a time). The parts of
    a position then no longer sum to 1, and FFN edges fall below τ far more often. The study's own fork of
    the tool (adhakimi/time-course-mechinterp) guards that case (``if bound_dims > 0``) and renormalises per
    position: ``per_position``.
    """
    if tau <= 0 and renormalisation == "per_position":
        return c_ffn, c_res
    c_ffn = c_ffn * (c_ffn > tau)
    c_res = c_res * (c_res > tau)
    if renormalisation == "per_position":
        total = c_ffn + c_res
    elif renormalisation == "llm-tt":
        total = c_res + c_ffn.sum(dim=-1, keepdim=True)
    else:
        raise ValueError(f"unknown FFN renormalisation {renormalisation!r}")
    total = total.clamp(min=torch.finfo(torch.float32).tiny)
    return c_ffn / total, c_res / total


def threshold_parallel(c_attn: torch.Tensor, c_res: torch.Tensor, c_ffn: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A parallel block's parts ≤ τ zeroed and the survivors renormalised together, per target.

    c_attn [..., T, T, H], c_res [..., T], c_ffn [..., T]: one whole, so one normalisation (METHOD.md §3
    applied to the block's single whole). A target whose parts all fall at or below τ keeps none.
    """
    if tau <= 0:
        return c_attn, c_res, c_ffn
    c_attn = c_attn * (c_attn > tau)
    c_res = c_res * (c_res > tau)
    c_ffn = c_ffn * (c_ffn > tau)
    total = (c_attn.sum(dim=(-2, -1)) + c_res + c_ffn).clamp(min=torch.finfo(torch.float32).tiny)
    return c_attn / total[..., None, None], c_res / total, c_ffn / total
