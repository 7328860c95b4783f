"""trace() on tiny OLMo, OLMo-2 and Llama-GQA models built from configs, against a slow literal
reference: explicit loops over targets, sources and heads, and a networkx graph searched depth-first
from each root."""

import networkx as nx
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Olmo2Config, Olmo2ForCausalLM, OlmoConfig, OlmoForCausalLM

from trajectory.errors import TrajectoryError
from trajectory.ifr import Variant, trace, trace_variants
from trajectory.ifr.contributions import EPSILON
from trajectory.models.architectures import architecture_of
from trajectory.models.capture import capture_layers

TAU = 0.01
COMMON = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=3,
    num_attention_heads=4,
    pad_token_id=0,
    bos_token_id=None,
    eos_token_id=1,
    initializer_range=0.3,
)


def tiny(kind: str):
    torch.manual_seed({"olmo": 0, "olmo2": 1, "llama": 2}[kind])
    if kind == "olmo":
        return OlmoForCausalLM(OlmoConfig(**COMMON, clip_qkv=0.4)).eval()  # small clip: the clamp is exercised
    if kind == "olmo2":
        return Olmo2ForCausalLM(Olmo2Config(**COMMON)).eval()
    return LlamaForCausalLM(LlamaConfig(**COMMON, num_key_value_heads=2)).eval()


