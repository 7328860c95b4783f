"""Taps on a Hugging Face decoder's linear maps, for the extractive scores (METHOD.md §6).

Within :func:`tap_linears`, every forward records, per layer, the input and output of the attention
projections (q, k, v, o) and the MLP projections (gate, up, down), plus the embedding output and the
final hidden state that enters the unembedding; when the forward is followed by a backward, the
gradient of every recorded output is recorded too (``grad_out``). With ``substitute``, the inputs of
q/k/v and gate/up are replaced by given tensors (the hybrid pass of the downstream score): each
module then reads what another model gave it. Nothing of the model is copied; hooks are removed on exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from trajectory.errors import TrajectoryError
from trajectory.models.architectures import decoder_layers

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
READERS = ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj")  # the modules that read a normalised residual


@dataclass
class Tap:
    """One module's recorded input [B, T, in], output [B, T, out] and (after backward) grad_out."""

    input: torch.Tensor | None = None
    output: torch.Tensor | None = None
    grad_out: torch.Tensor | None = None


@dataclass
class Taps:
    layers: list[dict[str, Tap]] = field(default_factory=list)  # per layer, module name -> Tap
    embedding: Tap = field(default_factory=Tap)  # output [B, T, d] and its gradient
    unembedding: Tap = field(default_factory=Tap)  # lm_head: input [B, T, d], output logits

    def clear(self) -> None:
        """Drop every recorded tensor. A recorded output holds a gradient hook that holds its Tap: a
        reference cycle that Python's collector frees late (hundreds of MB a pass); clearing breaks it."""
        for tap in [self.embedding, self.unembedding, *(t for layer in self.layers for t in layer.values())]:
            tap.input = tap.output = tap.grad_out = None


def linear_modules(model: torch.nn.Module) -> list[dict[str, torch.nn.Linear]]:
    """Per layer, the seven projections by name (OLMo / Llama naming)."""
    found = []
    for index, layer in enumerate(decoder_layers(model)):
        modules = {name: getattr(getattr(layer, "self_attn", None), name, None) for name in ATTENTION}
        modules |= {name: getattr(getattr(layer, "mlp", None), name, None) for name in MLP}
        missing = [name for name, module in modules.items() if module is None]
        if missing:
            raise TrajectoryError(f"{type(model).__name__} layer {index} has no {', '.join(missing)}: extractive scores need them")
        found.append(modules)
    return found


def check_supported(model: torch.nn.Module) -> None:
    """Every weight must sit in a tapped linear map or the embedding (so Σ informative = ∇R·ΔW), and
    each query head must own its key/value head (no GQA)."""
    config = model.config
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    if kv_heads != config.num_attention_heads:
        raise TrajectoryError(
            "extractive scores with grouped-query attention are not implemented (a key/value head "
            "serves several query heads); use a model with one key/value head per query head"
        )
    covered = {id(m.weight) for layer in linear_modules(model) for m in layer.values()}
    covered |= {id(model.get_input_embeddings().weight), id(model.get_output_embeddings().weight)}
    rest = [name for name, p in model.named_parameters() if id(p) not in covered]
    if rest:
        raise TrajectoryError(
            f"extractive scores cover the linear maps and embeddings only; {type(model).__name__} "
            f"also has {rest[0]} ({len(rest)} such parameters), e.g. a norm with weights"
        )
    for layer in linear_modules(model):
        if any(m.bias is not None for m in layer.values()):
            raise TrajectoryError("extractive scores of linear maps with biases are not implemented")


@contextmanager
def frozen(model: torch.nn.Module) -> Iterator[None]:
    """No parameter gradients and eval mode for the block; both restored after."""
    flags = [p.requires_grad for p in model.parameters()]
    was_training = model.training
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
        model.train(was_training)


@contextmanager
def tap_linears(model: torch.nn.Module, substitute: list[dict[str, torch.Tensor]] | None = None) -> Iterator[Taps]:
    """Record every projection's input/output (and gradient after backward); optionally substitute inputs.

    ``substitute``: per layer, module name (of :data:`READERS`) -> the input to use instead of the
    module's own [B, T, in].
    """
    taps = Taps()
    handles = []

    def keep_grad(tap: Tap, tensor: torch.Tensor) -> None:
        if tensor.requires_grad:
            tensor.register_hook(lambda grad: setattr(tap, "grad_out", grad))

    def record(tap: Tap, replacement: torch.Tensor | None) -> tuple[Callable[..., Any], Callable[..., None]]:
        def pre(module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[torch.Tensor] | None:
            if replacement is not None:
                return (replacement.to(args[0].dtype),)
            return None

        def post(module: torch.nn.Module, args: tuple[Any, ...], output: Any) -> None:
            tap.input, tap.output = args[0], output
            keep_grad(tap, output)

        return pre, post

    for index, modules in enumerate(linear_modules(model)):
        layer_taps: dict[str, Tap] = {}
        for name, module in modules.items():
            tap = layer_taps[name] = Tap()
            replacement = substitute[index].get(name) if substitute else None
            pre, post = record(tap, replacement)
            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post))
        taps.layers.append(layer_taps)

    def on_embedding(module: torch.nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and not output.requires_grad:
            # Frozen weights (no parameter gradients are kept): the graph starts here instead.
            output = output.detach().requires_grad_()
        taps.embedding.input, taps.embedding.output = args[0], output
        keep_grad(taps.embedding, output)
        return output

    handles.append(model.get_input_embeddings().register_forward_hook(on_embedding))
    handles.append(model.get_output_embeddings().register_forward_hook(record(taps.unembedding, None)[1]))
    try:
        yield taps
    finally:
        for handle in handles:
            handle.remove()
