"""Which components a configuration replaces: boolean masks over heads and FFNs, shared by the measures that
ablate (trajectory.ablation, trajectory.topk, the component-effects stage). Ground floor: tensors only.

A configuration is one row of ``heads`` [N, L, H] and ``ffns`` [N, L] (True = ablated). Configurations run
along the batch: row n of a batch is one (prompt, configuration) pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Ablation:
    """heads [N, L, H] bool, ffns [N, L] bool: True where the component is ablated in row n."""

    heads: torch.Tensor
    ffns: torch.Tensor

    def __len__(self) -> int:
        return self.heads.shape[0]
