"""The trace's memory plan: the largest batch whose estimate fits, the estimate counted term by term,
and a plan that changes nothing but speed (the traced maps are the same for any batch)."""

from __future__ import annotations

import torch
from test_ifr_models import tiny

from trajectory.ifr import trace
from trajectory.ifr.memory import FLOAT, chunk_bytes, plan_chunks


def test_estimate_counts_every_buffer():
    b, t, layers, heads, width, rows = 3, 10, 2, 4, 16, 5
    expected = FLOAT * (
        layers * b * t * t * heads
        + 2 * b * t * heads * width
        + rows * b * heads * width
        + 2 * b * t * t * heads
        + b * t * (12 * width + 2 * heads * t)
    )
    assert chunk_bytes(b, t, layers, heads, width, rows) == expected


def test_plan_takes_the_largest_batch_that_fits():
    budget = chunk_bytes(7, 64, 4, 8, 256, 64) + 1
    plan = plan_chunks(100, 64, 4, 8, 256, budget)
    assert plan.estimated_bytes <= budget
    assert chunk_bytes(plan.batch_size + 1, 64, 4, 8, 256, 64) > budget
    assert plan_chunks(100, 64, 4, 8, 256, budget, max_batch=3).batch_size == 3
    tiny = plan_chunks(100, 64, 4, 8, 256, 1000)
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
