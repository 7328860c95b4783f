"""The route graph of one root per prompt (METHOD.md §3): the edges of the circuit, with their weights and the
heads on each attention edge, as llm-transparency-tool draws a prompt's graph.

The same walk down the layers as :func:`~trajectory.ifr.circuits.circuit_activity`, for one root position per
prompt instead of every position, keeping the edges it crosses. One batched step per layer; no loop over
tokens, heads or edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Edge kinds: I_{l−1,j} → A_{l,i} (attention, with the residual when j = i); A_{l,i} → M_{l,i} → I_{l,i} (the FFN);
# A_{l,i} → I_{l,i} (the FFN's residual). Parallel blocks (GPT-NeoX, no A node) have their own kinds:
# I_{l−1,j} → I_{l,i} (block_attention) and I_{l−1,i} → M → I_{l,i} (block_ffn).
EDGE_KINDS = ("attention", "ffn", "ffn_residual")
PARALLEL_EDGE_KINDS = ("block_attention", "block_ffn", "ffn_residual")


@dataclass
class RouteEdges:
    """The edges of each prompt's route graph, flat (E edges, P head parts), on the CPU.

    prompt, layer, kind (index into EDGE_KINDS), source, target [E] int64: source and target are token
    positions (an attention edge reads position ``source`` of layer − 1 into position ``target``; FFN edges have
    source = target); weight [E] float32: the edge's thresholded contribution (attention: Σ_h c_attn, plus the
    residual when source = target); residual [E] float32: that residual part (0 elsewhere).
    part_edge [P] int64 (index into the E edges), part_head [P] int64, part_weight [P] float32: the heads with a
    surviving part on each attention edge and their contributions.
    """

    prompt: torch.Tensor
    layer: torch.Tensor
    kind: torch.Tensor
    source: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor
    residual: torch.Tensor
    part_edge: torch.Tensor
    part_head: torch.Tensor
    part_weight: torch.Tensor
    parallel: bool = False  # kind indexes PARALLEL_EDGE_KINDS

    @property
    def kind_names(self) -> tuple[str, ...]:
        return PARALLEL_EDGE_KINDS if self.parallel else EDGE_KINDS

    @staticmethod
    def concat(pieces: list[RouteEdges], prompt_of: list[torch.Tensor]) -> RouteEdges:
        """Chunks' edges as one: ``prompt_of[k]`` maps chunk k's prompt indices to the whole batch's."""
        offsets = torch.tensor([0] + [len(p.prompt) for p in pieces]).cumsum(0)
        fields = {}
        for name in ("layer", "kind", "source", "target", "weight", "residual", "part_head", "part_weight"):
            fields[name] = torch.cat([getattr(p, name) for p in pieces])
        fields["prompt"] = torch.cat([rows[p.prompt] for p, rows in zip(pieces, prompt_of)])
        fields["part_edge"] = torch.cat([p.part_edge + offsets[k] for k, p in enumerate(pieces)])
        return RouteEdges(**fields, parallel=any(p.parallel for p in pieces))


def route_edges(
    attn: torch.Tensor,
    attn_residual: torch.Tensor,
    ffn: torch.Tensor,
    ffn_residual: torch.Tensor,
    roots: torch.Tensor,
    tau: float,
    parallel: bool = False,
) -> RouteEdges:
    """The edges of the circuit rooted at ``roots`` [B] (a position per prompt; −1: none).

    attn [B, L, T, T, H] (target, source, head), attn_residual, ffn, ffn_residual [B, L, T]: thresholded,
    renormalised contributions, as :func:`~trajectory.ifr.circuits.circuit_activity` takes them. An edge
    belongs to the graph when its weight is above τ and its head end is reached from the root.
    """
    batch, layers, length, _, heads = attn.shape
    reach = torch.zeros(batch, length, dtype=torch.bool, device=attn.device)  # I_{L−1,i} reachable
    has_root = roots >= 0
    reach[has_root.nonzero().flatten(), roots[has_root]] = True
    eye = torch.eye(length, dtype=torch.bool, device=attn.device)
    attn_edges, ffn_edges, residual_edges = [], [], []
    for layer in range(layers - 1, -1, -1):
        through_ffn = ffn[:, layer] > tau  # [B, T]
        ffn_edges.append(reach & through_ffn)
        if parallel:
            residual_edges.append(torch.zeros_like(reach))
            reach_attn = reach
        else:
            through_residual = ffn_residual[:, layer] > tau
            residual_edges.append(reach & through_residual)
            reach_attn = reach & (through_ffn | through_residual)  # A_{l,i} reachable
        weight = attn[:, layer].sum(-1) + eye * attn_residual[:, layer].unsqueeze(-1)  # [B, T(i), T(j)]
        edge = reach_attn.unsqueeze(-1) & (weight > tau)
        attn_edges.append(edge)
        reach = edge.any(1)
        if parallel:  # through the FFN to the layer input at the same position
            reach |= ffn_edges[-1]
    # Back to layer order, then the flat rows.
    attn_edges, ffn_edges, residual_edges = (torch.stack(x[::-1], 1) for x in (attn_edges, ffn_edges, residual_edges))
    b, l, i, j = attn_edges.nonzero(as_tuple=True)
    weight = attn[b, l, i, j].sum(-1) + (i == j) * attn_residual[b, l, i]
    residual = (i == j) * attn_residual[b, l, i]
    fb, fl, fi = ffn_edges.nonzero(as_tuple=True)
    rb, rl, ri = residual_edges.nonzero(as_tuple=True)
    parts = attn[b, l, i, j] > 0  # [E_attn, H]
    part_edge, part_head = parts.nonzero(as_tuple=True)
    kind = torch.cat([torch.full_like(b, 0), torch.full_like(fb, 1), torch.full_like(rb, 2)])
    return RouteEdges(
        prompt=torch.cat([b, fb, rb]).cpu(),
        layer=torch.cat([l, fl, rl]).cpu(),
        kind=kind.cpu(),
        source=torch.cat([j, fi, ri]).cpu(),
        target=torch.cat([i, fi, ri]).cpu(),
        weight=torch.cat([weight, ffn[fb, fl, fi], ffn_residual[rb, rl, ri]]).float().cpu(),
        residual=torch.cat([residual, torch.zeros_like(ffn[fb, fl, fi]), torch.zeros_like(ffn_residual[rb, rl, ri])]).float().cpu(),
        part_edge=part_edge.cpu(),
        part_head=part_head.cpu(),
        part_weight=attn[b[part_edge], l[part_edge], i[part_edge], j[part_edge], part_head].float().cpu(),
        parallel=parallel,
    )
