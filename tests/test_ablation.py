"""Batched ablation against a literal one: per configuration and prompt, a copy of the model whose
ablated components are replaced by hooks written here (a loop over heads), R computed by hand."""

from __future__ import annotations

import copy

import polars as pl
import pytest
import torch
from test_ifr_models import tiny
from test_ifr_neox import tiny_neox

from trajectory.ablation.hooks import mean_replacement, zero_replacement
from trajectory.ablation.masks import FACT_TARGETS, fact_ablations, random_like
from trajectory.ablation.measure import run_ablations, run_rows
from trajectory.ablation.plan import revision_plan, sample_per_relation, split_halves
from trajectory.masks import Ablation
from trajectory.models.architectures import architecture_of, decoder_layers, out_projection
from trajectory.pipeline.stages.ablation import circuit_masks, defining_roles
from trajectory.prompts import RewardBatch
from trajectory.roles.scores import ROLES, assign_roles, role_scores

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
    return RewardBatch(
        ids.masked_fill(mask == 0, 0),
        mask,
        torch.randint(2, 64, (4,), generator=g),
        candidates,
        candidate_mask,
        torch.zeros(4, dtype=torch.long),
        torch.ones(4, dtype=torch.long),
        empty,
        empty.bool(),
    )


def configurations(seed=3) -> Ablation:
    g = torch.Generator().manual_seed(seed)
    heads = torch.rand(5, L, H, generator=g) < 0.4
    ffns = torch.rand(5, L, generator=g) < 0.4
    heads[0], ffns[0] = False, False  # nothing
    heads[4], ffns[4] = True, True  # everything
    return Ablation(heads, ffns)


@torch.no_grad()
def literal_rewards(model, batch, ablation, replacement, pairs=None):
    """R per (configuration, prompt): [C, B] for every pair, or [K] for the K ``pairs``."""
    head_dim = model.config.hidden_size // H
    out = torch.empty(len(ablation), batch.input_ids.shape[0])
    every = [(c, b) for c in range(len(ablation)) for b in range(batch.input_ids.shape[0])]
    for c, b in pairs if pairs is not None else every:
        copy_ = copy.deepcopy(model)
        for l, layer in enumerate(decoder_layers(copy_)):

            def pre(module, args, l=l):
                z = args[0].clone()
                for h in range(H):
                    if ablation.heads[c, l, h]:
                        z[..., h * head_dim : (h + 1) * head_dim] = replacement.head_z[l, h]
                return (z,)

            def post(module, args, output, l=l):
                return replacement.ffn[l].expand_as(output).clone() if ablation.ffns[c, l] else output

            out_projection(layer, architecture_of(copy_)).register_forward_pre_hook(pre)
            layer.mlp.register_forward_hook(post)
        n = int(batch.attention_mask[b].sum())
        logits = copy_(input_ids=batch.input_ids[b : b + 1, :n]).logits[0, n - 1]
        chosen = [int(t) for t, keep in zip(batch.candidates[b], batch.candidate_mask[b]) if keep]
        out[c, b] = logits[batch.answer[b]] - sum(logits[t] for t in chosen) / len(chosen)
    return out if pairs is None else out[[c for c, _ in pairs], [b for _, b in pairs]]


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
    torch.testing.assert_close(
        run_ablations(model, batch, everything, replacement).reward, run_ablations(model, other, everything, replacement).reward, rtol=1e-5, atol=1e-5
    )
    heads_alive = Ablation(torch.zeros(1, L, H, dtype=torch.bool), ffns)  # the heads still read the context
    assert not torch.allclose(
        run_ablations(model, batch, heads_alive, replacement).reward, run_ablations(model, other, heads_alive, replacement).reward
    )


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


def test_plan_rows_against_the_literal_model():
    """A revision's plan (fact targets on their own prompt, role sets and controls on the role prompts):
    every measured row equals the literal copy's R for its (configuration, prompt)."""
    model = tiny("olmo")
    batch = reward_batch()
    g = torch.Generator().manual_seed(5)
    circuit_heads, circuit_ffns = torch.rand(4, L, H, generator=g) < 0.6, torch.rand(4, L, generator=g) < 0.6
    head_roles = torch.randint(0, 5, (2, L, H), generator=g)
    head_roles[1] = torch.where(head_roles[0] <= ROLES.index("entity"), head_roles[0], head_roles[1])  # general/entity: per component
    ffn_roles = torch.tensor([[0, 4, 3], [0, 2, 4]])
    plan = revision_plan(
        circuit_heads,
        circuit_ffns,
        head_roles,
        ffn_roles,
        ["q0", "q1"],
        torch.tensor([0, 0, 1, 1]),
        torch.tensor([False, True, False, True]),
        torch.tensor([1]),
        2,
        3,
        g,
    )
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask)
    outcome = run_rows(model, batch, plan.ablation, replacement, plan.config_of_row, plan.prompt_of_row, rows_per_pass=5)
    pairs = list(zip(plan.config_of_row.tolist(), plan.prompt_of_row.tolist()))
    torch.testing.assert_close(outcome.reward, literal_rewards(model, batch, plan.ablation, replacement, pairs), rtol=1e-5, atol=1e-5)


