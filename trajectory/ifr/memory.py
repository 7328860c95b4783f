"""How many prompts to trace at once, and how large a piece of a diagonal, for a memory budget.

A chunk of b prompts of length T (L layers, H heads, width d, FFN width I, vocabulary V) holds, in float32:
every layer's contributions until the circuits are built, then their stacked copy (2·L·b·T²·H), what the
capture keeps of each layer (L·b·T·(H·d/4 + 2·d + I/2)), the layer's head outputs twice (as computed and
position-major, 2·b·T·H·d), the decomposition's working buffer (rows·b·H·d), the layer's dense
contributions and a temporary (2·b·T²·H), and the model's own activations, logits and the ranks'
vocabulary-sized temporaries (≈ b·T·(12·d + 2·H·T + 3·I + 3·V)). The per-layer and vocabulary terms were
fitted to the peak of live tensors measured on 40 shapes, rounded up: tests/test_ifr_memory.py checks that
the estimate bounds the measured peak on other shapes.
The plan takes the largest b (up to the batch, or the pipeline's batch size) whose estimate fits the
budget with the buffer at a quarter of it; the budget is 80 % of the free memory of a CUDA device, or
half of the available memory on the CPU, unless given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PretrainedConfig

FLOAT = 4


@dataclass(frozen=True)
class TraceShape:
    """What of a model's size the trace's memory depends on."""

    layers: int
    heads: int
    width: int  # d, the residual stream
    intermediate: int  # I, the FFN's hidden width
    vocab: int  # V

    @classmethod
    def of(cls, config: PretrainedConfig) -> TraceShape:
        return cls(config.num_hidden_layers, config.num_attention_heads, config.hidden_size, config.intermediate_size, config.vocab_size)


@dataclass(frozen=True)
class ChunkPlan:
    batch_size: int  # prompts per forward pass
    max_chunk_elements: int  # bound of the decomposition's [rows, b, H, d] buffer
    estimated_bytes: int
    budget_bytes: int

    def describe(self, n_prompts: int, length: int) -> str:
        line = (
            f"IFR: {n_prompts} prompts of up to {length} tokens, {self.batch_size} at a time "
            f"(about {self.estimated_bytes / 2**30:.2f} GiB of a {self.budget_bytes / 2**30:.1f} GiB budget)"
        )
        if self.estimated_bytes > self.budget_bytes:
            line += "; warning: over the budget even one prompt at a time (raise ifr.memory_gb or shorten the prompts)"
        return line


def chunk_bytes(b: int, length: int, shape: TraceShape, rows: int) -> int:
    """Bytes a chunk of ``b`` prompts of ``length`` tokens holds at its peak (the module's docstring)."""
    layers, heads, width, intermediate = shape.layers, shape.heads, shape.width, shape.intermediate
    kept = 2 * layers * b * length * length * heads
    per_layer = layers * b * length * (heads * width / 4 + 2 * width + intermediate / 2)
    head_outputs = 2 * b * length * heads * width
    buffer = rows * b * heads * width
    dense = 2 * b * length * length * heads
    model = b * length * (12 * width + 2 * heads * length + 3 * intermediate + 3 * shape.vocab)
    return int(FLOAT * (kept + per_layer + head_outputs + buffer + dense + model))


def memory_budget(device: str, cap_gb: float | None = None) -> int:
    """Bytes the trace may use: ``cap_gb`` if given, else 80 % of a CUDA device's free memory, else half
    of the machine's available memory."""
    if cap_gb is not None:
        return int(cap_gb * 2**30)
    if str(device).startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(0.8 * free)
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # no sysconf figures: assume 8 GiB available
        available = 8 * 2**30
    return int(0.5 * available)


def plan_chunks(n_prompts: int, length: int, shape: TraceShape, budget: int, max_batch: int | None = None) -> ChunkPlan:
    """The largest batch (≤ max_batch, ≤ n_prompts) whose estimate fits ``budget``; at least 1."""

    def rows(b: int) -> int:  # diagonal rows whose buffer takes a quarter of the budget
        return max(1, min(length, (budget // 4) // (FLOAT * b * shape.heads * shape.width)))

    limit = min(n_prompts, max_batch or n_prompts)
    best = next((b for b in range(limit, 0, -1) if chunk_bytes(b, length, shape, rows(b)) <= budget), 1)
    return ChunkPlan(best, rows(best) * best * shape.heads * shape.width, chunk_bytes(best, length, shape, rows(best)), budget)
