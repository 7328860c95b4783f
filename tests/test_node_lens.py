"""The node lens (what each node of a route graph says under the logit lens, issue #38 item 5) from the IFR pass
against a literal one: each prompt run alone, the residual stream before each layer, after its attention and after
it, and what each block writes, caught by hooks on the Hugging Face modules, read through the final norm and
unembedding and ranked token by token. And the route graph's nodes against routes.js's placing of each edge."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch
from test_ifr_models import batch, tiny
from test_ifr_neox import tiny_neox

from trajectory.ifr import Variant, trace_variants
from trajectory.lens.attention import RootAttention, root_attention_frame
from trajectory.lens.nodes import NODE_KINDS, NodeLens, node_lens_frame, route_nodes
from trajectory.models.architectures import architecture_of, decoder_layers, readout

K = 3


@torch.no_grad()
def literal_states(model, ids: torch.Tensor, parallel: bool) -> dict[tuple[str, int, int], torch.Tensor]:
    """(node, layer, position) -> the hidden state, for one unpadded prompt ids [T]."""
    architecture = architecture_of(model)
    inputs, attention, mlp = [], [], []
    handles = []
    for layer in decoder_layers(model):
        handles.append(
            layer.register_forward_pre_hook(
                lambda m, args, kwargs: inputs.append(kwargs.get("hidden_states", args[0] if args else None)), with_kwargs=True
            )
        )
        handles.append(getattr(layer, architecture.attention).register_forward_hook(lambda m, a, out: attention.append(out[0])))
        handles.append(layer.mlp.register_forward_hook(lambda m, a, out: mlp.append(out)))
    model(input_ids=ids[None])
    for handle in handles:
        handle.remove()
    states = {}
    for layer, (x, a, f) in enumerate(zip(inputs, attention, mlp)):
        x, a, f = x[0], a[0], f[0]
        mid = x + a
        out = x + a + f
        for position in range(ids.shape[0]):
            if layer == 0:
                states[("X", -1, position)] = x[position]
            if not parallel:
                states[("A", layer, position)] = mid[position]
            states[("I", layer, position)] = out[position]
            states[("attn", layer, position)] = a[position]
            states[("ffn", layer, position)] = f[position]
    return states


@torch.no_grad()
def literal_top(model, state: torch.Tensor) -> tuple[list[int], list[float]]:
    norm = getattr(model.base_model, architecture_of(model).final_norm)
    probs = torch.softmax(model.get_output_embeddings()(norm(state)).float(), dim=-1)
    order = sorted(range(probs.shape[0]), key=lambda v: -float(probs[v]))[:K]  # token by token
    return order, [float(probs[v]) for v in order]


@pytest.mark.parametrize("make, parallel", [(lambda: tiny("olmo"), False), (lambda: tiny("llama"), False), (lambda: tiny_neox(True), True)])
def test_node_lens_from_the_ifr_pass_equals_the_literal_one(make, parallel):
    model = make()
    ids, mask = batch()
    lens = NodeLens.of(ids.shape[0], model.config.num_hidden_layers, ids.shape[1], k=K)
    read = readout(model, architecture_of(model))
    trace_variants(model, ids, mask, [Variant()], batch_size=2, on_layer_parts=lambda r, l, p: lens.observe(r, l, p, read, parallel))
    seen = set()
    for b in range(ids.shape[0]):
        length = int(mask[b].sum())
        for (node, layer, position), state in literal_states(model, ids[b, :length], parallel).items():
            top, probs = literal_top(model, state)
            got = lens.ids[b, NODE_KINDS.index(node), max(layer, 0), position]
            assert got.tolist() == top, (b, node, layer, position)
            assert lens.probs[b, NODE_KINDS.index(node), max(layer, 0), position].tolist() == pytest.approx(probs, rel=1e-4, abs=1e-6)
            seen.add(tuple(top))
    assert len(seen) > 5  # not vacuous: the nodes say different things
    if parallel:  # a parallel block has no residual stream between its attention and its FFN
        assert (lens.ids[:, NODE_KINDS.index("A")] == -1).all()


def literal_ends(layer: int, kind: str, source: int, target: int) -> list[tuple[str, int, int]]:
    """routes.js's edgeEnds, and the block the edge crosses, written out case by case."""
    below = ("X", -1) if layer == 0 else ("I", layer - 1)
    if kind == "attention":
        return [(*below, source), ("A", layer, target), ("attn", layer, target)]
    if kind == "block_attention":
        return [(*below, source), ("I", layer, target), ("attn", layer, target)]
    if kind == "block_ffn":
        return [(*below, target), ("I", layer, target), ("ffn", layer, target)]
    if kind == "ffn":
        return [("A", layer, target), ("I", layer, target), ("ffn", layer, target)]
    return [("A", layer, target), ("I", layer, target)]  # ffn_residual crosses no block


