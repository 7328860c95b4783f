"""The grafting stage end to end on the small reference: stored ranks equal direct computations (the
models alone, and the literal token-by-token weight swap of tests/test_grafting.py), every pair is
stored once beside the other stages' marks, the stage resumes, and a chosen pair is stored apart."""

from __future__ import annotations

import shutil

import pytest
import torch
from test_grafting import literal_logits

from trajectory.config import load_pipeline
from trajectory.errors import TrajectoryError
from trajectory.facts import load_builtin
from trajectory.graft_names import GraftConfig, default_configs
from trajectory.pipeline.orchestrator import ingest
from trajectory.pipeline.sources import open_source
from trajectory.prompts import encode_prompts, fact_prompts
from trajectory.store.db import reader

FACTS_CHECKED = [0, 57, 131]


def ranks_of(logits: torch.Tensor, answer: int) -> int:
    return int((logits > logits[answer]).sum())


def test_stored_ranks_equal_direct_computations(small_store, small_pair):
    names, recipient, donor, tokenizer = small_pair
    facts = load_builtin()
    prompts = fact_prompts(facts)
    batch = encode_prompts(tokenizer, [prompts[i] for i in FACTS_CHECKED], candidates=False)
    valid = batch.attention_mask.bool()
    positions = torch.arange(valid.shape[1])[None]
    subject = (positions >= batch.subject_start[:, None]) & (positions < batch.subject_end[:, None])
    last = positions == (valid.sum(1) - 1)[:, None]
    with reader(small_store) as con:
        stored = {
            (c, f): r
            for c, f, r in con.sql(
                "SELECT config, fact_id, answer_rank FROM grafts WHERE revision = $a AND donor_revision = $b", params={"a": names[1], "b": names[2]}
            ).fetchall()
        }
    for b, index in enumerate(FACTS_CHECKED):
        fact_id, answer = prompts[index].key, int(batch.answer[b])
        n = int(valid[b].sum())
        with torch.no_grad():
            assert stored[("A", fact_id)] == ranks_of(recipient(input_ids=batch.input_ids[b : b + 1, :n]).logits[0, -1], answer)
            assert stored[("B", fact_id)] == ranks_of(donor(input_ids=batch.input_ids[b : b + 1, :n]).logits[0, -1], answer)
        for name in ("FE", "FE+LT", "not LT", "LT:o+ffn@last_half"):
            logits = literal_logits(recipient, donor, GraftConfig.parse(name), batch.input_ids, valid, subject, last, b)[-1]
            assert stored[(name, fact_id)] == ranks_of(logits, answer), (name, fact_id)


def test_every_pair_once_beside_the_other_stages(small_store):
    names = [r.name for r in open_source(load_pipeline("reference-small"), progress=False).list_revisions()]
    with reader(small_store) as con:
        marks = con.sql("SELECT stage, revision, to_revision FROM stage_runs ORDER BY stage, revision").fetchall()
        per_pair = con.sql("""SELECT revision, donor_revision, count(DISTINCT config) AS configs, count(*) AS n_rows,
                              bool_and(learned = (rank_a > 0 AND rank_b = 0)) AS learned_ok
                              FROM grafts JOIN (SELECT revision, donor_revision, fact_id, max(answer_rank) FILTER (WHERE config = 'A') AS rank_a,
                                                       max(answer_rank) FILTER (WHERE config = 'B') AS rank_b
                                                FROM grafts GROUP BY ALL) USING (revision, donor_revision, fact_id)
                              GROUP BY ALL ORDER BY revision""").fetchall()
    assert {m for m in marks if m[0] == "grafting"} == {("grafting", a, b) for a, b in zip(names, names[1:] + [None])}
    assert {m[1] for m in marks if m[0] == "extractive"} == set(names)  # the grafting write kept the extractive marks
    configs = 2 + len(default_configs())
    assert sorted(per_pair) == sorted((a, b, configs, configs * 160, True) for a, b in zip(names, names[1:]))


def test_resume_and_a_chosen_pair(small_store, tmp_path, capsys):
    db = tmp_path / "copy.duckdb"
    shutil.copy(small_store, db)
    config = load_pipeline("reference-small")
    names = [r.name for r in open_source(config, progress=False).list_revisions()]
    assert ingest(config, db, progress=False) == 0
    assert "0 revisions to ingest" in capsys.readouterr().out
    assert ingest(config, db, progress=False, graft_pair=(names[0], names[-1])) == 0
    with reader(db) as con:
        chosen = con.sql(
            "SELECT count(*), bool_or(consecutive) FROM graft_outcomes WHERE donor_revision = $b AND revision = $a",
            params={"a": names[0], "b": names[-1]},
        ).fetchall()[0]
        stages = con.sql("SELECT stage FROM stage_runs WHERE revision = $a ORDER BY stage", params={"a": names[0]}).fetchall()
        consecutive = con.sql(
            "SELECT count(*) FROM grafts WHERE revision = $a AND donor_revision = $b", params={"a": names[0], "b": names[1]}
        ).fetchall()[0][0]
    assert chosen == (len(default_configs()) * 160, False)
    assert [s for (s,) in stages] == ["ablation", "effects", "extractive", "grafting", f"grafting:{names[-1]}"]
    assert consecutive == (2 + len(default_configs())) * 160  # the consecutive pair of the same recipient is kept
    capsys.readouterr()
    assert ingest(config, db, progress=False, graft_pair=(names[0], names[-1])) == 0
    assert "is stored" in capsys.readouterr().out
    with pytest.raises(TrajectoryError, match="unknown revision .step999999."):
        ingest(config, db, progress=False, graft_pair=(names[0], "step999999"))


def test_pipeline_graft_names_are_checked(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[model]\nrepo = "a/b"\n[grafting]\nenabled = true\nconfigs = ["default", "LT:ffn@last_half", "LT:o@middle"]\n')
    with pytest.raises(TrajectoryError, match=r"p.toml: grafting.configs: graft 'LT:o@middle'"):
        load_pipeline(path)
    path.write_text('[model]\nrepo = "a/b"\n[grafting]\nconfigs = ["default", "LT:ffn+o@all", "FE"]\n')
    assert load_pipeline(path).grafting.configs == tuple(c.name for c in default_configs()) + ("LT:o+ffn@all",)
