"""Hooks on a Hugging Face decoder that hand IFR, layer by layer, what it decomposes.

The attention pattern comes from a registered attention implementation that runs the model's own
``eager_attention_forward`` and records its weights and value states (after OLMo's clamp, before GQA
repetition). Branch outputs come from forward hooks on the model's modules. Nothing is copied from
the model code, and everything is removed (and the attention implementation restored) on exit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from trajectory.models.architectures import Architecture, decoder_layers, out_projection, rms_scale

IMPLEMENTATION = "trajectory_ifr"
_RECORDERS: list["_Recorder"] = []


def head_outputs(values: torch.Tensor, o_weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Per-head value vectors through their slice of the output projection: f^h_j = v^h_j W_O^h.

    values [B, H_kv, T, dh] (after any clamp, before GQA repetition); o_weight [d, H·dh].
    Returns [B, T, H, d] float32. GQA: query head h reads key/value head h // (H / H_kv).
    """
    batch, kv_heads, length, head_dim = values.shape
    values = values.float().repeat_interleave(n_heads // kv_heads, dim=1)  # [B, H, T, dh]
    w = o_weight.float().reshape(o_weight.shape[0], n_heads, head_dim)  # [d, H, dh]
    return torch.einsum("bhtk,dhk->bthd", values, w)


@dataclass
class LayerParts:
    """One layer's decomposition inputs, in float32.

    residual [B, T, d] x; pattern [B, H, T, T] attention weights times any per-target branch scale;
    head_out [B, T, H, d] f^h_j (times any per-dimension branch weight); attn_bias [d] the output
    projection's bias (None without one), the part of the attention branch no source carries, so that
    Σ_{j,h} a f (+ attn_bias) = attn_branch; attn_branch [B, T, d] and ffn_branch [B, T, d] as added to the
    residual; output [B, T, d] y as the model computed it (x + attn + ffn, sequential or parallel); attention
    [B, H, T, T] the attention weights themselves (what a head reads from where).
    """

    residual: torch.Tensor
    pattern: torch.Tensor
    head_out: torch.Tensor
    attn_bias: torch.Tensor | None
    attn_branch: torch.Tensor
    ffn_branch: torch.Tensor
    output: torch.Tensor
    attention: torch.Tensor


class _Recorder:
    def __init__(self) -> None:
        self.current: dict[str, torch.Tensor] = {}


def _capturing_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    eager = sys.modules[type(module).__module__].eager_attention_forward
    output, weights = eager(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    if _RECORDERS:
        _RECORDERS[-1].current.update(pattern=weights, values=value)
    return output, weights


AttentionInterface.register(IMPLEMENTATION, _capturing_attention)
AttentionMaskInterface.register(IMPLEMENTATION, eager_mask)


@contextmanager
def capture_layers(model: torch.nn.Module, architecture: Architecture, on_layer: Callable[[int, LayerParts], None]) -> Iterator[None]:
    """Within the block, every forward of ``model`` calls ``on_layer(index, parts)`` after each layer."""

    recorder = _Recorder()
    handles = []
    n_heads = model.config.num_attention_heads

    for index, layer in enumerate(decoder_layers(model)):
        o_proj = out_projection(layer, architecture)
        attn_out_module = getattr(layer, architecture.attn_norm) if architecture.post_norm else o_proj
        ffn_out_module = getattr(layer, architecture.ffn_norm) if architecture.post_norm else layer.mlp

        def before(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            recorder.current = {"residual": args[0] if args else kwargs["hidden_states"]}

        def store(key: str) -> Callable[..., None]:
            def hook(module: torch.nn.Module, args: tuple[Any, ...], output: Any) -> None:
                recorder.current[key] = output[0] if isinstance(output, tuple) else output

            return hook

        def after(
            module: torch.nn.Module, args: tuple[Any, ...], output: Any, index: int = index, layer: int = layer, o_proj: torch.nn.Linear = o_proj
        ) -> None:
            c = recorder.current
            weights = pattern = c["pattern"].float()
            head_out = head_outputs(c["values"], o_proj.weight, n_heads)
            bias = o_proj.bias.detach().float() if o_proj.bias is not None else None
            if architecture.post_norm:
                norm = getattr(layer, architecture.attn_norm)
                pattern = pattern * rms_scale(c["o_proj"], norm)[:, None, :, None]
                head_out = head_out * norm.weight.float()
            y = output[0] if isinstance(output, tuple) else output
            parts = LayerParts(
                residual=c["residual"].float(),
                pattern=pattern,
                head_out=head_out,
                attn_bias=bias,
                attn_branch=c["attn_branch"].float(),
                ffn_branch=c["ffn_branch"].float(),
                output=y.float(),
                attention=weights,
            )
            recorder.current = {}
            on_layer(index, parts)

        handles.append(layer.register_forward_pre_hook(before, with_kwargs=True))
        handles.append(o_proj.register_forward_hook(store("o_proj")))
        handles.append(attn_out_module.register_forward_hook(store("attn_branch")))
        handles.append(ffn_out_module.register_forward_hook(store("ffn_branch")))
        handles.append(layer.register_forward_hook(after))

    previous = model.config._attn_implementation
    model.set_attn_implementation(IMPLEMENTATION)
    _RECORDERS.append(recorder)
    try:
        yield
    finally:
        _RECORDERS.remove(recorder)
        model.set_attn_implementation(previous)
        for handle in handles:
            handle.remove()
