"""Extractive scores against slow literal computations on tiny OLMo models built here (METHOD.md §6).

- Σ informative over every component = ⟨∇R, ΔW⟩ over all weights (autograd's parameter gradients,
  one prompt at a time), and ≈ the central finite difference of R along ΔW (float64, with the norm
  run in float64 as well);
- downstream: two forward passes with one component's weights swapped (W′ with c's weights from W);
- upstream: per prompt and per counterfactual, separate passes and a Python loop for the alignment.
"""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import OlmoConfig, OlmoForCausalLM

from trajectory.extractive.measure import score_update
from trajectory.extractive.scores import align_positions
from trajectory.prompts import RewardBatch


def tiny_olmo(seed: int, dtype=torch.float32, clip_qkv=None) -> OlmoForCausalLM:
    torch.manual_seed(seed)
    config = OlmoConfig(
        vocab_size=50,
        hidden_size=16,
        intermediate_size=24,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=32,
        clip_qkv=clip_qkv,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=1,
        tie_word_embeddings=False,
    )
    model = OlmoForCausalLM(config).to(dtype)
    with torch.no_grad():  # larger weights than the default init, so every term matters
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model.eval()


def perturbed(model, seed: int, scale: float = 0.05):
    other = copy.deepcopy(model)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(torch.randn_like(p) * scale)
    return other


def toy_batch() -> RewardBatch:
    """4 prompts of lengths 7, 5, 6, 7 (right-padded), subjects of 1-3 tokens, 2 partners each."""
    torch.manual_seed(7)
    lengths, starts, ends = [7, 5, 6, 7], [2, 1, 2, 2], [5, 2, 4, 4]
    ids = torch.randint(2, 50, (4, 7))
    mask = (torch.arange(7)[None] < torch.tensor(lengths)[:, None]).long()
    ids = ids * mask
    return RewardBatch(
        input_ids=ids,
        attention_mask=mask,
        answer=torch.tensor([3, 4, 5, 6]),
        candidates=torch.tensor([[3, 4, 5, 6], [3, 4, 5, 6], [3, 4, 5, 6], [3, 4, 5, 6]]),
        candidate_mask=torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 1]]).bool(),
        subject_start=torch.tensor(starts),
        subject_end=torch.tensor(ends),
        partners=torch.tensor([[1, 2], [0, 3], [3, 0], [2, 2]]),
        partner_mask=torch.tensor([[1, 1], [1, 1], [1, 1], [1, 0]]).bool(),
    )


def literal_reward(model, batch: RewardBatch, b: int, weights_from=None) -> torch.Tensor:
    n = int(batch.attention_mask[b].sum())
    logits = model(input_ids=batch.input_ids[b : b + 1, :n]).logits[0, n - 1]
    cands = [int(c) for c, m in zip(batch.candidates[b], batch.candidate_mask[b]) if m]
    return logits[int(batch.answer[b])] - torch.stack([logits[c] for c in cands]).mean()


def literal_outputs(model, ids: torch.Tensor, with_grad_of=None):
    """Per layer: z (o_proj input) and FFN output for one unpadded prompt, with their gradients of R."""
    stored: list[dict] = [dict() for _ in model.model.layers]
    handles = []
    for i, layer in enumerate(model.model.layers):
        handles.append(layer.self_attn.o_proj.register_forward_pre_hook(lambda m, a, i=i: stored[i].__setitem__("z", a[0])))
        handles.append(layer.mlp.register_forward_hook(lambda m, a, o, i=i: stored[i].__setitem__("f", o)))
    try:
        logits = model(input_ids=ids[None]).logits[0]
    finally:
        for h in handles:
            h.remove()
    if with_grad_of is None:
        return [{k: v[0].detach() for k, v in s.items()} for s in stored]
    r = with_grad_of(logits)
    tensors = [s[k] for s in stored for k in ("z", "f")]
    grads = torch.autograd.grad(r, tensors)
    out = []
    for i, s in enumerate(stored):
        out.append({"z": s["z"][0].detach(), "f": s["f"][0].detach(), "gz": grads[2 * i][0], "gf": grads[2 * i + 1][0]})
    return out


