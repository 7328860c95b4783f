"""Batched ablation against a literal one: per configuration and prompt, a copy of the model whose
ablated components are replaced by hooks written here (a loop over heads), R computed by hand."""

import copy

import pytest
import torch

from test_ifr_models import tiny
from test_ifr_neox import tiny_neox
from trajectory.ablation.hooks import mean_replacement, zero_replacement
from trajectory.ablation.masks import Ablation, fact_ablations, random_like
from trajectory.ablation.measure import run_ablations
from trajectory.extractive.measure import RewardBatch
from trajectory.models.architectures import architecture_of, decoder_layers, out_projection

L, H = 3, 4


def reward_batch(seed=7) -> RewardBatch:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, 64, (4, 6), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0
    mask[3, 5:] = 0
    candidates = torch.randint(2, 64, (4, 3), generator=g)
    candidate_mask = torch.ones(4, 3, dtype=torch.bool)
    candidate_mask[2, 2] = False
    empty = torch.zeros(4, 0, dtype=torch.long)
    return RewardBatch(ids.masked_fill(mask == 0, 0), mask, torch.randint(2, 64, (4,), generator=g), candidates,
                       candidate_mask, torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long), empty, empty.bool())


def configurations(seed=3) -> Ablation:
    g = torch.Generator().manual_seed(seed)
    heads = torch.rand(5, L, H, generator=g) < 0.4
    ffns = torch.rand(5, L, generator=g) < 0.4
    heads[0], ffns[0] = False, False  # nothing
    heads[4], ffns[4] = True, True  # everything
    return Ablation(heads, ffns)


@torch.no_grad()
def literal_rewards(model, batch, ablation, replacement):
    head_dim = model.config.hidden_size // H
    out = torch.empty(len(ablation), batch.input_ids.shape[0])
    for c in range(len(ablation)):
        for b in range(batch.input_ids.shape[0]):
            copy_ = copy.deepcopy(model)
            for l, layer in enumerate(decoder_layers(copy_)):
                def pre(module, args, l=l):
                    z = args[0].clone()
                    for h in range(H):
                        if ablation.heads[c, l, h]:
                            z[..., h * head_dim:(h + 1) * head_dim] = replacement.head_z[l, h]
                    return (z,)

                def post(module, args, output, l=l):
                    return replacement.ffn[l].expand_as(output).clone() if ablation.ffns[c, l] else output

                out_projection(layer, architecture_of(copy_)).register_forward_pre_hook(pre)
                layer.mlp.register_forward_hook(post)
            n = int(batch.attention_mask[b].sum())
            logits = copy_(input_ids=batch.input_ids[b : b + 1, :n]).logits[0, n - 1]
            chosen = [int(t) for t, keep in zip(batch.candidates[b], batch.candidate_mask[b]) if keep]
            out[c, b] = logits[batch.answer[b]] - sum(logits[t] for t in chosen) / len(chosen)
    return out


@pytest.mark.parametrize("make", [lambda: tiny("olmo"), lambda: tiny("llama"), lambda: tiny_neox(True)])
@pytest.mark.parametrize("mode", ["mean", "zero"])
def test_batched_ablation_equals_the_literal_one(make, mode):
    model = make()
    batch = reward_batch()
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask) if mode == "mean" else zero_replacement(model)
    ablation = configurations()
    outcome = run_ablations(model, batch, ablation, replacement, rows_per_pass=7)
    torch.testing.assert_close(outcome.reward, literal_rewards(model, batch, ablation, replacement), rtol=1e-5, atol=1e-5)
    assert (outcome.reward[1:] - outcome.reward[0]).abs().min() > 1e-3  # every ablation changes R: not vacuous
    # Ablating nothing is the model itself, exactly.
    clean = run_ablations(model, batch, Ablation(ablation.heads[:1], ablation.ffns[:1]), replacement)
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    at = logits[torch.arange(4), batch.position]
    assert torch.equal(clean.answer_rank[0], (at > at.gather(1, batch.answer[:, None])).sum(1))
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("make", [lambda: tiny("olmo"), lambda: tiny_neox(True)])
def test_everything_ablated_leaves_a_function_of_the_last_token_alone(make):
    """With every head and FFN replaced by constants, the stream at the last position is its token's
    embedding plus constants: another context with the same last token gives the same R."""
    model = make()
    batch = reward_batch()
    batch.attention_mask[:] = 1
    other = copy.deepcopy(batch)
    other.input_ids[:, :-1] = reward_batch(seed=8).input_ids[:, :-1]  # another context, the same last token
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask)
    ffns = torch.ones(1, L, dtype=torch.bool)
    everything = Ablation(torch.ones(1, L, H, dtype=torch.bool), ffns)
    torch.testing.assert_close(run_ablations(model, batch, everything, replacement).reward,
                               run_ablations(model, other, everything, replacement).reward, rtol=1e-5, atol=1e-5)
    heads_alive = Ablation(torch.zeros(1, L, H, dtype=torch.bool), ffns)  # the heads still read the context
    assert not torch.allclose(run_ablations(model, batch, heads_alive, replacement).reward,
                              run_ablations(model, other, heads_alive, replacement).reward)


def test_mean_replacement_averages_the_real_positions():
    model = tiny("olmo")
    batch = reward_batch()
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask)
    zs, outs = [], []
    o_proj, mlp = out_projection(decoder_layers(model)[1], architecture_of(model)), decoder_layers(model)[1].mlp
    h1 = o_proj.register_forward_hook(lambda m, a, o: zs.append(a[0][0]))
    h2 = mlp.register_forward_hook(lambda m, a, o: outs.append(o[0]))
    with torch.no_grad():
        for b in range(4):  # one prompt at a time, unpadded
            model(input_ids=batch.input_ids[b : b + 1, : int(batch.attention_mask[b].sum())])
    h1.remove(), h2.remove()
    torch.testing.assert_close(replacement.head_z[1], torch.cat(zs).mean(0).reshape(H, -1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(replacement.ffn[1], torch.cat(outs).mean(0), rtol=1e-5, atol=1e-6)


def test_fact_configurations_and_random_controls():
    g = torch.Generator().manual_seed(0)
    circuit_heads, circuit_ffns = torch.rand(2, L, H, generator=g) < 0.5, torch.rand(2, L, generator=g) < 0.5
    rows = fact_ablations(circuit_heads, circuit_ffns)
    assert len(rows) == 8
    assert not rows.heads[0].any() and torch.equal(rows.heads[1], ~circuit_heads[0])
    assert torch.equal(rows.heads[2], circuit_heads[0]) and rows.heads[3].all() and torch.equal(rows.ffns[6], circuit_ffns[1])
    role_heads = torch.zeros(2, L, H, dtype=torch.bool)
    role_heads[0, 0, :3] = True
    role_heads[1, 2, 1] = True
    role_ffns = torch.zeros(2, L, dtype=torch.bool)
    role_ffns[1, 0] = True
    controls = random_like(role_heads, role_ffns, draws=4, generator=torch.Generator().manual_seed(1))
    assert len(controls) == 8
    for r in range(2):
        for d in range(4):
            k = r * 4 + d
            assert controls.heads[k].sum() == role_heads[r].sum() and controls.ffns[k].sum() == role_ffns[r].sum()
            assert not (controls.heads[k] & role_heads[r]).any() and not (controls.ffns[k] & role_ffns[r]).any()
    assert len({tuple(controls.heads[k].flatten().tolist()) for k in range(4)}) > 1  # draws differ
    again = random_like(role_heads, role_ffns, draws=4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again.heads, controls.heads)  # a fixed seed draws the same
