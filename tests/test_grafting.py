"""Dynamic weight grafting against a slow literal implementation on tiny OLMo models built here:
a copy of the recipient run token by token with a KV cache, its module weights swapped to the donor's
wherever the graft says, at each step. Grafting nothing is the recipient; grafting everything (and the
embeddings) is the donor up to the unembedding."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import DynamicCache, OlmoConfig, OlmoForCausalLM

from trajectory.graft_names import COMPONENTS, GraftConfig, default_configs
from trajectory.grafting.configs import build_graft, layer_range, position_mask
from trajectory.grafting.graft import grafted
from trajectory.grafting.measure import GraftPrompts, cache_kwargs, last_token_logits, left_aligned, prefix_groups, ranks_in_chunks
from trajectory.prompts import RewardBatch, vocabulary_ranks


def tiny(seed: int) -> OlmoForCausalLM:
    torch.manual_seed(seed)
    config = OlmoConfig(
        vocab_size=40,
        hidden_size=16,
        intermediate_size=24,
        num_hidden_layers=4,
        num_attention_heads=4,
        max_position_embeddings=32,
        clip_qkv=0.8,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=1,
        tie_word_embeddings=False,
    )
    model = OlmoForCausalLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.4)
    return model


def prompts():
    """3 prompts of lengths 6, 4, 5 (right-padded), subjects of 2, 1, 2 tokens."""
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(2, 40, (3, 6), generator=g)
    lengths = torch.tensor([6, 4, 5])
    valid = torch.arange(6)[None] < lengths[:, None]
    subject = torch.zeros_like(valid)
    subject[0, 1:3], subject[1, 0], subject[2, 2:4] = True, True, True
    last = torch.zeros_like(valid)
    last[torch.arange(3), lengths - 1] = True
    return ids * valid, valid, subject, last


def module_of(layer, component: str) -> list[tuple[torch.nn.Module, str]]:
    """The weights of a component, written out here (not taken from the code under test)."""
    names = {"attention": ("q_proj", "k_proj", "v_proj"), "o": ("o_proj",), "ffn": ("gate_proj", "up_proj", "down_proj")}
    parent = layer.mlp if component == "ffn" else layer.self_attn
    return [(parent, name) for name in names[component]]


@torch.no_grad()
def literal_logits(recipient, donor, config: GraftConfig, ids, valid, subject, last, b: int) -> torch.Tensor:
    n = int(valid[b].sum())
    grafted_at = position_mask(config.positions, subject, last, valid)[b]
    layers = layer_range(config.layers, recipient.config.num_hidden_layers)
    work = copy.deepcopy(recipient)
    cache = DynamicCache(config=work.config)
    rows = []
    for t in range(n):
        for index, (mine, a, d) in enumerate(zip(work.model.layers, recipient.model.layers, donor.model.layers)):
            for component in COMPONENTS:
                use_donor = bool(grafted_at[t]) and index in layers and component in config.components
                for (w, name), (src, _) in zip(module_of(mine, component), module_of(d if use_donor else a, component)):
                    getattr(w, name).weight.copy_(getattr(src, name).weight)
        embeddings = (donor if config.embedding and grafted_at[t] else recipient).get_input_embeddings()
        out = work(inputs_embeds=embeddings(ids[b, t : t + 1])[None], **cache_kwargs(cache))  # the cache grows in place
        rows.append(out.logits[0, -1])
    return torch.stack(rows)


CONFIGS = [GraftConfig("none"), GraftConfig("all")] + default_configs()


def test_batched_grafts_equal_the_literal_token_by_token_swap():
    recipient, donor = tiny(0), tiny(1)
    ids, valid, subject, last = prompts()
    graft = build_graft(CONFIGS, subject, last, valid, n_layers=4)
    rows = len(CONFIGS) * 3
    with torch.no_grad(), grafted(recipient, donor, graft):
        logits = recipient(input_ids=ids.repeat(len(CONFIGS), 1), attention_mask=valid.long().repeat(len(CONFIGS), 1)).logits
    assert logits.shape[0] == rows
    for c, config in enumerate(CONFIGS):
        for b in range(3):
            expected = literal_logits(recipient, donor, config, ids, valid, subject, last, b)
            got = logits[c * 3 + b, : int(valid[b].sum())]
            assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5), (config.name, b)


def test_nothing_is_the_recipient_and_everything_is_the_donor():
    recipient, donor = tiny(0), tiny(1)
    ids, valid, subject, last = prompts()
    mask = valid.long()
    with torch.no_grad():
        a = recipient(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        b = donor(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        with grafted(recipient, donor, build_graft([GraftConfig("none")], subject, last, valid, 4)):
            none = recipient(input_ids=ids, attention_mask=mask)
        with grafted(recipient, donor, build_graft([GraftConfig("all")], subject, last, valid, 4)):
            full = recipient(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    real = valid[..., None]
    assert torch.equal(none.logits, a.logits)
    # The final hidden state is B's exactly; the logits are B's only through B's unembedding.
    assert torch.allclose(full.hidden_states[-1] * real, b.hidden_states[-1] * real, atol=1e-6)
    assert torch.allclose(donor.lm_head(full.hidden_states[-1]) * real, b.logits * real, atol=1e-5)
    assert not torch.allclose(full.logits * real, b.logits * real, atol=1e-3)  # A's head is another matrix


def test_masks_and_names():
    ids, valid, subject, last = prompts()
    assert torch.equal(position_mask("not FE+LT", subject, last, valid), valid & ~subject & ~last)
    assert not position_mask("all", subject, last, valid)[~valid].any()
    assert list(layer_range("last_quarter", 32)) == list(range(24, 32)) and list(layer_range("first_half", 4)) == [0, 1]
    names = [c.name for c in default_configs()]
    assert names[:6] == ["FE", "LT", "FE+LT", "not FE", "not LT", "not FE+LT"] and "LT:o+ffn@last_quarter" in names
    with pytest.raises(Exception, match="unknown position set"):
        position_mask("middle", subject, last, valid)


def left_prompts() -> GraftPrompts:
    """prompts(), left-aligned through a reward batch (what the stage does), with answers."""
    ids, valid, subject, _ = prompts()
    starts = subject.long().argmax(1)
    ends = starts + subject.sum(1)
    none = torch.zeros(3, 1, dtype=torch.long)
    batch = RewardBatch(ids, valid.long(), torch.tensor([3, 5, 7]), none, none.bool(), starts, ends, none, none.bool())
    return left_aligned(batch)


def test_left_alignment_moves_each_prompt_to_the_end():
    ids, valid, subject, _ = prompts()
    left = left_prompts()
    for b in range(3):
        n = int(valid[b].sum())
        assert torch.equal(left.input_ids[b, 6 - n :], ids[b, :n]) and not left.attention_mask[b, : 6 - n].any()
        assert torch.equal(left.subject[b, 6 - n :], subject[b, :n]) and not left.subject[b, : 6 - n].any()
        assert left.position_ids[b, -1] == n - 1


def test_shared_prefixes_and_last_token_steps_equal_the_literal_swap():
    recipient, donor = tiny(0), tiny(1)
    ids, valid, subject, last = prompts()
    left = left_prompts()
    final = torch.zeros_like(valid)
    final[:, -1] = True
    group, first = prefix_groups(build_graft(CONFIGS, left.subject, final, left.attention_mask.bool(), 4), len(CONFIGS))
    # none, LT and every LT component graft share A's prefix; FE with FE+LT; not FE with not FE+LT; all with not LT.
    assert len(first) == 4 and len({int(group[i]) for i, c in enumerate(CONFIGS) if c.positions in ("none", "LT")}) == 1
    logits, _ = last_token_logits(recipient, donor, left, CONFIGS)
    for c, config in enumerate(CONFIGS):
        for b in range(3):
            expected = literal_logits(recipient, donor, config, ids, valid, subject, last, b)[-1]
            assert torch.allclose(logits[c, b], expected, atol=1e-5, rtol=1e-5), (config.name, b)


def test_ranks_over_chunks_and_the_donor_alone():
    recipient, donor = tiny(0), tiny(1)
    left = left_prompts()
    grafts, donors = ranks_in_chunks(recipient, donor, left, CONFIGS, batch_size=2)
    logits, _ = last_token_logits(recipient, donor, left, CONFIGS)
    for c in range(len(CONFIGS)):
        for b in range(3):
            row = logits[c, b]
            assert grafts[c, b] == sum(int(v > row[left.answer[b]]) for v in row.tolist())
    with torch.no_grad():
        alone = [donor(input_ids=left.input_ids[b : b + 1, 6 - n :]).logits[0, -1] for b, n in enumerate(left.attention_mask.sum(1).tolist())]
    assert donors.tolist() == [sum(int(v > row[left.answer[b]]) for v in row.tolist()) for b, row in enumerate(alone)]
    assert torch.equal(vocabulary_ranks(logits[0], left.answer), grafts[0])
    # B alone comes from the all-B prefix group's pass, or from a pass of its own when no group is all B.
    expected = torch.stack(alone)
    for configs in (CONFIGS, [c for c in CONFIGS if c.positions not in ("all", "not LT")]):
        _, donor_logits = last_token_logits(recipient, donor, left, configs)
        assert torch.allclose(donor_logits, expected, atol=1e-5)
