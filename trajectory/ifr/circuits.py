"""Per-subtoken circuits by reachability over layers (METHOD.md §3), for all roots at once.

Walking down from I_{L−1,t}, the reachable positions of layer l−1 are a boolean matrix product of
the reachable A-nodes of layer l with that layer's attention edges. No graph library, no loops over
tokens, heads or edges: one batched product per layer.
"""

from __future__ import annotations

import torch


def circuit_activity(
    attn: torch.Tensor,
    attn_residual: torch.Tensor,
    ffn: torch.Tensor,
    ffn_residual: torch.Tensor,
    valid: torch.Tensor,
    tau: float,
    parallel: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Active heads and FFNs of the circuit rooted at every position.

    attn [B, L, T, T, H] (target, source, head), attn_residual [B, L, T], ffn [B, L, T],
    ffn_residual [B, L, T]: thresholded, renormalised contributions. valid [B, T] bool.
    Returns heads [B, T(root), L, H] bool and ffns [B, T(root), L] bool; padding roots are all False.

    Edges (weight > τ): I_{l−1,j} → A_{l,i} with Σ_h c_attn (+ c_res_attn when j = i);
    A_{l,i} → M_{l,i} → I_{l,i} with c_ffn; A_{l,i} → I_{l,i} with c_res_ffn.
    Head (l, h) is active when an attention edge of the circuit has c_attn[l, i, j, h] > 0;
    FFN l is active when some M_{l,i} lies on the circuit.

    ``parallel`` (GPT-NeoX blocks, :func:`~trajectory.ifr.contributions.parallel_contributions`): the
    block has one whole, so there is no A node; the edges are I_{l−1,j} → I_{l,i} with Σ_h c_attn
    (+ c_res when j = i) and I_{l−1,i} → M_{l,i} → I_{l,i} with c_ffn: the FFN reads the layer input.
    ``ffn_residual`` is then unused.
    """
    batch, layers, length, _, heads = attn.shape
    reach = torch.diag_embed(valid.float())  # [B, R, T]: I_{L−1, i} reachable from root r
    heads_active = torch.zeros(batch, length, layers, heads, dtype=torch.bool, device=attn.device)
    ffns_active = torch.zeros(batch, length, layers, dtype=torch.bool, device=attn.device)
    eye = torch.eye(length, device=attn.device)
    for layer in range(layers - 1, -1, -1):
        ffn_edge = (ffn[:, layer] > tau).float()  # [B, T]
        ffns_active[:, :, layer] = (reach @ ffn_edge.unsqueeze(-1)).squeeze(-1) > 0
        if parallel:
            reach_attn = reach  # the attention parts hang off I_{l,i} itself
        else:
            through = torch.maximum(ffn_edge, (ffn_residual[:, layer] > tau).float())
            reach_attn = reach * through.unsqueeze(1)  # A_{l,i} reachable
        weight = attn[:, layer].sum(-1) + eye * attn_residual[:, layer].unsqueeze(-1)  # [B, T(i), T(j)]
        edge = (weight > tau).float()
        # Heads with a surviving part on a surviving edge, per target: [B, T(i), H].
        head_on_edge = torch.einsum("bij,bijh->bih", edge, (attn[:, layer] > 0).float())
        heads_active[:, :, layer] = (reach_attn @ head_on_edge) > 0
        reach_next = (reach_attn @ edge) > 0
        if parallel:  # through the FFN straight to the layer input at the same position
            reach_next |= (reach * ffn_edge.unsqueeze(1)) > 0
        reach = reach_next.float()
    return heads_active, ffns_active
