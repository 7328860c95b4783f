"""Each component's IFR importance for one root per prompt, and the top-k masks: tensors in, tensors out.

Importance of a head or FFN: the largest product of edge weights along a path from the component's own part
down to the root (METHOD.md §3's graph, contributions normalised and not thresholded). A head's part on an
attention edge I_{l−1,j} → A_{l,i} is c_attn[l, i, j, h]; the FFN's, on A_{l,i} → I_{l,i}, is c_ffn[l, i]
(the graph's two FFN edges are one step here). So no τ is chosen: every component gets a rank.
"""

from __future__ import annotations

import torch

from trajectory.masks import Ablation


def component_importance(
    attn: torch.Tensor,
    attn_residual: torch.Tensor,
    ffn: torch.Tensor,
    ffn_residual: torch.Tensor,
    roots: torch.Tensor,
    parallel: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """attn [B, L, T, T, H] (target, source, head), attn_residual, ffn, ffn_residual [B, L, T]: normalised
    contributions (τ = 0); roots [B]: the position whose output is explained (the last prompt token).

    Returns heads [B, L, H] and ffns [B, L]: the best path weight from each component to its prompt's root.
    One max-product step per layer, top down (parallel blocks: the FFN reads I_{l−1,i}, no A node).
    """
    batch, layers, length, _, heads = attn.shape
    down = torch.zeros(batch, length, dtype=attn.dtype, device=attn.device)  # best weight from I_{l,i} to the root
    down[torch.arange(batch), roots] = 1.0
    eye = torch.eye(length, dtype=attn.dtype, device=attn.device)
    head_importance = torch.zeros(batch, layers, heads, dtype=attn.dtype, device=attn.device)
    ffn_importance = torch.zeros(batch, layers, dtype=attn.dtype, device=attn.device)
    for layer in range(layers - 1, -1, -1):
        ffn_importance[:, layer] = (ffn[:, layer] * down).amax(-1)
        # The attention edges end at A_{l,i} (sequential) or I_{l,i} (parallel): the best weight from there.
        into = down if parallel else torch.maximum(ffn[:, layer], ffn_residual[:, layer]) * down  # [B, T(i)]
        head_importance[:, layer] = (attn[:, layer] * into[:, :, None, None]).amax(dim=(1, 2))
        weight = attn[:, layer].sum(-1) + eye * attn_residual[:, layer].unsqueeze(-1)  # [B, T(i), T(j)]
        below = (weight * into.unsqueeze(-1)).amax(1)  # [B, T(j)]: I_{l−1,j}
        if parallel:  # and through the FFN, which reads the same position of the layer below
            below = torch.maximum(below, ffn[:, layer] * down)
        down = below
    return head_importance, ffn_importance


def k_grid(n_components: int) -> list[int]:
    """0, 1, 2, 4, … (powers of two below C) and C: where the top-k curve is measured."""
    grid = [0] + [2**p for p in range(n_components.bit_length()) if 2**p < n_components] + [n_components]
    return sorted(set(grid))


def topk_ablations(head_importance: torch.Tensor, ffn_importance: torch.Tensor, grid: list[int]) -> Ablation:
    """Per prompt and k of ``grid``, every component outside the k most important ablated (ties: heads before
    FFNs, lower layers first). head_importance [B, L, H], ffn_importance [B, L] -> Ablation of B·len(grid)
    rows (row b·len(grid) + g)."""
    batch, layers, heads = head_importance.shape
    scores = torch.cat([head_importance.flatten(1), ffn_importance], dim=1)  # [B, C]: heads then FFNs
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(scores.shape[1], device=scores.device).expand_as(order))  # each component's place
    k = torch.tensor(grid, device=scores.device)
    kept = rank[:, None, :] < k[None, :, None]  # [B, G, C]
    ablated = ~kept.flatten(0, 1)
    return Ablation(ablated[:, : layers * heads].reshape(-1, layers, heads), ablated[:, layers * heads :])
