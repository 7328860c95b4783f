"""Ablation on a Hugging Face decoder by hooks: no model copies.

An ablated head's z slice (its part of the input of the attention output projection) and an ablated FFN's
output are replaced, at every position, by a fixed value: their mean over the real token positions of a
set of prompts (``mean``), or zero (``zero``). Which components each batch row ablates comes from an
:class:`~trajectory.ablation.masks.Ablation`; the replacement is selected with ``torch.where`` on the
whole [N, T, …] output, so every configuration runs in the same batched pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from trajectory.masks import Ablation
from trajectory.models.architectures import architecture_of, decoder_layers, out_projection


@dataclass
class Replacement:
    """What ablated components output: head_z [L, H, dh], ffn [L, d]."""

    head_z: torch.Tensor
    ffn: torch.Tensor


def _modules(model: torch.nn.Module) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
    architecture = architecture_of(model)
    return [(out_projection(layer, architecture), layer.mlp) for layer in decoder_layers(model)]


@torch.no_grad()
def mean_replacement(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Replacement:
    """Each head's z slice and each FFN's output averaged over the real token positions of the prompts."""
    heads = model.config.num_attention_heads
    modules = _modules(model)
    z_means: list[torch.Tensor] = [torch.empty(0)] * len(modules)
    ffn_means: list[torch.Tensor] = [torch.empty(0)] * len(modules)
    valid = attention_mask.bool()
    handles = []
    for index, (o_proj, mlp) in enumerate(modules):

        def keep_z(module: torch.nn.Module, args: tuple[Any, ...], output: Any, index: int = index) -> None:
            z_means[index] = args[0][valid].float().mean(0).reshape(heads, -1)

        def keep_ffn(module: torch.nn.Module, args: tuple[Any, ...], output: Any, index: int = index) -> None:
            ffn_means[index] = output[valid].float().mean(0)

        handles += [o_proj.register_forward_hook(keep_z), mlp.register_forward_hook(keep_ffn)]
    try:
        model(input_ids=input_ids, attention_mask=attention_mask)
    finally:
        for handle in handles:
            handle.remove()
    return Replacement(torch.stack(z_means), torch.stack(ffn_means))


def zero_replacement(model: torch.nn.Module) -> Replacement:
    heads = model.config.num_attention_heads
    modules = _modules(model)
    o_proj = modules[0][0]
    return Replacement(
        o_proj.weight.new_zeros(len(modules), heads, o_proj.in_features // heads, dtype=torch.float32),
        o_proj.weight.new_zeros(len(modules), o_proj.out_features, dtype=torch.float32),
    )


@contextmanager
def ablated(model: torch.nn.Module, ablation: Ablation, replacement: Replacement) -> Iterator[None]:
    """Within the block, a forward of N rows replaces what ``ablation`` says in row n by ``replacement``."""
    handles = []
    heads = model.config.num_attention_heads
    for index, (o_proj, mlp) in enumerate(_modules(model)):
        head_mask = ablation.heads[:, index]  # [N, H]
        ffn_mask = ablation.ffns[:, index]  # [N]
        if bool(head_mask.any()):

            def pre(
                module: torch.nn.Module, args: tuple[Any, ...], mask: torch.Tensor = head_mask, value: torch.Tensor = replacement.head_z[index]
            ) -> tuple[torch.Tensor, ...]:
                z = args[0]
                shaped = z.view(*z.shape[:-1], heads, -1)  # [N, T, H, dh]
                where = mask.to(z.device)[:, None, :, None]
                return (torch.where(where, value.to(z.device, z.dtype), shaped).view_as(z),)

            handles.append(o_proj.register_forward_pre_hook(pre))
        if bool(ffn_mask.any()):

            def post(
                module: torch.nn.Module,
                args: tuple[Any, ...],
                output: Any,
                mask: torch.Tensor = ffn_mask,
                value: torch.Tensor = replacement.ffn[index],
            ) -> torch.Tensor:
                where = mask.to(output.device)[:, None, None]
                return torch.where(where, value.to(output.device, output.dtype), output)

            handles.append(mlp.register_forward_hook(post))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
