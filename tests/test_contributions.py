"""The contribution math on random tensors, no model (as llm-transparency-tool tests its routes)."""

import torch

from trajectory.ifr.circuits import circuit_activity
from trajectory.ifr.contributions import (
    EPSILON,
    attention_contributions,
    ffn_contributions,
    threshold_attention,
    threshold_ffn,
)
from trajectory.models.capture import head_outputs


def _random_layer(batch=2, length=5, heads=3, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    residual = torch.randn(batch, length, dim, generator=g)
    scores = torch.randn(batch, heads, length, length, generator=g)
    scores = scores.masked_fill(torch.ones(length, length).triu(1).bool(), float("-inf"))
    pattern = scores.softmax(-1)
    head_out = torch.randn(batch, length, heads, dim, generator=g)
    return residual, pattern, head_out


def _literal_prox(whole, part):
    return max(EPSILON, float(whole.abs().sum() - (whole - part).abs().sum()))


def test_attention_contributions_match_the_definition():
    residual, pattern, head_out = _random_layer()
    valid = torch.ones(2, 5, dtype=torch.bool)
    c_attn, c_res = attention_contributions(residual, pattern, head_out, valid, max_chunk_elements=7)
    b, i = 1, 3
    whole = residual[b, i] + sum(pattern[b, h, i, j] * head_out[b, j, h] for j in range(i + 1) for h in range(3))
    prox = {(j, h): _literal_prox(whole, pattern[b, h, i, j] * head_out[b, j, h]) for j in range(i + 1) for h in range(3)}
    res = _literal_prox(whole, residual[b, i])
    total = sum(prox.values()) + res
    for (j, h), value in prox.items():
        torch.testing.assert_close(c_attn[b, i, j, h], torch.tensor(value / total), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c_res[b, i], torch.tensor(res / total), rtol=1e-5, atol=1e-6)
    assert torch.all(c_attn[b, i, i + 1 :] == 0)  # sources after the target are not parts
    torch.testing.assert_close(c_attn.sum((-1, -2)) + c_res, torch.ones(2, 5))


def test_chunking_does_not_change_the_result():
    residual, pattern, head_out = _random_layer(seed=1)
    valid = torch.ones(2, 5, dtype=torch.bool)
    whole = attention_contributions(residual, pattern, head_out, valid)
    chunked = attention_contributions(residual, pattern, head_out, valid, max_chunk_elements=1)
    torch.testing.assert_close(whole, chunked)


def test_padding_targets_root_nothing():
    residual, pattern, head_out = _random_layer(seed=2)
    valid = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    c_attn, c_res = attention_contributions(residual, pattern, head_out, valid)
    assert torch.all(c_attn[0, 3:] == 0) and torch.all(c_res[0, 3:] == 0) and torch.all(c_attn[0, :, 3:] == 0)


def test_head_outputs_respect_gqa():
    values = torch.randn(1, 2, 3, 4)  # 2 key/value heads
    o_weight = torch.randn(6, 4 * 4)  # 4 query heads of dim 4
    f = head_outputs(values, o_weight, 4)
    torch.testing.assert_close(f[0, 1, 3], values[0, 1, 1] @ o_weight[:, 12:16].T)  # head 3 reads kv head 1
    torch.testing.assert_close(f[0, 1, 1], values[0, 0, 1] @ o_weight[:, 4:8].T)  # head 1 reads kv head 0


def test_ffn_contributions_and_thresholds():
    mid, ffn = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    valid = torch.ones(2, 4, dtype=torch.bool)
    c_ffn, c_res = ffn_contributions(mid, ffn, valid)
    torch.testing.assert_close(
        c_ffn[0, 0],
        torch.tensor(
            _literal_prox(mid[0, 0] + ffn[0, 0], ffn[0, 0])
            / (_literal_prox(mid[0, 0] + ffn[0, 0], ffn[0, 0]) + _literal_prox(mid[0, 0] + ffn[0, 0], mid[0, 0]))
        ),
    )
    # Per-position renormalisation: each position sums to 1 on its own.
    t_ffn, t_res = threshold_ffn(torch.tensor([[0.005, 0.6]]), torch.tensor([[0.995, 0.4]]), 0.01)
    torch.testing.assert_close(t_ffn, torch.tensor([[0.0, 0.6]]))
    torch.testing.assert_close(t_res, torch.tensor([[1.0, 0.4]]))
    attn = torch.tensor([[[[0.5, 0.004], [0.0, 0.0]], [[0.2, 0.2], [0.3, 0.005]]]])  # [1, T=2, T=2, H=2]
    res = torch.tensor([[0.496, 0.295]])
    t_attn, t_res = threshold_attention(attn, res, 0.01)
    assert t_attn[0, 0, 0, 1] == 0 and t_attn[0, 1, 1, 1] == 0
    torch.testing.assert_close(t_attn.sum((-1, -2)) + t_res, torch.ones(1, 2))


def test_circuit_of_a_hand_made_graph():
    # One layer, three positions, two heads. Root 2 reads position 0 through head 1 only.
    attn = torch.zeros(1, 1, 3, 3, 2)
    attn[0, 0, 2, 0, 1] = 0.6
    attn[0, 0, 1, 0, 0] = 0.5  # belongs to root 1's circuit, not root 2's
    residual = torch.tensor([[[1.0, 0.5, 0.4]]])
    ffn = torch.tensor([[[0.0, 0.0, 0.3]]])
    ffn_res = 1 - ffn
    heads, ffns = circuit_activity(attn, residual, ffn, ffn_res, torch.ones(1, 3, dtype=torch.bool), 0.01)
    assert heads[0, 2, 0].tolist() == [False, True]
    assert heads[0, 1, 0].tolist() == [True, False]
    assert heads[0, 0, 0].tolist() == [False, False]
    assert ffns[0, :, 0].tolist() == [False, False, True]


def test_llm_tt_ffn_renormalisation_divides_by_the_prompts_ffn_total():
    """METHOD.md §3: llm-transparency-tool's helper divides position i by c_res[i] + Σ_j c_ffn[j] over the prompt."""
    g = torch.Generator().manual_seed(3)
    c_ffn = torch.rand(2, 3, 6, generator=g)  # [B, L, T]
    c_ffn[1, :, 4:] = 0  # padding of prompt 1
    c_res = (1 - c_ffn) * (c_ffn > 0)
    tau = 0.3
    got_ffn, got_res = threshold_ffn(c_ffn, c_res, tau, "llm-tt")
    for b in range(2):
        for l in range(3):
            kept_ffn = [float(v) if v > tau else 0.0 for v in c_ffn[b, l]]
            kept_res = [float(v) if v > tau else 0.0 for v in c_res[b, l]]
            for i in range(6):
                denominator = kept_res[i] + sum(kept_ffn)
                torch.testing.assert_close(got_ffn[b, l, i], torch.tensor(kept_ffn[i] / denominator))
                torch.testing.assert_close(got_res[b, l, i], torch.tensor(kept_res[i] / denominator))
    per_position_ffn, per_position_res = threshold_ffn(c_ffn, c_res, tau)
    torch.testing.assert_close((per_position_ffn + per_position_res)[0], torch.ones(3, 6))
    assert (got_ffn + got_res < 0.9).any()  # the helper's parts no longer sum to one per position
