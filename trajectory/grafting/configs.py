"""Graft configurations (Nief et al. 2025): which positions, layers and components take the donor's weights.

Position sets: FE (the first entity: the subject's tokens), LT (the last prompt token, which predicts the
answer), FE+LT, and the complements of each, with every component of every layer and the donor's
embeddings there; component grafts at LT over layer ranges (first half, last half, last quarter) for
attention, O, FFN and O+FFN, with the recipient's embeddings. ``none`` grafts nothing (the recipient) and
``all`` everything but the unembedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajectory.errors import TrajectoryError
from trajectory.grafting.graft import COMPONENTS, Graft

POSITION_SETS = ("none", "all", "FE", "LT", "FE+LT", "not FE", "not LT", "not FE+LT")
LAYER_RANGES = ("all", "first_half", "last_half", "last_quarter")


@dataclass(frozen=True)
class GraftConfig:
    positions: str
    layers: str = "all"
    components: tuple[str, ...] = COMPONENTS
    embedding: bool = True  # the donor's embeddings at the grafted positions

    @property
    def component(self) -> str:
        """``all`` for a whole-layer graft with embeddings, else the grafted components joined by '+'."""
        return "all" if self.embedding and self.components == COMPONENTS and self.layers == "all" else "+".join(self.components)

    @property
    def name(self) -> str:
        """``FE`` (every component of every layer, and embeddings) or ``LT:o+ffn@last_quarter`` (those
        components in those layers, the recipient's embeddings)."""
        return self.positions if self.component == "all" else f"{self.positions}:{self.component}@{self.layers}"

    @classmethod
    def parse(cls, name: str) -> "GraftConfig":
        """The configuration ``name`` names (the inverse of :attr:`name`; ``all`` for the three components)."""
        positions, _, rest = name.partition(":")
        if positions not in POSITION_SETS:
            raise TrajectoryError(f"graft {name!r}: unknown position set {positions!r} (known: {', '.join(POSITION_SETS)})")
        if not rest:
            return cls(positions)
        parts, _, layers = rest.partition("@")
        components = COMPONENTS if parts == "all" else tuple(parts.split("+"))
        if not layers or layers not in LAYER_RANGES or not set(components) <= set(COMPONENTS) or len(set(components)) != len(components):
            raise TrajectoryError(
                f"graft {name!r}: write POSITIONS or POSITIONS:COMPONENTS@LAYERS, components from "
                f"{', '.join(COMPONENTS)} joined by '+', layers one of {', '.join(LAYER_RANGES)}"
            )
        return cls(positions, layers, tuple(c for c in COMPONENTS if c in components), embedding=False)


def default_configs() -> list[GraftConfig]:
    positions = [GraftConfig(p) for p in POSITION_SETS if p not in ("none", "all")]
    components = [
        GraftConfig("LT", layers, parts, embedding=False)
        for parts in (("attention",), ("o",), ("ffn",), ("o", "ffn"))
        for layers in ("first_half", "last_half", "last_quarter")
    ]
    return positions + components


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
