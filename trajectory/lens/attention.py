"""Where each head looks from the token that predicts a fact's answer (the component page shows it per head, as
llm-transparency-tool shows a head's attention at a chosen token): pure tensors in, tensors out.

For prompt b with root position r_b (its route graph's root: the token predicting the first answer token), head h of
layer l: its attention weights from r_b over positions 0..r_b, read from the IFR pass (no second forward).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import torch

from trajectory.models.capture import LayerParts


@dataclass
class RootAttention:
    """roots [B] positions; weights [B, L, H, T] (0 beyond each root)."""

    roots: torch.Tensor
    weights: torch.Tensor

    @classmethod
    def of(cls, roots: torch.Tensor, n_layers: int, n_heads: int, length: int) -> RootAttention:
        return cls(roots, torch.zeros(len(roots), n_layers, n_heads, length))

    def observe(self, rows: torch.Tensor, layer: int, parts: LayerParts) -> None:
        """One chunk's layer: rows [b] (the chunk's prompt indices); parts.attention [b, H, T', T']."""
        roots = self.roots[rows].to(parts.attention.device)
        picked = parts.attention[torch.arange(len(rows), device=roots.device), :, roots]  # [b, H, T']
        self.weights[rows, layer, :, : picked.shape[-1]] = picked.cpu()


def root_attention_frame(attention: RootAttention, fact_ids: np.ndarray) -> pl.DataFrame:
    """Table ``root_attention`` (without its keys): one row per (fact, layer, head), the weights over 0..root."""
    n, layers, heads, _ = attention.weights.shape
    fact = np.repeat(fact_ids.astype(np.int32), layers * heads)
    layer = np.tile(np.repeat(np.arange(layers, dtype=np.int16), heads), n)
    head = np.tile(np.arange(heads, dtype=np.int16), n * layers)
    lengths = np.repeat(attention.roots.numpy() + 1, layers * heads)
    flat = attention.weights.reshape(n * layers * heads, -1).numpy().astype(np.float32)
    keep = np.arange(flat.shape[1])[None, :] < lengths[:, None]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)  # each row's weights, as one Arrow list column
    weights = pl.from_arrow(pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat[keep])))
    return pl.DataFrame({"fact_id": fact, "layer": layer, "head": head, "weights": weights})
