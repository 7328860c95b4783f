"""Which component each single-component configuration ablates, and the components' flat order.

Components are flattened heads first (layer-major: layer l, head h at l·H + h), then FFNs (L·H + l). The
same order serves the exhaustive effects, attribution patching and the stored rows.
"""

from __future__ import annotations

import numpy as np
import torch


def single_component_masks(n_layers: int, n_heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """C = L·H + L configurations, configuration c ablating component c alone.

    Returns heads [C, L, H] and ffns [C, L] bool (True = ablated)."""
    n = n_layers * n_heads + n_layers
    eye = torch.eye(n, dtype=torch.bool)
    return eye[:, : n_layers * n_heads].reshape(n, n_layers, n_heads), eye[:, n_layers * n_heads :]


def component_layout(n_layers: int, n_heads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """kind (object), layer (int32), head (float64, NaN for FFNs) of each flat component, in C order."""
    flat = np.arange(n_layers * n_heads)
    kind = np.array(["head"] * len(flat) + ["ffn"] * n_layers, dtype=object)
    layer = np.concatenate([flat // n_heads, np.arange(n_layers)]).astype(np.int32)
    head = np.concatenate([(flat % n_heads).astype(np.float64), np.full(n_layers, np.nan)])
    return kind, layer, head
