"""Graft configurations (Nief et al. 2025): which positions, layers and components take the donor's weights.

Position sets: FE (the first entity: the subject's tokens), LT (the last prompt token, which predicts the
answer), FE+LT, and the complements of each, with every component of every layer and the donor's
embeddings there; component grafts at LT over layer ranges (first half, last half, last quarter) for
attention, O, FFN and O+FFN, with the recipient's embeddings. ``none`` grafts nothing (the recipient) and
``all`` everything but the unembedding.
"""

from __future__ import annotations

import torch

from trajectory.errors import TrajectoryError
from trajectory.graft_names import COMPONENTS, LAYER_RANGES, POSITION_SETS, GraftConfig
from trajectory.grafting.graft import Graft


def layer_range(name: str, n_layers: int) -> range:
    if name == "all":
        return range(n_layers)
    if name == "first_half":
        return range(n_layers // 2)
    if name == "last_half":
        return range(n_layers // 2, n_layers)
    if name == "last_quarter":
        return range(n_layers - max(1, n_layers // 4), n_layers)
    raise TrajectoryError(f"unknown layer range {name!r} (known: {', '.join(LAYER_RANGES)})")


def position_mask(positions: str, subject: torch.Tensor, last: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """[B, T] bool of the grafted positions; subject, last, valid [B, T] bool. Padding is never grafted."""
    chosen = {"none": torch.zeros_like(valid), "all": valid, "FE": subject, "LT": last, "FE+LT": subject | last}
    if positions.startswith("not "):
        return valid & ~position_mask(positions[4:], subject, last, valid)
    if positions not in chosen:
        raise TrajectoryError(f"unknown position set {positions!r} (known: {', '.join(POSITION_SETS)})")
    return chosen[positions] & valid


def build_graft(configs: list[GraftConfig], subject: torch.Tensor, last: torch.Tensor, valid: torch.Tensor, n_layers: int) -> Graft:
    """One Graft for rows ordered configuration-major (row = c · B + b) over B prompts."""
    per_config = [position_mask(c.positions, subject, last, valid) for c in configs]
    none = torch.zeros_like(valid)
    masks: dict[tuple[int, str], torch.Tensor] = {}
    for layer in range(n_layers):
        for component in COMPONENTS:
            rows = [m if layer in layer_range(c.layers, n_layers) and component in c.components else none for c, m in zip(configs, per_config)]
            masks[(layer, component)] = torch.cat(rows)
    embedding = torch.cat([m if c.embedding else none for c, m in zip(configs, per_config)])
    return Graft(masks, embedding)