def reward_of(batch, b):
    n = int(batch.attention_mask[b].sum())
    cands = [int(c) for c, m in zip(batch.candidates[b], batch.candidate_mask[b]) if m]
    return lambda logits: logits[n - 1, int(batch.answer[b])] - torch.stack([logits[n - 1, c] for c in cands]).mean()


@pytest.mark.parametrize("clip_qkv", [None, 0.5])
def test_informative_sums_to_the_gradient_dot_update(clip_qkv):
    before = tiny_olmo(0, clip_qkv=clip_qkv)
    after = perturbed(before, 1)
    batch = toy_batch()
    scores = score_update(before, after, batch)
    deltas = [pa - pb for pa, pb in zip(after.parameters(), before.parameters())]
    for b in range(4):
        before.zero_grad()
        literal_reward(before, batch, b).backward()
        expected = sum((p.grad * d).sum() for p, d in zip(before.parameters(), deltas))
        assert torch.allclose(scores.total_informative()[b], expected, rtol=1e-4, atol=1e-5), b
        assert torch.allclose(scores.reward_before[b], literal_reward(before, batch, b).detach(), atol=1e-5)
    # Not vacuous: every kind of term carries part of it.
    assert scores.informative_heads.abs().sum() > 0 and scores.informative_ffns.abs().sum() > 0
    assert scores.informative_embedding.abs().sum() > 0 and scores.informative_unembedding.abs().sum() > 0


def _float64_norm(monkeypatch):
    # HF's OLMo LayerNorm casts to float32 whatever the dtype; a float64 check needs it in float64.
    from transformers.models.olmo import modeling_olmo

    def forward(self, hidden_states):
        return torch.nn.functional.layer_norm(hidden_states, self.normalized_shape, None, None, eps=1e-5)

    monkeypatch.setattr(modeling_olmo.OlmoLayerNorm, "forward", forward)


def test_informative_matches_the_finite_difference(monkeypatch):
    _float64_norm(monkeypatch)
    before = tiny_olmo(0, dtype=torch.float64)
    after = perturbed(before, 1)
    batch = toy_batch()
    total = score_update(before, after, batch).total_informative()
    eps = 1e-4
    plus, minus = copy.deepcopy(before), copy.deepcopy(before)
    with torch.no_grad():
        for p, m, a, b in zip(plus.parameters(), minus.parameters(), after.parameters(), before.parameters()):
            p.add_(eps * (a - b))
            m.sub_(eps * (a - b))
    for b in range(4):
        with torch.no_grad():
            central = (literal_reward(plus, batch, b) - literal_reward(minus, batch, b)) / (2 * eps)
        assert torch.allclose(total[b], central, rtol=1e-6, atol=1e-8), (b, float(total[b]), float(central))


def _swap_head(model, source, layer: int, head: int, dh: int):
    rows = slice(head * dh, (head + 1) * dh)
    attn, src = model.model.layers[layer].self_attn, source.model.layers[layer].self_attn
    with torch.no_grad():
        for name in ("q_proj", "k_proj", "v_proj"):
            getattr(attn, name).weight[rows] = getattr(src, name).weight[rows]


def _swap_ffn(model, source, layer: int):
    with torch.no_grad():
        for name in ("gate_proj", "up_proj", "down_proj"):
            getattr(model.model.layers[layer].mlp, name).weight.copy_(getattr(source.model.layers[layer].mlp, name).weight)


def literal_pi(b, p, batch, t):
    n, s, e = int(batch.attention_mask[b].sum()), int(batch.subject_start[b]), int(batch.subject_end[b])
    n2, s2, e2 = int(batch.attention_mask[p].sum()), int(batch.subject_start[p]), int(batch.subject_end[p])
    if t < s:
        return min(t, n2 - 1)
    if t < e:
        return max(e2 - (e - t), s2)
    return t - n + n2


