"""``trace()``: per-subtoken Information Flow Routes circuits of a Hugging Face causal LM.

One forward pass per chunk of prompts; each layer's contributions are computed as the layer
finishes (so only one layer's intermediates live at a time), thresholded, and the circuits of all
roots of all prompts come from reachability over layers. Accuracy (the rank of every next token)
comes out of the same forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import torch

from trajectory.errors import TrajectoryError
from trajectory.ifr.circuits import circuit_activity
from trajectory.ifr.contributions import (
    attention_contributions,
    ffn_contributions,
    parallel_contributions,
    threshold_attention,
    threshold_ffn,
    threshold_parallel,
)
from trajectory.ifr.routes import RouteEdges, route_edges
from trajectory.models.architectures import architecture_of
from trajectory.models.capture import LayerParts, capture_layers
from trajectory.prompts import next_token_ranks

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from trajectory.models.architectures import Architecture


@dataclass
class IFRResult:
    """float32 contributions and boolean activity maps, on the CPU.

    attn          [B, L, T, T, H] c_attn[l, target, source, head] (None with ``return_attn=False``)
    attn_residual [B, L, T]; ffn [B, L, T]; ffn_residual [B, L, T]
                  (a parallel block has one whole: attn, attn_residual and ffn are its parts, and
                  ffn_residual is what is not the FFN, attn summed + attn_residual)
    heads         [B, T, L, H] bool: head (l, h) active in the circuit rooted at position t
    ffns          [B, T, L] bool: FFN l active in the circuit rooted at t
    next_token_rank [B, T] int64: rank of token t+1 in the logits at t (0 = top-1; −1 at the end/padding)
    routes        the route graph of one root per prompt (trajectory.ifr.routes), when roots were given
    """

    attn: torch.Tensor | None
    attn_residual: torch.Tensor
    ffn: torch.Tensor
    ffn_residual: torch.Tensor
    heads: torch.Tensor
    ffns: torch.Tensor
    next_token_rank: torch.Tensor
    routes: RouteEdges | None = None


@dataclass(frozen=True)
class Variant:
    """What turns one forward pass's contributions into circuits: τ and the FFN renormalisation."""

    threshold: float = 0.01
    ffn_renormalisation: str = "per_position"


@torch.no_grad()
def trace(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    threshold: float = 0.01,
    ffn_renormalisation: str = "per_position",
    return_attn: bool = True,
    batch_size: int | None = None,
    max_chunk_elements: int = 1 << 26,
    decomposition_dtype: torch.dtype = torch.float32,
    route_roots: torch.Tensor | None = None,
) -> IFRResult:
    """Trace every prompt of ``input_ids`` [B, T] (right-padded; ``attention_mask`` 1 for real tokens).

    ``threshold`` is τ (0 returns the raw normalised contributions); ``ffn_renormalisation`` is
    ``per_position`` or ``llm-tt`` (:func:`~trajectory.ifr.contributions.threshold_ffn`). ``batch_size``
    prompts of similar length go through the model at a time (default: all); ``max_chunk_elements`` bounds the float32
    temporary of the attention decomposition; ``decomposition_dtype`` is float32 (METHOD.md §3; bfloat16
    only to measure what it would change); ``route_roots`` [B] a position per prompt (−1: none) whose route
    graph (edges, weights, heads) comes back as ``IFRResult.routes``. The model is left as it was (attention
    implementation, hooks, mode).
    """
    variant = Variant(threshold, ffn_renormalisation)
    return trace_variants(
        model,
        input_ids,
        attention_mask,
        [variant],
        return_attn=return_attn,
        batch_size=batch_size,
        max_chunk_elements=max_chunk_elements,
        decomposition_dtype=decomposition_dtype,
        route_roots=route_roots,
    )[variant]


def _observe(rows: torch.Tensor, on_output: Callable | None, on_parts: Callable | None, layer: int, parts: LayerParts) -> None:
    if on_output is not None:
        on_output(rows, layer, parts.output)
    if on_parts is not None:
        on_parts(rows, layer, parts)


