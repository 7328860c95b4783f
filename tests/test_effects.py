"""Component effects (METHOD.md §9) against literal code written here: each component removed from a deep copy
by editing its weights (a head's output-projection columns, an FFN replaced by a constant module), one
prompt at a time with R by hand; attribution patching against autograd's derivative of R along the patch,
each component alone."""

import copy

import pytest
import torch
from test_ablation import H, L, reward_batch
from test_ifr_models import tiny
from test_ifr_neox import tiny_neox

from trajectory.ablation.hooks import mean_replacement, zero_replacement
from trajectory.effects import component_layout, single_component_masks
from trajectory.models.architectures import (
    architecture_of,
    decoder_layers,
    out_projection,
)
from trajectory.pipeline.effects import EffectsSettings, measure_effects


class Constant(torch.nn.Module):
    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = value

    def forward(self, x):
        return self.value.to(x.dtype).expand(*x.shape[:-1], -1).clone()


@torch.no_grad()
def literal_reward(model, batch, b: int) -> float:
    n = int(batch.attention_mask[b].sum())
    logits = model(input_ids=batch.input_ids[b : b + 1, :n]).logits[0, n - 1].double()
    chosen = [int(t) for t, keep in zip(batch.candidates[b], batch.candidate_mask[b]) if keep]
    return (logits[batch.answer[b]] - sum(logits[t] for t in chosen) / len(chosen)).item()


@torch.no_grad()
def without(model, kind: str, layer: int, head: int | None, replacement):
    """A copy in which the component outputs its replacement: a head's columns of the output projection zeroed
    and W_O[:, h] z̄_h added as a bias; an FFN swapped for a module returning its replacement."""
    copy_ = copy.deepcopy(model)
    block = decoder_layers(copy_)[layer]
    if kind == "ffn":
        block.mlp = Constant(replacement.ffn[layer])
        return copy_
    o_proj = out_projection(block, architecture_of(copy_))
    dh = o_proj.in_features // model.config.num_attention_heads
    columns = slice(head * dh, (head + 1) * dh)
    added = o_proj.weight[:, columns].double() @ replacement.head_z[layer, head].double()
    bias = o_proj.bias.detach().double() if o_proj.bias is not None else torch.zeros(o_proj.out_features, dtype=torch.double)
    o_proj.weight[:, columns] = 0
    o_proj.bias = torch.nn.Parameter((bias + added).to(o_proj.weight.dtype))
    return copy_


MODELS = [lambda: tiny("olmo"), lambda: tiny("llama"), lambda: tiny_neox(True)]


@pytest.mark.parametrize("make", MODELS)
@pytest.mark.parametrize("mode", ["mean", "zero"])
def test_single_component_effects_equal_literal_copies(make, mode):
    model = make().double()
    batch = reward_batch()
    effects = measure_effects(model, batch, EffectsSettings(method="exhaustive", mode=mode, rows_per_pass=7))
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask) if mode == "mean" else zero_replacement(model)
    kinds, layers, heads = component_layout(L, H)
    for b in range(batch.input_ids.shape[0]):
        clean = literal_reward(model, batch, b)
        assert effects.reward_clean[b].item() == pytest.approx(clean, abs=1e-6)
        for c, (kind, layer, head) in enumerate(zip(kinds, layers, heads)):
            ablated = literal_reward(without(model, kind, int(layer), None if kind == "ffn" else int(head), replacement), batch, b)
            assert effects.delta[b, c].item() == pytest.approx(ablated - clean, abs=1e-6), (b, kind, layer, head)
    # Everything ablated: every head and FFN replaced at once.
    everything = model
    for kind, layer, head in zip(kinds, layers, heads):
        everything = without(everything, kind, int(layer), None if kind == "ffn" else int(head), replacement)
    for b in range(batch.input_ids.shape[0]):
        assert effects.reward_none[b].item() == pytest.approx(literal_reward(everything, batch, b), abs=1e-6)
    assert effects.atp is None and effects.rank.shape == effects.delta.shape == (4, L * H + L)


def test_masks_ablate_one_component_each():
    heads, ffns = single_component_masks(L, H)
    assert heads.shape == (L * H + L, L, H) and ffns.shape == (L * H + L, L)
    assert (heads.flatten(1).sum(1) + ffns.sum(1)).eq(1).all()
    kinds, layers, heads_of = component_layout(L, H)
    for c in range(L * H):
        assert heads[c, layers[c], int(heads_of[c])] and kinds[c] == "head"
    for c in range(L * H, L * H + L):
        assert ffns[c, layers[c]] and kinds[c] == "ffn"


def derivative_along_patch(model, batch, b: int, kind: str, layer: int, head: int | None, replacement) -> float:
    """d/dα R(a_c + α(ā_c − a_c)) at α = 0, for prompt b alone, by autograd on α."""
    copy_ = copy.deepcopy(model)
    alpha = torch.zeros((), dtype=torch.double, requires_grad=True)
    block = decoder_layers(copy_)[layer]
    if kind == "ffn":
        mlp = block.mlp

        class Patched(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = mlp

            def forward(self, x):
                out = self.inner(x)
                return out + alpha * (replacement.ffn[layer].to(out.dtype) - out)

        block.mlp = Patched()
    else:
        o_proj = out_projection(block, architecture_of(copy_))
        dh = o_proj.in_features // model.config.num_attention_heads

        def pre(module, args):
            z = args[0]
            target = z.clone()
            target[..., head * dh : (head + 1) * dh] = replacement.head_z[layer, head].to(z.dtype)
            return (z + alpha * (target - z),)

        o_proj.register_forward_pre_hook(pre)
    n = int(batch.attention_mask[b].sum())
    logits = copy_(input_ids=batch.input_ids[b : b + 1, :n]).logits[0, n - 1]
    chosen = [int(t) for t, keep in zip(batch.candidates[b], batch.candidate_mask[b]) if keep]
    value = logits[batch.answer[b]] - sum(logits[t] for t in chosen) / len(chosen)
    (grad,) = torch.autograd.grad(value, alpha)
    return float(grad)


@pytest.mark.parametrize("make", MODELS)
def test_attribution_patching_is_the_first_order_term(make):
    model = make().double()
    batch = reward_batch()
    effects = measure_effects(model, batch, EffectsSettings(method="atp", rows_per_pass=8))
    assert effects.delta is None
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask)
    kinds, layers, heads = component_layout(L, H)
    for b in range(batch.input_ids.shape[0]):
        for c, (kind, layer, head) in enumerate(zip(kinds, layers, heads)):
            expected = derivative_along_patch(model, batch, b, kind, int(layer), None if kind == "ffn" else int(head), replacement)
            assert effects.atp[b, c].item() == pytest.approx(expected, abs=1e-6), (b, kind, layer, head)


def test_both_methods_measure_the_same_effects():
    """``both`` gives exactly what each method gives alone, and the first-order estimate tracks the real effect
    (a random tiny model: rough, but not unrelated)."""
    model = tiny("olmo").double()
    batch = reward_batch()
    both = measure_effects(model, batch, EffectsSettings(method="both"))
    alone = measure_effects(model, batch, EffectsSettings(method="exhaustive")), measure_effects(model, batch, EffectsSettings(method="atp"))
    assert torch.equal(both.delta, alone[0].delta) and torch.allclose(both.atp, alone[1].atp, atol=1e-12)
    assert torch.equal(both.importance, alone[1].importance)
    correlation = torch.corrcoef(torch.stack([both.delta.flatten(), both.atp.flatten()]))[0, 1]
    assert correlation > 0.5
