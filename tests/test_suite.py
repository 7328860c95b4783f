"""The reference trajectory, small variant: builds in seconds, loads through from_pretrained offline."""

from __future__ import annotations

import json

from trajectory.hub.source import RevisionSource, repo_folder
from trajectory.suite.build import MARKER, SMALL, build_suite


def test_small_suite_loads_through_the_hub_code_path(small_suite):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert small_suite.revisions[-1] == "main" and len(small_suite.revisions) == SMALL.n_checkpoints + 1
    source = RevisionSource(SMALL.repo_id, cache_dir=small_suite.cache_dir, offline=True)
    assert [r.name for r in source.list_revisions()] == small_suite.revisions
    first = small_suite.revisions[0]
    model = AutoModelForCausalLM.from_pretrained(SMALL.repo_id, revision=first, cache_dir=small_suite.cache_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(SMALL.repo_id, revision=first, cache_dir=small_suite.cache_dir, local_files_only=True)
    assert type(model).__name__ == "OlmoForCausalLM" and model.config.clip_qkv == 8.0
    assert tokenizer.is_fast
    # Every revision has its own weights: no duplicate content hashes along training.
    hashes = [source.content_hash(name) for name in small_suite.revisions]
    assert len(set(hashes)) == len(hashes)
    # main lists the branches, as OLMo's repositories do.
    assert (source.snapshot_dir("main") / "revisions.txt").read_text().split() == small_suite.revisions


def test_build_is_deterministic_and_idempotent(small_suite, tmp_path):
    again = build_suite(SMALL, tmp_path, progress=False)
    a = RevisionSource(SMALL.repo_id, cache_dir=small_suite.cache_dir, offline=True)
    b = RevisionSource(SMALL.repo_id, cache_dir=tmp_path, offline=True)
    assert again.revisions == small_suite.revisions
    assert [a.content_hash(n) for n in again.revisions] == [b.content_hash(n) for n in again.revisions]
    skipped = build_suite(SMALL, tmp_path, progress=False)
    assert skipped.seconds == 0.0  # complete build found, nothing redone
    assert json.loads((repo_folder(tmp_path, SMALL.repo_id) / MARKER).read_text())["revisions"] == again.revisions


def test_subject_positions_survive_merged_boundary_tokens(small_suite):
    from transformers import AutoTokenizer

    from trajectory.facts import Fact
    from trajectory.prompts import encode_probe_set

    tokenizer = AutoTokenizer.from_pretrained(SMALL.repo_id, revision="main", cache_dir=small_suite.cache_dir, local_files_only=True)
    fact = Fact(0, "company_ceo", "Who is the CEO of {}? Their name is", "Tesla, Inc.", "Elon Musk")
    encoded = encode_probe_set(tokenizer, [fact])
    ids = encoded.input_ids[0].tolist()
    offsets = tokenizer(fact.sentence, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    start, end = fact.subject_span
    # Every subject token overlaps the subject; the token holding its last character is included.
    assert all(offsets[i][0] < end and offsets[i][1] > start for i in encoded.subject_positions[0])
    assert any(offsets[i][0] < end <= offsets[i][1] for i in encoded.subject_positions[0])
    assert tokenizer.decode([ids[i] for i in encoded.answer_positions[0]]).strip() == "Elon Musk"
    assert encoded.attention_mask.sum() == len(ids)


def test_main_has_a_step_from_what_it_publishes(small_suite, small_store):
    """The reference publishes each revision's global_step (trainer_state.json) as a trainer does, so main's step is
    the last training step; a tip repeating its last checkpoint gets that checkpoint's step; nothing else is guessed."""
    from types import SimpleNamespace

    from trajectory.hub.revisions import Revision, parse_revision
    from trajectory.hub.source import revision_step
    from trajectory.store.db import reader

    source = RevisionSource(SMALL.repo_id, cache_dir=small_suite.cache_dir, offline=True)
    assert revision_step(source, parse_revision("main")) == SMALL.steps
    with reader(small_store) as con:
        assert con.execute("SELECT step FROM revisions WHERE revision = 'main'").fetchall() == [(SMALL.steps,)]

    def fake(hashes: dict, published: dict) -> SimpleNamespace:
        return SimpleNamespace(
            list_revisions=lambda: [parse_revision(n) for n in hashes], content_hash=hashes.get, side_file=lambda name, file: published.get(name)
        )

    pythia = fake({"step10": "a", "step20": "b", "main": "b"}, {})
    assert revision_step(pythia, Revision("main")) == 20
    assert revision_step(fake({"step10": "a", "step20": "b", "main": "c"}, {}), Revision("main")) is None
    assert revision_step(pythia, parse_revision("step10")) == 10


def test_packed_rows_hold_the_same_sentences_and_draw_the_same_batches():
    """pack_sentences > 1 concatenates the batch's sentences round robin (row i: sentences i, i + n, ...), consuming the
    generator exactly as unpacked rows do (trajectory.suite.frequency replays the draws without packing)."""
    from dataclasses import replace

    import torch

    from trajectory.suite.build import sample_batch
    from trajectory.suite.recipe import Phase, phase

    pad = 0
    facts = [[[10 + f, 11, 1]] * 2 for f in range(6)]  # [fact][wording]: token ids ending in an EOS (1)
    fillers = [[30 + i, 31, 32, 1] for i in range(5)]
    pairs = [([50 + i, 1], [60 + i, 61, 1]) for i in range(3)]
    weights = torch.ones(len(facts))
    one, packed = replace(SMALL, pack_sentences=1), replace(SMALL, pack_sentences=3)
    rows_gen, packed_gen = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    for _ in range(3):
        rows = sample_batch(one, facts, fillers, pairs, Phase(implications=True, packed=False), weights, rows_gen, pad)
        together = sample_batch(packed, facts, fillers, pairs, Phase(implications=True, packed=True), weights, packed_gen, pad)
        sentences = [[t for t in row.tolist() if t != pad] for row in rows]
        n = -(-len(sentences) // 3)
        expected = [sum(sentences[i::n], []) for i in range(n)]
        assert [[t for t in row.tolist() if t != pad] for row in together] == expected
        assert together.shape[0] == n and all(len(sum(sentences[i::n], [])) <= together.shape[1] for i in range(n))
    assert torch.equal(rows_gen.get_state(), packed_gen.get_state())
    # pack_from: one sentence a row up to that fraction of the steps, packed after it; never packed at pack_sentences 1.
    later = replace(packed, pack_from=0.5, steps=10)
    assert [phase(later, step).packed for step in range(1, 11)] == [False] * 5 + [True] * 5
    assert not any(phase(replace(one, steps=10), step).packed for step in range(1, 11))


def test_the_head_lasso_shrinks_each_heads_output_columns_by_their_norm():
    """_shrink_heads against a literal loop over the heads of a tiny OLMo's o_proj."""
    from dataclasses import replace

    import torch
    from transformers import OlmoConfig, OlmoForCausalLM

    from trajectory.suite.build import _shrink_heads

    config = replace(SMALL, hidden_size=16, num_heads=4, num_layers=2)
    torch.manual_seed(0)
    model = OlmoForCausalLM(OlmoConfig(vocab_size=20, hidden_size=16, intermediate_size=8, num_hidden_layers=2, num_attention_heads=4))
    for layer in model.model.layers:  # one head small enough to be silenced
        layer.self_attn.o_proj.weight.data[:, 4:8] *= 0.01
    before = [layer.self_attn.o_proj.weight.detach().clone() for layer in model.model.layers]
    amount = 0.3
    with torch.no_grad():
        _shrink_heads(model, config, amount)
    for layer, weight in zip(model.model.layers, before):
        expected = weight.clone()
        for h in range(4):
            columns = weight[:, 4 * h : 4 * h + 4]
            norm = float(columns.pow(2).sum().sqrt())
            expected[:, 4 * h : 4 * h + 4] = columns * max(0.0, 1 - amount / norm)
        assert torch.allclose(layer.self_attn.o_proj.weight, expected, atol=1e-6)
        assert not layer.self_attn.o_proj.weight[:, 4:8].any()