def batch():
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(2, 64, (3, 6), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0
    mask[2, 5:] = 0
    return ids.masked_fill(mask == 0, 0), mask


@torch.no_grad()
def layer_parts(model, ids, mask):
    parts = []
    with capture_layers(model, architecture_of(model), lambda i, p: parts.append(p)):
        model(input_ids=ids, attention_mask=mask)
    return parts


def llm_tt_threshold_and_renormalise(tau, c_blocks, c_residual):
    """llm-transparency-tool's released thresholding helper as it behaves (its routes): blocks and
    residual below τ are zeroed, then divided by the residual plus the blocks summed over the axes the
    blocks have beyond the residual's. For the FFN those axes are none, the tuple is empty, and
    PyTorch's ``sum(dim=())`` sums every axis."""
    extra = tuple(range(c_residual.dim(), c_blocks.dim()))
    c_blocks = c_blocks * (c_blocks > tau)
    c_residual = c_residual * (c_residual > tau)
    denominator = c_residual + c_blocks.sum(dim=extra)
    return c_blocks / denominator.reshape(denominator.shape + (1,) * len(extra)), c_residual / denominator


def literal_reference(model, ids, mask, tau, ffn_renormalisation="per_position"):
    """Contributions by loops and circuits by depth-first search, for prompt 0..B-1, one at a time
    (as the study traced them); the FFN renormalised per position or as llm-transparency-tool's helper does."""
    results = []
    for b in range(ids.shape[0]):
        n = int(mask[b].sum())
        parts = layer_parts(model, ids[b : b + 1, :n], mask[b : b + 1, :n])
        L, H = len(parts), parts[0].pattern.shape[1]
        attn = torch.zeros(L, n, n, H)
        res_a, ffn, res_f = torch.zeros(L, n), torch.zeros(L, n), torch.zeros(L, n)
        for l, p in enumerate(parts):
            for i in range(n):
                pieces = {(j, h): p.pattern[0, h, i, j] * p.head_out[0, j, h] for j in range(i + 1) for h in range(H)}
                # An output-projection bias (None without one) belongs to no source: it joins the residual.
                residual = p.residual[0, i] + (0 if p.attn_bias is None else p.attn_bias)
                whole = residual + sum(pieces.values())
                prox = lambda z: max(EPSILON, float(whole.abs().sum() - (whole - z).abs().sum()))
                raw = {k: prox(z) for k, z in pieces.items()}
                raw_res = prox(residual)
                total = sum(raw.values()) + raw_res
                norm = {k: v / total for k, v in raw.items()}
                norm_res = raw_res / total
                kept = {k: v for k, v in norm.items() if v > tau}
                kept_res = norm_res if norm_res > tau else 0.0
                total = sum(kept.values()) + kept_res
                for (j, h), v in kept.items():
                    attn[l, i, j, h] = v / total
                res_a[l, i] = kept_res / total
                m = p.residual[0, i] + p.attn_branch[0, i]
                y = m + p.ffn_branch[0, i]
                pf = max(EPSILON, float(y.abs().sum() - m.abs().sum()))
                pr = max(EPSILON, float(y.abs().sum() - p.ffn_branch[0, i].abs().sum()))
                ffn[l, i], res_f[l, i] = pf / (pf + pr), pr / (pf + pr)
            if ffn_renormalisation == "llm-tt":  # one prompt, one layer: blocks and residual both [1, n]
                kept_ffn, kept_res = llm_tt_threshold_and_renormalise(tau, ffn[l : l + 1].clone(), res_f[l : l + 1].clone())
                ffn[l], res_f[l] = kept_ffn[0], kept_res[0]
            else:
                for i in range(n):
                    pf, pr = float(ffn[l, i]), float(res_f[l, i])
                    pf, pr = (pf if pf > tau else 0.0), (pr if pr > tau else 0.0)
                    ffn[l, i], res_f[l, i] = pf / (pf + pr), pr / (pf + pr)
        graph = literal_graph(attn, res_a, ffn, res_f)
        heads, ffns = search_circuits(graph, attn, tau)
        results.append((attn, res_a, ffn, res_f, heads, ffns))
    return results


def literal_graph(attn, res_a, ffn, res_f) -> nx.DiGraph:
    """METHOD.md §3's graph of one prompt, edge by edge: X/I_{l−1,j} → A_{l,i} (Σ_h c_attn, + c_res when j = i),
    A_{l,i} → M_{l,i} → I_{l,i} (c_ffn), A_{l,i} → I_{l,i} (the FFN's residual)."""
    graph = nx.DiGraph()
    for l in range(attn.shape[0]):
        for i in range(attn.shape[1]):
            for j in range(i + 1):
                w = float(attn[l, i, j].sum()) + (float(res_a[l, i]) if i == j else 0.0)
                graph.add_edge(("X", j) if l == 0 else ("I", l - 1, j), ("A", l, i), weight=w, layer=l, i=i, j=j)
            graph.add_edge(("A", l, i), ("M", l, i), weight=float(ffn[l, i]))
            graph.add_edge(("M", l, i), ("I", l, i), weight=float(ffn[l, i]))
            graph.add_edge(("A", l, i), ("I", l, i), weight=float(res_f[l, i]))
    return graph


def search_circuits(graph: nx.DiGraph, attn: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth-first from every root I_{L−1,t} over the edges of weight > τ: FFN l is active when M_{l,i} is
    reached, head (l, h) when an attention edge (one with a ``layer``) into a reached node has its part > 0.
    attn [L, n, n, H]; returns heads [n, L, H] and ffns [n, L]."""
    L, n, _, H = attn.shape
    strong = graph.edge_subgraph([(u, v) for u, v, w in graph.edges(data="weight") if w > tau]).reverse(copy=True)
    heads = torch.zeros(n, L, H, dtype=torch.bool)
    ffns = torch.zeros(n, L, dtype=torch.bool)
    for t in range(n):
        root = ("I", L - 1, t)
        if root not in strong:
            continue
        for node in nx.dfs_preorder_nodes(strong, root):
            if node[0] == "M":
                ffns[t, node[1]] = True
            for source in strong.successors(node):  # reversed graph: successors are sources
                data = graph.edges[source, node]
                if "layer" in data:
                    heads[t, data["layer"]] |= attn[data["layer"], data["i"], data["j"]] > 0
    return heads, ffns


@pytest.mark.parametrize("kind", ["olmo", "olmo2", "llama"])
def test_parts_sum_to_the_whole(kind):
    model = tiny(kind)
    ids, mask = batch()
    for p in layer_parts(model, ids, mask):
        attn_sum = torch.einsum("bhij,bjhd->bid", p.pattern, p.head_out)
        torch.testing.assert_close(attn_sum, p.attn_branch, rtol=1e-4, atol=1e-5)  # Σ a·f = m − x
        torch.testing.assert_close(p.residual + p.attn_branch + p.ffn_branch, p.output, rtol=1e-5, atol=1e-5)  # FFN + m = y


@pytest.mark.parametrize("kind", ["olmo", "olmo2", "llama"])
def test_trace_matches_literal_reference(kind):
    model = tiny(kind)
    ids, mask = batch()
    result = trace(model, ids, mask, threshold=TAU)
    reference = literal_reference(model, ids, mask, TAU)
    total_active = 0
    for b, (attn, res_a, ffn, res_f, heads, ffns) in enumerate(reference):
        n = attn.shape[1]
        torch.testing.assert_close(result.attn[b, :, :n, :n], attn, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(result.attn_residual[b, :, :n], res_a, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(result.ffn[b, :, :n], ffn, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(result.ffn_residual[b, :, :n], res_f, rtol=1e-4, atol=1e-6)
        assert torch.equal(result.heads[b, :n], heads)
        assert torch.equal(result.ffns[b, :n], ffns)
        assert not result.heads[b, n:].any() and not result.ffns[b, n:].any()  # padding roots nothing
        total_active += int(heads.sum())
    assert 0 < total_active < result.heads.numel()  # the comparison is not vacuous


def test_llm_tt_ffn_renormalisation_matches_llm_transparency_tools_helper():
    model = tiny("olmo")
    ids, mask = batch()
    llm_tt = trace(model, ids, mask, threshold=TAU, ffn_renormalisation="llm-tt")
    per_position = trace(model, ids, mask, threshold=TAU)
    for b, (attn, res_a, ffn, res_f, heads, ffns) in enumerate(literal_reference(model, ids, mask, TAU, "llm-tt")):
        n = attn.shape[1]
        torch.testing.assert_close(llm_tt.ffn[b, :, :n], ffn, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(llm_tt.ffn_residual[b, :, :n], res_f, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(llm_tt.attn[b, :, :n, :n], attn, rtol=1e-4, atol=1e-6)
        assert torch.equal(llm_tt.heads[b, :n], heads) and torch.equal(llm_tt.ffns[b, :n], ffns)
    assert (llm_tt.ffn - per_position.ffn).abs().max() > 0.1  # the option changes the FFN edges: not vacuous
    assert torch.equal(llm_tt.attn, per_position.attn)  # and touches only the FFN's renormalisation


def test_a_sweep_equals_separate_traces():
    model = tiny("llama")
    ids, mask = batch()
    variants = [Variant(0.01), Variant(0.05), Variant(0.05, "llm-tt"), Variant(0.0)]
    together = trace_variants(model, ids, mask, variants, batch_size=2)
    for variant in variants:
        alone = trace(model, ids, mask, threshold=variant.threshold, ffn_renormalisation=variant.ffn_renormalisation, batch_size=2)
        for field in ("attn", "attn_residual", "ffn", "ffn_residual", "heads", "ffns", "next_token_rank"):
            assert torch.equal(getattr(together[variant], field), getattr(alone, field)), (variant, field)
    assert not torch.equal(together[variants[0]].heads, together[variants[1]].heads)


@pytest.mark.parametrize("kind", ["olmo", "llama"])
def test_batched_equals_one_by_one_and_model_is_left_alone(kind):
    model = tiny(kind)
    before = model.config._attn_implementation
    ids, mask = batch()
    together = trace(model, ids, mask, threshold=TAU, batch_size=2)
    for b in range(ids.shape[0]):
        n = int(mask[b].sum())
        alone = trace(model, ids[b : b + 1, :n], threshold=TAU)
        torch.testing.assert_close(together.attn[b, :, :n, :n], alone.attn[0], rtol=1e-4, atol=1e-6)
        assert torch.equal(together.heads[b, :n], alone.heads[0])
        assert torch.equal(together.ffns[b, :n], alone.ffns[0])
        assert torch.equal(together.next_token_rank[b, : n - 1], alone.next_token_rank[0, : n - 1])
    assert model.config._attn_implementation == before
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_raw_contributions_and_ranks():
    model = tiny("olmo")
    ids, mask = batch()
    raw = trace(model, ids, mask, threshold=0.0, return_attn=True)
    sums = raw.attn.sum((-1, -2)) + raw.attn_residual
    torch.testing.assert_close(sums * mask[:, None, :], mask[:, None, :].float().expand_as(sums))
    logits = model(input_ids=ids, attention_mask=mask).logits
    expected = (logits[0, 2] > logits[0, 2, ids[0, 3]]).sum()
    assert raw.next_token_rank[0, 2] == expected and raw.next_token_rank[1, 3] == -1
    lean = trace(model, ids, mask, return_attn=False)
    assert lean.attn is None and lean.heads.shape == (3, 6, 3, 4)


def test_unsupported_architecture_is_refused_by_name():
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(vocab_size=32, n_embd=16, n_layer=1, n_head=2))
    with pytest.raises(TrajectoryError, match="unsupported architecture GPT2LMHeadModel"):
        trace(model, torch.randint(0, 32, (1, 4)))


def literal_routes(graph: nx.DiGraph, attn: torch.Tensor, tau: float, root: int) -> dict:
    """The route graph of one root by depth-first search: {(layer, kind, source, target): (weight, {head: part})}
    for every edge of weight > τ whose head end the root reaches."""
    L = attn.shape[0]
    strong = graph.edge_subgraph([(u, v) for u, v, w in graph.edges(data="weight") if w > tau]).reverse(copy=True)
    edges = {}
    for node in nx.dfs_preorder_nodes(strong, ("I", L - 1, root)):
        for source in strong.successors(node):
            data = graph.edges[source, node]
            if node[0] == "A":  # attention into A_{l,i}
                parts = {
                    h: float(attn[data["layer"], data["i"], data["j"], h])
                    for h in range(attn.shape[-1])
                    if attn[data["layer"], data["i"], data["j"], h] > 0
                }
                edges[(data["layer"], "attention", data["j"], data["i"])] = (data["weight"], parts)
            elif node[0] == "I" and source[0] == "M":  # A → M → I: the FFN
                edges[(node[1], "ffn", node[2], node[2])] = (data["weight"], {})
            elif node[0] == "I" and source[0] == "A":
                edges[(node[1], "ffn_residual", node[2], node[2])] = (data["weight"], {})
    return edges


def test_route_edges_equal_a_literal_graph_walk():
    """The stored route graph of the last token of each prompt: the same edges, weights and heads as a networkx
    search from that root on the literal reference's graph."""
    model = tiny("olmo")
    ids, mask = batch()
    roots = mask.sum(1) - 1
    result = trace(model, ids, mask, threshold=TAU, route_roots=roots, batch_size=2)
    routes = result.routes
    total = 0
    for b, (attn, res_a, ffn, res_f, _, _) in enumerate(literal_reference(model, ids, mask, TAU)):
        want = literal_routes(literal_graph(attn, res_a, ffn, res_f), attn, TAU, int(roots[b]))
        mine = (routes.prompt == b).nonzero().flatten()
        got = {}
        for e in mine.tolist():
            key = (int(routes.layer[e]), routes.kind_names[routes.kind[e]], int(routes.source[e]), int(routes.target[e]))
            parts = routes.part_edge == e
            got[key] = (float(routes.weight[e]), dict(zip(routes.part_head[parts].tolist(), routes.part_weight[parts].tolist())))
        assert got.keys() == want.keys()
        for key, (weight, parts) in want.items():
            assert got[key][0] == pytest.approx(weight, rel=1e-4, abs=1e-6)
            assert got[key][1].keys() == parts.keys() and list(got[key][1].values()) == pytest.approx(list(parts.values()), rel=1e-4)
        total += len(want)
    assert 0 < total < sum(3 * int(mask[b].sum()) ** 2 for b in range(3))  # some edges, not every edge
