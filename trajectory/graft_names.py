"""The names of graft configurations (Nief et al. 2025; trajectory.grafting): which positions, layers and
components take the donor's weights, parsed and written canonically. Apart from the grafting room (no torch) so
that the pipeline's config checks the names it is given without importing a measure."""

from __future__ import annotations

from dataclasses import dataclass

from trajectory.errors import TrajectoryError

COMPONENTS = ("attention", "o", "ffn")
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
