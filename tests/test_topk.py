"""Threshold-free circuits: IFR importance against a literal enumeration of every path in a networkx graph, and
the top-k faithfulness curve against a literal model copy per k (test_ablation's), on tiny models."""

from __future__ import annotations

import math

import networkx as nx
import pytest
import torch
from test_ablation import H, L, literal_rewards, reward_batch
from test_ifr_models import tiny
from test_ifr_neox import tiny_neox

from trajectory.ablation.hooks import mean_replacement
from trajectory.ablation.measure import run_rows
from trajectory.ifr import trace
from trajectory.topk.importance import component_importance, k_grid, topk_ablations


def literal_importance(attn, res_a, ffn, res_f, root: int, parallel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One prompt: every simple path from a component's part to ("I", L − 1, root), its weight the product of its
    edges' weights, the best one per component (nx.all_simple_paths; the FFN is one edge of weight c_ffn)."""
    layers, n, _, heads = attn.shape
    graph = nx.MultiDiGraph()
    for l in range(layers):
        for i in range(n):
            target = ("I", l, i) if parallel else ("A", l, i)
            for j in range(i + 1):
                w = float(attn[l, i, j].sum()) + (float(res_a[l, i]) if i == j else 0.0)
                graph.add_edge(("I", l - 1, j), target, weight=w)
            if parallel:
                graph.add_edge(("I", l - 1, i), ("I", l, i), weight=float(ffn[l, i]), ffn=l)
            else:
                graph.add_edge(("A", l, i), ("I", l, i), weight=float(ffn[l, i]), ffn=l)
                graph.add_edge(("A", l, i), ("I", l, i), weight=float(res_f[l, i]))
    goal = ("I", layers - 1, root)

    def best(node) -> float:  # the best path weight from ``node`` to the root, by enumeration
        if node == goal:
            return 1.0
        weights = [
            math.prod(data["weight"] for data in path_data)
            for path in nx.all_simple_edge_paths(graph, node, goal)
            for path_data in [[graph.edges[e] for e in path]]
        ]
        return max(weights, default=0.0)

    head_imp = torch.zeros(layers, heads, dtype=torch.float64)
    ffn_imp = torch.zeros(layers, dtype=torch.float64)
    for l in range(layers):
        for i in range(n):
            after = best(("I", l, i) if parallel else ("A", l, i))
            for j in range(i + 1):
                for h in range(heads):
                    head_imp[l, h] = max(head_imp[l, h], float(attn[l, i, j, h]) * after)
            ffn_imp[l] = max(ffn_imp[l], float(ffn[l, i]) * best(("I", l, i)))
    return head_imp, ffn_imp


@pytest.mark.parametrize("make,parallel", [(lambda: tiny("olmo"), False), (lambda: tiny_neox(True), True)])
def test_importance_is_the_best_path_weight_to_the_root(make, parallel):
    model = make()
    batch = reward_batch()
    raw = trace(model, batch.input_ids, batch.attention_mask, threshold=0.0)
    heads, ffns = component_importance(raw.attn, raw.attn_residual, raw.ffn, raw.ffn_residual, batch.position, parallel)
    for b in range(batch.input_ids.shape[0]):
        n = int(batch.attention_mask[b].sum())
        want_h, want_f = literal_importance(
            raw.attn[b, :, :n, :n], raw.attn_residual[b, :, :n], raw.ffn[b, :, :n], raw.ffn_residual[b, :, :n], int(batch.position[b]), parallel
        )
        torch.testing.assert_close(heads[b].double(), want_h, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(ffns[b].double(), want_f, rtol=1e-5, atol=1e-7)
    assert heads.std() > 0 and (heads > 0).any()  # a ranking, not a tie


def test_the_topk_curve_equals_a_literal_model_copy_per_k_and_ends_at_clean_and_none():
    model = tiny("olmo")
    batch = reward_batch()
    raw = trace(model, batch.input_ids, batch.attention_mask, threshold=0.0)
    heads, ffns = component_importance(raw.attn, raw.attn_residual, raw.ffn, raw.ffn_residual, batch.position)
    grid = k_grid(L * H + L)
    assert grid[0] == 0 and grid[-1] == L * H + L
    ablation = topk_ablations(heads, ffns, grid)
    kept = (~ablation.heads).flatten(1).sum(1) + (~ablation.ffns).sum(1)
    assert kept.tolist() == grid * batch.input_ids.shape[0]
    # The kept ones are the most important: every kept score is at least every ablated one.
    scores = torch.cat([heads.flatten(1), ffns], 1).repeat_interleave(len(grid), 0)
    ablated = torch.cat([ablation.heads.flatten(1), ablation.ffns], 1)
    for row in range(len(ablation)):
        if ablated[row].any() and (~ablated[row]).any():
            assert scores[row][~ablated[row]].min() >= scores[row][ablated[row]].max()
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask)
    rows = torch.arange(len(ablation))
    outcome = run_rows(model, batch, ablation, replacement, rows, rows // len(grid), rows_per_pass=5)
    pairs = [(int(r), int(r) // len(grid)) for r in rows]
    torch.testing.assert_close(outcome.reward, literal_rewards(model, batch, ablation, replacement, pairs), rtol=1e-5, atol=1e-5)
    curve = outcome.reward.reshape(-1, len(grid))
    everything = literal_rewards(model, batch, topk_ablations(heads, ffns, [0]), replacement)
    nothing = literal_rewards(model, batch, topk_ablations(heads, ffns, [L * H + L]), replacement)
    # k = 0 is everything ablated (faithfulness 0), k = all is the model itself (faithfulness 1), exactly.
    faithfulness = (curve - curve[:, :1]) / (curve[:, -1:] - curve[:, :1])
    assert torch.equal(faithfulness[:, 0], torch.zeros(4)) and torch.equal(faithfulness[:, -1], torch.ones(4))
    torch.testing.assert_close(curve[:, 0], everything.diagonal(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(curve[:, -1], nothing.diagonal(), rtol=1e-6, atol=1e-6)
