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