@torch.no_grad()
def trace_variants(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    variants: list[Variant],
    *,
    return_attn: bool = True,
    batch_size: int | None = None,
    max_chunk_elements: int = 1 << 26,
    decomposition_dtype: torch.dtype = torch.float32,
    on_layer_output: Callable[[torch.Tensor, int, torch.Tensor], None] | None = None,
    on_layer_parts: Callable[[torch.Tensor, int, LayerParts], None] | None = None,
    route_roots: torch.Tensor | None = None,
) -> dict[Variant, IFRResult]:
    """:func:`trace` for several variants from one forward pass per chunk: the contributions do not
    depend on τ or the renormalisation; only the thresholding and the circuits do, done per variant.

    ``on_layer_output(rows, layer, y)``, when given, sees every chunk's residual stream after each layer
    from the same pass (rows [b]: the chunk's prompt indices; y [b, T', d] float32, T' the chunk's length):
    what the logit lens reads; ``on_layer_parts(rows, layer, parts)`` sees each layer's :class:`LayerParts` likewise
    (what the node lens and the root attention read). ``route_roots`` [B] (a position per prompt, −1 for none): also
    keep the edges of the circuit rooted there (``IFRResult.routes``), computed per chunk so that no full [B, L, T, T, H] map is kept.
    """
    architecture = architecture_of(model)
    if architecture.parallel and any(v.ffn_renormalisation != "per_position" for v in variants):
        raise TrajectoryError(
            f"ffn_renormalisation 'llm-tt' reproduces llm-transparency-tool's helper on sequential blocks; "
            f"{architecture.name} blocks are parallel (one whole): use 'per_position'"
        )
    device = next(model.parameters()).device
    input_ids = input_ids.to(device)
    attention_mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask.to(device)
    batch, length = input_ids.shape
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    batch_size = batch_size or batch
    variants = list(dict.fromkeys(variants))
    ranks = torch.full((batch, length), -1, dtype=torch.long)

    def empty() -> dict[str, torch.Tensor | None]:
        return {
            "attn": torch.zeros(batch, layers, length, length, heads) if return_attn else None,
            "attn_residual": torch.zeros(batch, layers, length),
            "ffn": torch.zeros(batch, layers, length),
            "ffn_residual": torch.zeros(batch, layers, length),
            "heads": torch.zeros(batch, length, layers, heads, dtype=torch.bool),
            "ffns": torch.zeros(batch, length, layers, dtype=torch.bool),
        }

    outs = {variant: empty() for variant in variants}
    routes: dict[Variant, list[RouteEdges]] = {variant: [] for variant in variants}
    route_rows: list[torch.Tensor] = []
    was_training = model.training
    model.eval()
    try:
        # Chunks of prompts of similar length: each chunk is trimmed to its longest prompt, and the
        # attention decomposition costs T² per prompt, so sorting by length saves most of the padding.
        by_length = torch.argsort(attention_mask.sum(1).cpu(), stable=True)
        for start in range(0, batch, batch_size):
            rows = by_length[start : start + batch_size]
            picked = rows.to(device)
            chunk_len = int(attention_mask[picked].sum(1).max())  # trim shared padding
            ids, mask = input_ids[picked, :chunk_len], attention_mask[picked, :chunk_len]
            observe = None if on_layer_output is None and on_layer_parts is None else partial(_observe, rows, on_layer_output, on_layer_parts)
            roots = None if route_roots is None else route_roots[rows].to(device)
            chunks, chunk_ranks = _trace_chunk(model, architecture, ids, mask, variants, max_chunk_elements, decomposition_dtype, observe, roots)
            route_rows.append(rows)
            t = slice(0, chunk_len)
            ranks[rows, t] = chunk_ranks.cpu()
            for variant, chunk in chunks.items():
                out = outs[variant]
                if return_attn:
                    out["attn"][rows, :, t, t] = chunk["attn"].cpu()
                for key in ("attn_residual", "ffn", "ffn_residual"):
                    out[key][rows, :, t] = chunk[key].cpu()
                out["heads"][rows, t] = chunk["heads"].cpu()
                out["ffns"][rows, t] = chunk["ffns"].cpu()
                if chunk["routes"] is not None:
                    routes[variant].append(chunk["routes"])
    finally:
        model.train(was_training)
    return {
        variant: IFRResult(**out, next_token_rank=ranks, routes=RouteEdges.concat(routes[variant], route_rows) if route_roots is not None else None)
        for variant, out in outs.items()
    }