def test_downstream_and_upstream_match_literal_passes():
    before = tiny_olmo(0)
    after = perturbed(before, 1, scale=0.1)
    batch = toy_batch()
    scores = score_update(before, after, batch)
    layers, heads, dh = 2, 4, 4
    for b in range(4):
        n = int(batch.attention_mask[b].sum())
        ids = batch.input_ids[b, :n]
        at_w = literal_outputs(before, ids, reward_of(batch, b))
        at_w2 = literal_outputs(after, ids, reward_of(batch, b))
        partners = [int(p) for p, m in zip(batch.partners[b], batch.partner_mask[b]) if m]
        cf = {p: literal_outputs(before, batch.input_ids[p, : int(batch.attention_mask[p].sum())]) for p in partners}
        for layer in range(layers):
            for head in range(heads):
                cols = slice(head * dh, (head + 1) * dh)
                mixed = copy.deepcopy(after)
                _swap_head(mixed, before, layer, head, dh)
                z_hybrid = literal_outputs(mixed, ids)[layer]["z"][:, cols]
                g, z = at_w[layer]["gz"][:, cols], at_w[layer]["z"][:, cols]
                downstream = (g * (z_hybrid - z)).sum()
                assert torch.allclose(scores.downstream_heads[b, layer, head], downstream, atol=1e-5, rtol=1e-4)
                upstream = 0.0
                for t in range(n):
                    z_cf = torch.stack([cf[p][layer]["z"][literal_pi(b, p, batch, t), cols] for p in partners]).mean(0)
                    upstream = upstream + ((at_w2[layer]["gz"][t, cols] - g[t]) * (z[t] - z_cf)).sum()
                assert torch.allclose(scores.upstream_heads[b, layer, head], upstream, atol=1e-5, rtol=1e-4)
            mixed = copy.deepcopy(after)
            _swap_ffn(mixed, before, layer)
            f_hybrid = literal_outputs(mixed, ids)[layer]["f"]
            downstream = (at_w[layer]["gf"] * (f_hybrid - at_w[layer]["f"])).sum()
            assert torch.allclose(scores.downstream_ffns[b, layer], downstream, atol=1e-5, rtol=1e-4)
            upstream = 0.0
            for t in range(n):
                f_cf = torch.stack([cf[p][layer]["f"][literal_pi(b, p, batch, t)] for p in partners]).mean(0)
                upstream = upstream + ((at_w2[layer]["gf"][t] - at_w[layer]["gf"][t]) * (at_w[layer]["f"][t] - f_cf)).sum()
            assert torch.allclose(scores.upstream_ffns[b, layer], upstream, atol=1e-5, rtol=1e-4)
    assert scores.downstream_heads.abs().sum() > 0 and scores.upstream_heads.abs().sum() > 0


def test_alignment_maps_prefix_subject_and_suffix():
    # prompt: 2 prefix, subject of 3, 2 suffix (n = 7); partner: 2 prefix, subject of 1, 2 suffix (n = 5)
    pi = align_positions(*(torch.tensor([[v]]) for v in (7, 2, 5, 5, 2, 3)), positions=7)[0, 0].tolist()
    assert pi == [0, 1, 2, 2, 2, 3, 4]
    # the other way round: the partner's extra subject tokens are skipped, right-aligned
    pi = align_positions(*(torch.tensor([[v]]) for v in (5, 2, 3, 7, 2, 5)), positions=5)[0, 0].tolist()
    assert pi == [0, 1, 4, 5, 6]


def test_no_update_scores_zero():
    model = tiny_olmo(0)
    scores = score_update(model, copy.deepcopy(model), toy_batch())
    for name in ("informative_heads", "informative_ffns", "downstream_heads", "downstream_ffns", "upstream_heads", "upstream_ffns"):
        assert getattr(scores, name).abs().max() == 0, name


def test_a_prompt_without_counterfactuals_has_no_upstream_score():
    batch = toy_batch()
    batch.partner_mask[1] = False
    scores = score_update(tiny_olmo(0), perturbed(tiny_olmo(0), 1), batch)
    assert torch.isnan(scores.upstream_heads[1]).all() and torch.isnan(scores.upstream_ffns[1]).all()
    assert torch.isfinite(scores.upstream_heads[[0, 2, 3]]).all() and torch.isfinite(scores.downstream_heads).all()
