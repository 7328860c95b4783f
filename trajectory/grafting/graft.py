"""Dynamic weight grafting (Nief et al. 2025; METHOD.md §6), batched: many graft configurations in one forward.

Recipient A and donor B share an architecture. A *graft* says, per (row, token position, layer,
component), whether B's weights compute that component's output there; everything else is A's.
Components of a layer: ``attention`` (the q, k and v projections, hence the queries of grafted positions
and the keys and values that later positions attend to there), ``o`` (the output projection), ``ffn`` (the
whole MLP); ``all`` is all three. The embedding is B's at the positions a graft marks for it; the
unembedding (and the final norm) stay A's, as in the paper.

Implementation: forward hooks on A's modules compute B's output of the same input at the grafted
positions only (indices found once on the host, so no hook waits on the device) and put it in place of
A's there, so every configuration of every prompt runs as one
batched forward (configurations along the batch dimension) with no copy of either model. A module no
configuration grafts costs nothing extra. Norms with weights (OLMo-2, Llama) would have to be grafted
with their components; they are refused for now (OLMo's LayerNorm has none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from trajectory.errors import TrajectoryError
from trajectory.graft_names import COMPONENTS
from trajectory.models.architectures import decoder_layers

if TYPE_CHECKING:
    from transformers import PretrainedConfig

MODULES = {"attention": ("q_proj", "k_proj", "v_proj"), "o": ("o_proj",)}


@dataclass
class Graft:
    """Where B's weights are used, for a batch of N rows (prompt × configuration) of T positions.

    masks: (layer, component) -> [N, T] bool (absent: nowhere); embedding: [N, T] bool or None.
    """

    masks: dict[tuple[int, str], torch.Tensor]
    embedding: torch.Tensor | None = None


def _architecture(config: PretrainedConfig) -> dict:
    """A config without where it was loaded from (a run's checkpoint folders differ only in that)."""
    return {k: v for k, v in config.to_dict().items() if k not in ("_name_or_path", "transformers_version")}


def check_graftable(recipient: torch.nn.Module, donor: torch.nn.Module) -> None:
    if type(recipient) is not type(donor) or _architecture(recipient.config) != _architecture(donor.config):
        raise TrajectoryError("grafting needs two revisions of one architecture (the same config)")
    for layer in decoder_layers(recipient):
        if getattr(layer, "self_attn", None) is None or not hasattr(layer.self_attn, "q_proj"):
            raise TrajectoryError(f"grafting {type(recipient).__name__} is not implemented (it needs separate q/k/v/o projections)")
        for norm in ("input_layernorm", "post_attention_layernorm"):
            if getattr(getattr(layer, norm, None), "weight", None) is not None:
                raise TrajectoryError(f"grafting models whose norms have weights ({type(recipient).__name__}) is not implemented")


@contextmanager
def grafted(recipient: torch.nn.Module, donor: torch.nn.Module, graft: Graft) -> Iterator[None]:
    """Within the block, a forward of ``recipient`` on N rows computes with B's weights where ``graft`` says."""
    check_graftable(recipient, donor)
    handles = []

    def select(mask: torch.Tensor, compute_donor: Callable[[torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
        # Flat indices of the grafted (row, position) pairs, found once on the host: the hook then runs
        # without a host-device synchronisation (no boolean indexing, no .any() on the device).
        where = torch.nonzero(mask.reshape(-1).cpu())[:, 0]
        everywhere = len(where) == mask.numel()
        on_device: dict[torch.device, torch.Tensor] = {}

        def hook(module: torch.nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
            if everywhere:
                return compute_donor(args[0])
            if output.device not in on_device:
                on_device[output.device] = where.to(output.device)
            index = on_device[output.device]
            flat_in = args[0].reshape(-1, *args[0].shape[2:])
            flat_out = output.reshape(-1, *output.shape[2:])
            return flat_out.index_copy(0, index, compute_donor(flat_in.index_select(0, index)).to(output.dtype)).reshape(output.shape)

        return hook

    for index, (mine, theirs) in enumerate(zip(decoder_layers(recipient), decoder_layers(donor))):
        for component in COMPONENTS:
            mask = graft.masks.get((index, component))
            if mask is None or not bool(mask.any()):
                continue
            if component == "ffn":
                handles.append(mine.mlp.register_forward_hook(select(mask, theirs.mlp)))
                continue
            for name in MODULES[component]:
                donor_module = getattr(theirs.self_attn, name)
                handles.append(getattr(mine.self_attn, name).register_forward_hook(select(mask, donor_module)))
    if graft.embedding is not None and bool(graft.embedding.any()):
        handles.append(recipient.get_input_embeddings().register_forward_hook(select(graft.embedding, donor.get_input_embeddings())))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