def test_plan_targets_sets_and_controls():
    """Fact targets on their own prompts; each role set and its first ``draws`` controls on its own relation's held-out
    facts and the matrix sample, the test's further controls on its own held-out facts only; never a defining fact."""
    n_facts = 5
    circuit_heads = torch.zeros(n_facts, L, H, dtype=torch.bool)
    circuit_heads[:, 0] = True
    circuit_ffns = torch.zeros(n_facts, L, dtype=torch.bool)
    deactivated = ROLES.index("deactivated")
    head_roles = torch.full((2, L, H), deactivated)
    head_roles[:, 0, 0] = ROLES.index("general")  # general: the same component for both relations
    head_roles[0, 1, 2] = ROLES.index("relation")  # relation heads of q0 only
    head_roles[1, 2, :2] = ROLES.index("fact")  # fact heads of q1 only
    ffn_roles = torch.full((2, L), deactivated)
    ffn_roles[1, 1] = ROLES.index("fact")
    relation_of = torch.tensor([0, 0, 1, 1, 1])
    held_out = torch.tensor([False, True, True, False, True])
    sample = torch.tensor([1, 2])
    draws, test_draws = 2, 5
    plan = revision_plan(
        circuit_heads,
        circuit_ffns,
        head_roles,
        ffn_roles,
        ["q0", "q1"],
        relation_of,
        held_out,
        sample,
        draws,
        test_draws,
        torch.Generator().manual_seed(0),
    )
    facts = n_facts * len(FACT_TARGETS)
    assert plan.target[:facts] == list(FACT_TARGETS) * n_facts
    assert plan.prompt_of_row[:facts].tolist() == [f for f in range(n_facts) for _ in FACT_TARGETS]
    assert plan.config_of_row[:facts].tolist() == list(range(facts))
    labels = [("general", None), ("relation", "q0"), ("fact", "q1")]  # entity and empty sets are skipped
    sets = list(zip(plan.target[facts:], plan.role[facts:], plan.relation[facts:], plan.draw[facts:]))
    assert sets[:3] == [("role", r, q, None) for r, q in labels]
    assert sets[3:] == [("random", r, q, d) for r, q in labels for d in range(test_draws)]
    # Every measured row, literally: (role, relation, draw) and the prompt.
    expected = []
    for role, q in labels:
        own = [f for f in range(n_facts) if held_out[f] and (q is None or relation_of[f] == ["q0", "q1"].index(q))]
        measured = sorted(set(own) | set(sample.tolist()))
        expected += [(role, q, d, f) for d in [None, *range(draws)] for f in measured]
        expected += [(role, q, d, f) for d in range(draws, test_draws) for f in own]
    got = [
        (plan.role[c], plan.relation[c], plan.draw[c], p) for c, p in zip(plan.config_of_row[facts:].tolist(), plan.prompt_of_row[facts:].tolist())
    ]
    assert sorted(got, key=str) == sorted(expected, key=str)
    assert not set(p for _, _, _, p in got) & {0, 3}  # the defining facts measure nothing of the sets
    fact_set = facts + 2
    assert plan.ablation.heads[fact_set].sum() == 2 and plan.ablation.ffns[fact_set].tolist() == [False, True, False]
    for k in range(facts + 3 + 2 * test_draws, facts + 3 + 3 * test_draws):  # the fact set's controls: as many, outside it
        assert plan.ablation.heads[k].sum() == 2 and plan.ablation.ffns[k].sum() == 1
        assert not (plan.ablation.heads[k] & plan.ablation.heads[fact_set]).any() and not plan.ablation.ffns[k, 1]
    no_test = revision_plan(
        circuit_heads, circuit_ffns, head_roles, ffn_roles, ["q0", "q1"], relation_of, held_out, sample, draws, 0, torch.Generator().manual_seed(0)
    )
    assert max(d for d in no_test.draw if d is not None) == draws - 1


