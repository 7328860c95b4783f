"""Causal ground truth for circuits and roles (METHOD.md §9): every head's and FFN's single-component effect
on R, exhaustively (one ablated configuration per component, all batched) or by attribution patching (one
forward and one backward pass). Pure tensors and one model pass; the stage lives in trajectory.pipeline."""

from trajectory.effects.atp import attribution_patching
from trajectory.effects.single import component_layout, single_component_masks

__all__ = ["attribution_patching", "component_layout", "single_component_masks"]
