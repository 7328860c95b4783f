"""``trace()``: per-subtoken Information Flow Routes circuits of a Hugging Face causal LM.

One forward pass per chunk of prompts; each layer's contributions are computed as the layer
finishes (so only one layer's intermediates live at a time), thresholded, and the circuits of all
roots of all prompts come from reachability over layers. Accuracy (the rank of every next token)
comes out of the same forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajectory.ifr.circuits import circuit_activity
from trajectory.ifr.contributions import attention_contributions, ffn_contributions, threshold_attention, threshold_ffn
from trajectory.models.architectures import architecture_of
from trajectory.models.capture import LayerParts, capture_layers
from trajectory.prompts import next_token_ranks


@dataclass
class IFRResult:
    """float32 contributions and boolean activity maps, on the CPU.

    attn          [B, L, T, T, H] c_attn[l, target, source, head] (None with ``return_attn=False``)
    attn_residual [B, L, T]; ffn [B, L, T]; ffn_residual [B, L, T]
    heads         [B, T, L, H] bool: head (l, h) active in the circuit rooted at position t
    ffns          [B, T, L] bool: FFN l active in the circuit rooted at t
    next_token_rank [B, T] int64: rank of token t+1 in the logits at t (0 = top-1; −1 at the end/padding)
    """

    attn: torch.Tensor | None
    attn_residual: torch.Tensor
    ffn: torch.Tensor
    ffn_residual: torch.Tensor
    heads: torch.Tensor
    ffns: torch.Tensor
    next_token_rank: torch.Tensor


@torch.no_grad()
def trace(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    threshold: float = 0.01,
    return_attn: bool = True,
    batch_size: int | None = None,
    max_chunk_elements: int = 1 << 26,
) -> IFRResult:
    """Trace every prompt of ``input_ids`` [B, T] (right-padded; ``attention_mask`` 1 for real tokens).

    ``threshold`` is τ (0 returns the raw normalised contributions). ``batch_size`` prompts go through
    the model at a time (default: all); ``max_chunk_elements`` bounds the float32 temporary of the
    attention decomposition. The model is left as it was (attention implementation, hooks, mode).
    """
    architecture = architecture_of(model)
    device = next(model.parameters()).device
    input_ids = input_ids.to(device)
    attention_mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask.to(device)
    batch, length = input_ids.shape
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    batch_size = batch_size or batch

    out = {
        "attn": torch.zeros(batch, layers, length, length, heads) if return_attn else None,
        "attn_residual": torch.zeros(batch, layers, length),
        "ffn": torch.zeros(batch, layers, length),
        "ffn_residual": torch.zeros(batch, layers, length),
        "heads": torch.zeros(batch, length, layers, heads, dtype=torch.bool),
        "ffns": torch.zeros(batch, length, layers, dtype=torch.bool),
        "next_token_rank": torch.full((batch, length), -1, dtype=torch.long),
    }
    was_training = model.training
    model.eval()
    try:
        for start in range(0, batch, batch_size):
            rows = slice(start, min(start + batch_size, batch))
            chunk_len = int(attention_mask[rows].sum(1).max())  # trim shared padding
            ids, mask = input_ids[rows, :chunk_len], attention_mask[rows, :chunk_len]
            chunk = _trace_chunk(model, architecture, ids, mask, threshold, max_chunk_elements)
            t = slice(0, chunk_len)
            if return_attn:
                out["attn"][rows, :, t, t] = chunk["attn"].cpu()
            for key in ("attn_residual", "ffn", "ffn_residual"):
                out[key][rows, :, t] = chunk[key].cpu()
            out["heads"][rows, t] = chunk["heads"].cpu()
            out["ffns"][rows, t] = chunk["ffns"].cpu()
            out["next_token_rank"][rows, t] = chunk["next_token_rank"].cpu()
    finally:
        model.train(was_training)
    return IFRResult(**out)


def _trace_chunk(model, architecture, ids, mask, tau, max_chunk_elements) -> dict[str, torch.Tensor]:
    valid = mask.bool()
    per_layer: list[tuple[torch.Tensor, ...]] = []

    def on_layer(index: int, parts: LayerParts) -> None:
        c_attn, c_res = attention_contributions(
            parts.residual, parts.pattern, parts.head_out, valid, max_chunk_elements=max_chunk_elements
        )
        c_ffn, c_ffn_res = ffn_contributions(parts.residual + parts.attn_branch, parts.ffn_branch, valid)
        per_layer.append((*threshold_attention(c_attn, c_res, tau), *threshold_ffn(c_ffn, c_ffn_res, tau)))

    with capture_layers(model, architecture, on_layer):
        logits = model(input_ids=ids, attention_mask=mask).logits
    attn, attn_res, ffn, ffn_res = (torch.stack(x, dim=1) for x in zip(*per_layer))
    heads, ffns = circuit_activity(attn, attn_res, ffn, ffn_res, valid, tau)
    ranks = next_token_ranks(logits, ids)
    # The last real token has no next token: mark it (and padding) −1.
    has_next = torch.zeros_like(valid)
    has_next[:, :-1] = valid[:, 1:]
    ranks = torch.where(has_next, ranks, torch.full_like(ranks, -1))
    return {"attn": attn, "attn_residual": attn_res, "ffn": ffn, "ffn_residual": ffn_res, "heads": heads, "ffns": ffns, "next_token_rank": ranks}