def _trace_chunk(
    model: PreTrainedModel,
    architecture: Architecture,
    ids: torch.Tensor,
    mask: torch.Tensor,
    variants: list[Variant],
    max_chunk_elements: int,
    decomposition_dtype: torch.dtype,
    observe: Callable | None = None,
    roots: torch.Tensor | None = None,
) -> tuple[dict[Variant, dict[str, torch.Tensor | None]], torch.Tensor]:
    valid = mask.bool()
    per_layer: list[tuple[torch.Tensor, ...]] = []

    def threshold(
        variant: Variant, c_attn: torch.Tensor, c_res: torch.Tensor, c_ffn: torch.Tensor, c_ffn_res: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        # A parallel block's raw parts are (c_attn, c_res, c_ffn); its ffn_residual comes from the thresholded ones.
        if architecture.parallel:
            c_attn, c_res, c_ffn = threshold_parallel(c_attn, c_res, c_ffn, variant.threshold)
            return c_attn, c_res, c_ffn, c_attn.sum((-2, -1)) + c_res
        return (
            *threshold_attention(c_attn, c_res, variant.threshold),
            *threshold_ffn(c_ffn, c_ffn_res, variant.threshold, variant.ffn_renormalisation),
        )

    def on_layer(index: int, parts: LayerParts) -> None:
        if observe is not None:
            observe(index, parts)
        # The output bias, if any, joins the residual part.
        residual = parts.residual if parts.attn_bias is None else parts.residual + parts.attn_bias
        if architecture.parallel:
            raw = parallel_contributions(
                residual, parts.pattern, parts.head_out, parts.ffn_branch, valid, max_chunk_elements=max_chunk_elements, dtype=decomposition_dtype
            )
        else:
            raw = (
                *attention_contributions(
                    residual, parts.pattern, parts.head_out, valid, max_chunk_elements=max_chunk_elements, dtype=decomposition_dtype
                ),
                *ffn_contributions(parts.residual + parts.attn_branch, parts.ffn_branch, valid),
            )
        finite.append(torch.stack([torch.isfinite(part).all() for part in raw]).all())  # on the device: no sync per layer
        # With one variant, threshold now: only the thresholded copy of this layer stays alive.
        per_layer.append(threshold(variants[0], *raw) if len(variants) == 1 else raw)

    finite: list[torch.Tensor] = []
    with capture_layers(model, architecture, on_layer):
        logits = model(input_ids=ids, attention_mask=mask).logits
    check_finite(logits, valid, torch.stack(finite))
    raw = [torch.stack(x, dim=1) for x in zip(*per_layer)]  # [B, L, ...] each
    per_layer.clear()  # the per-layer copies go now (a del would leave on_layer a dangling name)
    chunks = {}
    for variant in variants:
        attn, attn_res, ffn, ffn_res = raw if len(variants) == 1 else threshold(variant, *raw)
        heads, ffns = circuit_activity(attn, attn_res, ffn, ffn_res, valid, variant.threshold, parallel=architecture.parallel)
        routes = None if roots is None else route_edges(attn, attn_res, ffn, ffn_res, roots, variant.threshold, architecture.parallel)
        chunks[variant] = {
            "attn": attn,
            "attn_residual": attn_res,
            "ffn": ffn,
            "ffn_residual": ffn_res,
            "heads": heads,
            "ffns": ffns,
            "routes": routes,
        }
    ranks = next_token_ranks(logits, ids)
    # The last real token has no next token: mark it (and padding) −1.
    has_next = torch.zeros_like(valid)
    has_next[:, :-1] = valid[:, 1:]
    ranks = torch.where(has_next, ranks, torch.full_like(ranks, -1))
    return chunks, ranks


def check_finite(logits: torch.Tensor, valid: torch.Tensor, finite_layers: torch.Tensor) -> None:
    """Refuse NaN or inf in the logits [B, T, V] at real tokens (``valid`` [B, T]) or in any layer's
    contributions (``finite_layers`` [L] bool): a broken or overflowing model must not be stored as a circuit."""
    bad_prompts = int((~torch.isfinite(logits).all(-1) & valid).any(-1).sum())
    if bad_prompts:
        raise TrajectoryError(f"non-finite logits (NaN or inf) for {bad_prompts} of {len(logits)} prompts")
    bad_layers = (~finite_layers).nonzero().flatten().tolist()
    if bad_layers:
        raise TrajectoryError(f"non-finite contributions (NaN or inf) at layer(s) {', '.join(map(str, bad_layers))}")