def test_route_nodes_are_the_ends_of_the_edges_and_the_blocks_they_cross():
    edges = [
        (0, "attention", 0, 2),
        (0, "attention", 2, 2),
        (0, "ffn", 2, 2),
        (0, "ffn_residual", 2, 2),
        (1, "attention", 1, 3),
        (1, "ffn_residual", 3, 3),
        (0, "block_attention", 1, 1),
        (2, "block_ffn", 1, 1),
    ]
    routes = pl.DataFrame(
        {"fact_id": [7] * 6 + [9] * 2, **{name: [e[i] for e in edges] for i, name in enumerate(("layer", "kind", "source", "target"))}}
    )
    expected = {(fact, *end) for fact, edge in zip(routes["fact_id"], edges) for end in literal_ends(*edge)}
    got = route_nodes(routes)
    assert set(got.iter_rows()) == expected and got.height == len(expected)


def test_the_node_lens_frame_gives_each_node_its_tokens_as_text():
    lens = NodeLens.of(2, 1, 3, k=2)
    lens.ids[1, NODE_KINDS.index("I"), 0, 2] = torch.tensor([5, 9], dtype=torch.int32)
    lens.probs[1, NODE_KINDS.index("I"), 0, 2] = torch.tensor([0.5, 0.25])
    nodes = pl.DataFrame({"fact_id": [40], "node": ["I"], "layer": [0], "position": [2]}, schema_overrides={"layer": pl.Int16, "position": pl.Int16})
    frame = node_lens_frame(nodes, lens, {40: 1}, lambda ids: [f"t{i}" for i in ids])
    assert frame.row(0) == (40, "I", 0, 2, ["t5", "t9"], [0.5, 0.25])


@pytest.mark.parametrize("make", [lambda: tiny("olmo"), lambda: tiny_neox(True)])
def test_root_attention_from_the_ifr_pass_equals_the_models_own_weights(make):
    """Each head's weights from the root over 0..root against the model's own output_attentions, prompt by prompt."""
    model = make()
    ids, mask = batch()
    roots = mask.sum(1) - 2  # a root before each prompt's last token
    attention = RootAttention.of(roots, model.config.num_hidden_layers, model.config.num_attention_heads, ids.shape[1])
    trace_variants(model, ids, mask, [Variant()], batch_size=2, on_layer_parts=lambda r, l, p: attention.observe(r, l, p))
    model.set_attn_implementation("eager")
    frame = root_attention_frame(attention, np.array([10, 11, 12]))
    got = {(f, l, h): w for f, l, h, w in frame.iter_rows()}
    for b in range(ids.shape[0]):
        length, root = int(mask[b].sum()), int(roots[b])
        with torch.no_grad():
            weights = model(input_ids=ids[b : b + 1, :length], output_attentions=True).attentions  # per layer [1, H, T, T]
        for layer, per_layer in enumerate(weights):
            for head in range(per_layer.shape[1]):
                literal = per_layer[0, head, root, : root + 1].tolist()
                assert got[(10 + b, layer, head)] == pytest.approx(literal, abs=1e-6), (b, layer, head)
    assert len(got) == ids.shape[0] * model.config.num_hidden_layers * model.config.num_attention_heads
