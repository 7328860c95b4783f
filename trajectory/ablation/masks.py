"""The ablation stage's configurations: pure tensors in, boolean masks (trajectory.masks.Ablation) out."""

from __future__ import annotations

import torch

from trajectory.masks import Ablation

FACT_TARGETS = ("clean", "circuit_only", "complement", "none")


def fact_ablations(circuit_heads: torch.Tensor, circuit_ffns: torch.Tensor) -> Ablation:
    """The four per-fact configurations of :data:`FACT_TARGETS`, for F facts: rows f·4 + k.

    circuit_heads [F, L, H], circuit_ffns [F, L] bool: the components in any of the fact's circuits.
    clean ablates nothing; circuit_only everything outside the circuit; complement the circuit only; none
    everything. Returns an Ablation of 4F rows.
    """
    nothing_h, nothing_f = torch.zeros_like(circuit_heads), torch.zeros_like(circuit_ffns)
    heads = torch.stack([nothing_h, ~circuit_heads, circuit_heads, ~nothing_h], dim=1)  # [F, 4, L, H]
    ffns = torch.stack([nothing_f, ~circuit_ffns, circuit_ffns, ~nothing_f], dim=1)
    return Ablation(heads.flatten(0, 1), ffns.flatten(0, 1))


def random_like(heads: torch.Tensor, ffns: torch.Tensor, draws: int, generator: torch.Generator) -> Ablation:
    """Controls for R component sets: per set and draw, as many heads (FFNs) as the set has, drawn uniformly
    without replacement from the heads (FFNs) outside the set. heads [R, L, H], ffns [R, L] bool ->
    Ablation of R·draws rows (row r·draws + d). A set with more components than lie outside it gets all of those."""

    def draw(members: torch.Tensor) -> torch.Tensor:
        flat = members.flatten(1)  # [R, C]
        keys = torch.rand(flat.shape[0], draws, flat.shape[1], generator=generator)
        keys = keys.masked_fill(flat[:, None, :], float("inf"))  # members are never drawn
        order = keys.argsort(-1).argsort(-1)  # each component's place in its draw's random order
        wanted = flat.sum(1)[:, None, None]
        picked = (order < wanted) & ~flat[:, None, :]
        return picked.reshape(-1, *members.shape[1:])

    return Ablation(draw(heads), draw(ffns))
