"""IFR on tiny GPT-NeoX (Pythia) models built from configs: biases everywhere, parametric LayerNorm,
partial rotary, parallel residual or not. The parallel block is checked against a literal per-prompt
implementation written here: loops over targets, sources and heads for one whole per block, and a
networkx graph whose FFN reads the layer input, searched depth-first from each root."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from test_ifr_models import batch, layer_parts, literal_reference, search_circuits
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

from trajectory.errors import TrajectoryError
from trajectory.ifr import trace
from trajectory.ifr.circuits import circuit_activity
from trajectory.ifr.contributions import EPSILON
from trajectory.models.architectures import architecture_of
from trajectory.models.capture import capture_layers

TAU = 0.01


def tiny_neox(parallel: bool = True) -> GPTNeoXForCausalLM:
    torch.manual_seed(3 if parallel else 4)
    config = GPTNeoXConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=3,
        num_attention_heads=4,
        use_parallel_residual=parallel,
        attention_bias=True,
        initializer_range=0.3,
        pad_token_id=0,
        bos_token_id=0,
        eos_token_id=1,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
    )
    model = GPTNeoXForCausalLM(config).eval()
    with torch.no_grad():  # HF initialises biases to 0 and LayerNorms to identity: make every one matter
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0.0, 0.3)
            elif "layernorm" in name or "layer_norm" in name:
                parameter.normal_(1.0, 0.3)
    return model


@pytest.mark.parametrize("parallel", [True, False])
def test_parts_sum_to_the_whole_per_block(parallel):
    model = tiny_neox(parallel)
    assert architecture_of(model).parallel is parallel
    ids, mask = batch()
    for p in layer_parts(model, ids, mask):
        assert p.attn_bias.abs().max() > 0.1  # the output bias is there to be placed
        heads = torch.einsum("bhij,bjhd->bid", p.pattern, p.head_out)
        attention = heads + p.attn_bias
        scale = p.attn_branch.abs().max()
        assert (attention - p.attn_branch).abs().max() / scale < 1e-5  # Σ a·f + b_O = the attention branch
        whole = p.residual + attention + p.ffn_branch  # parallel: one whole; sequential: m + FFN
        assert (whole - p.output).abs().max() / p.output.abs().max() < 1e-5


@pytest.mark.parametrize("parallel", [True, False])
def test_traced_model_computes_what_the_untouched_model_does(parallel):
    model = tiny_neox(parallel)
    ids, mask = batch()
    with torch.no_grad():
        untouched = model(input_ids=ids, attention_mask=mask).logits
        with capture_layers(model, architecture_of(model), lambda i, p: None):
            traced = model(input_ids=ids, attention_mask=mask).logits
    valid = mask.bool()
    torch.testing.assert_close(traced[valid], untouched[valid], rtol=1e-5, atol=1e-5)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def literal_parallel_reference(model, ids, mask, tau):
    """One prompt at a time: y_i = (x_i + b_O) + Σ_{j,h} a f + FFN_i, every part's proximity to y_i,
    normalised together, thresholded and renormalised together; edges I_{l−1,j} → I_{l,i} and
    I_{l−1,i} → M_{l,i} → I_{l,i}; circuits by depth-first search."""
    results = []
    for b in range(ids.shape[0]):
        n = int(mask[b].sum())
        parts = layer_parts(model, ids[b : b + 1, :n], mask[b : b + 1, :n])
        L, H = len(parts), parts[0].pattern.shape[1]
        attn, res, ffn = torch.zeros(L, n, n, H), torch.zeros(L, n), torch.zeros(L, n)
        for l, p in enumerate(parts):
            for i in range(n):
                pieces = {(j, h): p.pattern[0, h, i, j] * p.head_out[0, j, h] for j in range(i + 1) for h in range(H)}
                residual = p.residual[0, i] + p.attn_bias
                mlp = p.ffn_branch[0, i]
                whole = residual + sum(pieces.values()) + mlp
                prox = lambda z: max(EPSILON, float(whole.abs().sum() - (whole - z).abs().sum()))
                raw = {k: prox(z) for k, z in pieces.items()}
                raw_res, raw_ffn = prox(residual), prox(mlp)
                total = sum(raw.values()) + raw_res + raw_ffn
                kept = {k: v / total for k, v in raw.items() if v / total > tau}
                kept_res = raw_res / total if raw_res / total > tau else 0.0
                kept_ffn = raw_ffn / total if raw_ffn / total > tau else 0.0
                total = sum(kept.values()) + kept_res + kept_ffn
                for (j, h), v in kept.items():
                    attn[l, i, j, h] = v / total
                res[l, i], ffn[l, i] = kept_res / total, kept_ffn / total
        graph = nx.DiGraph()
        node = lambda l, j: ("X", j) if l < 0 else ("I", l, j)
        for l in range(L):
            for i in range(n):
                for j in range(i + 1):
                    w = float(attn[l, i, j].sum()) + (float(res[l, i]) if i == j else 0.0)
                    graph.add_edge(node(l - 1, j), node(l, i), weight=w, layer=l, i=i, j=j)
                graph.add_edge(node(l - 1, i), ("M", l, i), weight=float(ffn[l, i]))  # the FFN reads the layer input
                graph.add_edge(("M", l, i), node(l, i), weight=float(ffn[l, i]))
        heads, ffns = search_circuits(graph, attn, tau)
        results.append((attn, res, ffn, heads, ffns))
    return results


def test_parallel_block_matches_the_literal_reference():
    model = tiny_neox(parallel=True)
    ids, mask = batch()
    result = trace(model, ids, mask, threshold=TAU)
    active = 0
    for b, (attn, res, ffn, heads, ffns) in enumerate(literal_parallel_reference(model, ids, mask, TAU)):
        n = attn.shape[1]
        torch.testing.assert_close(result.attn[b, :, :n, :n], attn, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(result.attn_residual[b, :, :n], res, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(result.ffn[b, :, :n], ffn, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(result.ffn_residual[b, :, :n], attn.sum((-1, -2)) + res, rtol=1e-4, atol=1e-6)
        assert torch.equal(result.heads[b, :n], heads)
        assert torch.equal(result.ffns[b, :n], ffns)
        active += int(heads.sum()) + int(ffns.sum())
    assert 0 < active < result.heads.numel() + result.ffns.numel()  # not vacuous


def test_a_parallel_ffn_reads_the_layer_input():
    """Two layers, two positions, one head. At layer 1 the last position is held by its FFN alone (no
    residual, no attention edge above τ): in a parallel block the FFN reads I_{0,1}, so layer 0's head
    on 1 ← 0 is in the circuit; read as a sequential block the FFN would read A_{1,1}, whose only edges
    are below τ, and the walk would stop there."""
    attn = torch.zeros(1, 2, 2, 2, 1)
    attn[0, 0, 1, 0, 0] = 0.6  # layer 0: position 1 reads position 0
    res = torch.tensor([[[1.0, 0.4], [1.0, 0.0]]])  # [B, L, T]
    ffn = torch.tensor([[[0.0, 0.0], [0.0, 1.0]]])
    ffn_res = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])
    valid = torch.ones(1, 2, dtype=torch.bool)
    heads, ffns = circuit_activity(attn, res, ffn, ffn_res, valid, TAU, parallel=True)
    assert ffns[0, 1, 1] and heads[0, 1, 0, 0]
    heads, ffns = circuit_activity(attn, res, ffn, ffn_res, valid, TAU, parallel=False)
    assert ffns[0, 1, 1] and not heads[0, 1, 0, 0]


def test_sequential_neox_matches_the_literal_reference():
    model = tiny_neox(parallel=False)
    ids, mask = batch()
    result = trace(model, ids, mask, threshold=TAU)
    for b, (attn, res_a, ffn, res_f, heads, ffns) in enumerate(literal_reference(model, ids, mask, TAU)):
        n = attn.shape[1]
        torch.testing.assert_close(result.attn[b, :, :n, :n], attn, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(result.attn_residual[b, :, :n], res_a, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(result.ffn[b, :, :n], ffn, rtol=1e-4, atol=1e-6)
        assert torch.equal(result.heads[b, :n], heads) and torch.equal(result.ffns[b, :n], ffns)


def test_raw_parallel_parts_sum_to_one_and_ranks_come_from_the_same_pass():
    model = tiny_neox(parallel=True)
    ids, mask = batch()
    raw = trace(model, ids, mask, threshold=0.0)
    sums = raw.attn.sum((-1, -2)) + raw.attn_residual + raw.ffn
    torch.testing.assert_close(sums * mask[:, None, :], mask[:, None, :].float().expand_as(sums))
    logits = model(input_ids=ids, attention_mask=mask).logits
    assert raw.next_token_rank[0, 2] == (logits[0, 2] > logits[0, 2, ids[0, 3]]).sum()


def test_what_gpt_neox_cannot_do_is_refused_in_one_line():
    model = tiny_neox(parallel=True)
    ids, mask = batch()
    with pytest.raises(TrajectoryError, match="'llm-tt'.*parallel"):
        trace(model, ids, mask, ffn_renormalisation="llm-tt")
    from trajectory.grafting.graft import check_graftable
    from trajectory.models.taps import check_supported

    with pytest.raises(TrajectoryError, match="grafting GPTNeoXForCausalLM is not implemented"):
        check_graftable(model, model)
    with pytest.raises(TrajectoryError, match="GPTNeoXForCausalLM layer 0 has no q_proj"):
        check_supported(model)