def test_halves_split_each_relation():
    relation_of = torch.tensor([0, 1, 0, 2, 1, 0, 0, 1, 1, 2, 3])
    defining = split_halves(relation_of, torch.Generator().manual_seed(3))
    for q, n in enumerate(torch.bincount(relation_of).tolist()):
        assert int(defining[relation_of == q].sum()) == (n + 1) // 2  # a relation of one fact keeps it for defining
    assert torch.equal(defining, split_halves(relation_of, torch.Generator().manual_seed(3)))
    assert not torch.equal(defining, split_halves(relation_of, torch.Generator().manual_seed(4)))
    among = ~defining
    chosen = sample_per_relation(relation_of, 1, torch.Generator().manual_seed(0), among=among)
    assert among[chosen].all() and torch.bincount(relation_of[chosen], minlength=4).tolist() == [1, 1, 1, 0]
    assert torch.equal(sample_per_relation(relation_of, 0, torch.Generator(), among=among), among.nonzero()[:, 0])


class _Encoded:
    """The parts of trajectory.prompts.EncodedProbes that defining_roles reads."""

    def __init__(self, facts, length, subject, predicting):
        self.facts, self.input_ids = facts, torch.zeros(len(facts), length, dtype=torch.long)
        self.attention_mask = torch.ones(len(facts), length, dtype=torch.long)
        self.attention_mask[0, length - 1 :] = 0
        self._masks = subject, predicting

    def masks(self):
        return self._masks


def test_roles_of_the_defining_half_equal_the_literal_scores_of_those_facts():
    """defining_roles from per-root rows equals METHOD §4's scores (trajectory.roles.scores) on the defining facts' own
    activity maps, for all facts and for a half."""
    from types import SimpleNamespace

    g = torch.Generator().manual_seed(11)
    n, length, relations = 6, 5, ["a", "b"]
    facts = [SimpleNamespace(fact_id=10 + i, relation=relations[i % 2]) for i in range(n)]
    relation_of = torch.tensor([i % 2 for i in range(n)])
    subject = torch.zeros(n, length, dtype=torch.bool)
    subject[:, 1] = True
    predicting = torch.zeros(n, length, dtype=torch.bool)
    predicting[:, 3] = True
    encoded = _Encoded(facts, length, subject, predicting)
    activity = torch.rand(n, length, L * H + L, generator=g) < 0.3
    activity &= encoded.attention_mask.bool()[:, :, None]
    rows = activity.nonzero().tolist()  # (fact, root, component)
    members = pl.DataFrame(
        {
            "fact_id": [10 + f for f, _, _ in rows],
            "root": [t for _, t, _ in rows],
            "kind": ["head" if c < L * H else "ffn" for _, _, c in rows],
            "layer": [c // H if c < L * H else c - L * H for _, _, c in rows],
            "head": [c % H if c < L * H else None for _, _, c in rows],
        },
        schema_overrides={"head": pl.Int32},
    )
    for defining in (torch.ones(n, dtype=torch.bool), torch.tensor([True, False, False, True, True, False])):
        heads, ffns = defining_roles(members, encoded, defining, relations, 0.3, L, H)
        keep = defining.nonzero()[:, 0]
        scores = role_scores(activity[keep], encoded.attention_mask.bool()[keep], subject[keep], predicting[keep], relation_of[keep], 2)
        literal = assign_roles(scores, relation_of[keep], 2, 0.3)
        assert torch.equal(heads.reshape(2, -1), literal[:, : L * H]) and torch.equal(ffns, literal[:, L * H :])


def test_prompt_sample_per_relation():
    relation_of = torch.tensor([0, 1, 0, 2, 1, 0, 0, 1])
    chosen = sample_per_relation(relation_of, 2, torch.Generator().manual_seed(3))
    assert torch.bincount(relation_of[chosen]).tolist() == [2, 2, 1]
    assert chosen.tolist() == sorted(set(chosen.tolist()))
    assert torch.equal(sample_per_relation(relation_of, 0, torch.Generator()), torch.arange(8))


def test_masks_from_store_rows():
    circuits = pl.DataFrame(
        {"fact_id": [7, 7, 9, 9, 11], "kind": ["head", "ffn", "head", "head", "head"], "layer": [0, 2, 1, 1, 0], "head": [3, None, 0, 2, 1]},
        schema_overrides={"head": pl.Int32},
    )
    heads, ffns = circuit_masks(circuits, [9, 7], L, H)  # fact 11 is not among the prompts
    expected_heads = torch.zeros(2, L, H, dtype=torch.bool)
    expected_heads[0, 1, 0] = expected_heads[0, 1, 2] = expected_heads[1, 0, 3] = True
    assert torch.equal(heads, expected_heads) and ffns.tolist() == [[False] * 3, [False, False, True]]
