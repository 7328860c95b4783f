"""The trace's memory plan: the largest batch whose estimate fits, the estimate counted term by term,
and a plan that changes nothing but speed (the traced maps are the same for any batch)."""

from __future__ import annotations

import weakref

import pytest
import torch
from test_ifr_models import tiny
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import OlmoConfig, OlmoForCausalLM

from trajectory.ifr import trace
from trajectory.ifr.memory import TraceShape, chunk_bytes, plan_chunks


class LiveTensors(TorchDispatchMode):
    """The peak of the bytes held by tensors created while it is on (the model's weights and the inputs not
    counted): every op's new storages counted until they are freed."""

    def __init__(self, ignore: list[torch.Tensor]):
        super().__init__()
        self.ignore = {t.untyped_storage().data_ptr() for t in ignore}
        self.live = self.peak = 0
        self.held: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else [out]:
            if not isinstance(tensor, torch.Tensor):
                continue
            storage = tensor.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
            if size and key not in self.held and key not in self.ignore:
                self.held.add(key)
                self.live += size
                self.peak = max(self.peak, self.live)
                weakref.finalize(storage, self._freed, key, size)
        return out

    def _freed(self, key, size):
        self.held.discard(key)
        self.live -= size


SHAPES = [  # (prompts, T, V, I, d, H, L): none of them among the 40 the estimate's terms were fitted on
    (2, 12, 100, 64, 32, 4, 2),
    (5, 40, 3000, 96, 64, 4, 3),
    (3, 20, 300, 1500, 96, 2, 2),
    (6, 30, 800, 256, 384, 8, 2),
    (4, 48, 200, 128, 64, 8, 6),
    (1, 90, 1500, 512, 128, 4, 4),
]


@pytest.mark.parametrize("prompts,length,vocab,intermediate,width,heads,layers", SHAPES)
def test_estimate_bounds_the_measured_peak(prompts, length, vocab, intermediate, width, heads, layers):
    """The plan relies on the estimate as an upper bound of what one chunk holds; an estimate far above it
    would trace in needlessly small chunks."""
    torch.manual_seed(0)
    config = OlmoConfig(
        vocab_size=vocab, hidden_size=width, intermediate_size=intermediate, num_hidden_layers=layers, num_attention_heads=heads, eos_token_id=None
    )
    model = OlmoForCausalLM(config).eval()
    ids = torch.randint(0, vocab, (prompts, length))
    mask = torch.ones_like(ids)
    with LiveTensors([*model.parameters(), *model.buffers(), ids, mask]) as meter:
        trace(model, ids, mask, return_attn=True, batch_size=prompts, max_chunk_elements=length * prompts * heads * width)
    estimate = chunk_bytes(prompts, length, TraceShape.of(config), length)
    assert meter.peak <= estimate <= 3 * meter.peak, (meter.peak, estimate)


def test_plan_takes_the_largest_batch_that_fits():
    shape = TraceShape(layers=4, heads=8, width=256, intermediate=768, vocab=1000)
    budget = chunk_bytes(7, 64, shape, 64) + 1
    plan = plan_chunks(100, 64, shape, budget)
    assert plan.estimated_bytes <= budget
    assert chunk_bytes(plan.batch_size + 1, 64, shape, 64) > budget
    assert plan_chunks(100, 64, shape, budget, max_batch=3).batch_size == 3
    tiny = plan_chunks(100, 64, shape, 1000)
    assert tiny.batch_size == 1 and "over the budget" in tiny.describe(100, 64)


def test_any_plan_traces_the_same_maps():
    model = tiny("llama")  # GQA: the head outputs of a plan chunk are repeated per query head
    torch.manual_seed(3)
    ids = torch.randint(0, model.config.vocab_size, (6, 9))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    mask[4, 3:] = 0
    whole = trace(model, ids, mask, return_attn=True)
    pieces = trace(model, ids, mask, return_attn=True, batch_size=2, max_chunk_elements=1)
    assert torch.equal(whole.heads, pieces.heads) and torch.equal(whole.ffns, pieces.ffns)
    assert torch.allclose(whole.attn, pieces.attn, atol=1e-6) and torch.equal(whole.next_token_rank, pieces.next_token_rank)
