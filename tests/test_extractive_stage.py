"""The extractive stage end to end on the small reference: stored rows equal a direct computation, the
views link them to the roles as defined, the stage resumes on its own and never half-writes."""

from __future__ import annotations

import math

import polars as pl
import pytest
import torch

from trajectory.config import load_pipeline
from trajectory.errors import TrajectoryError
from trajectory.extractive.finetune import FinetuneRecipe, finetune, trained_parameters
from trajectory.extractive.ocr import reference_probes
from trajectory.extractive.stage import score_prompts
from trajectory.facts import load_builtin
from trajectory.pipeline.orchestrator import ingest
from trajectory.pipeline.sources import open_source
from trajectory.pipeline.stages.extractive import extractive_settings
from trajectory.prompts import candidate_ranks, fact_prompts
from trajectory.store.db import reader


def frame(con, sql: str, params=None) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params or {}).to_arrow_table())


def test_stored_pretraining_scores_equal_a_direct_computation(small_store, small_pair):
    config = load_pipeline("reference-small")
    names, before, after, tokenizer = small_pair
    direct = score_prompts(before, after, tokenizer, fact_prompts(load_builtin()), extractive_settings(config), "cpu")
    with reader(small_store) as con:
        stored = frame(
            con,
            """SELECT fact_id, layer, head, informative, upstream, downstream FROM extractive_scores
                               WHERE revision = $r AND measure = 'pretraining' AND kind = 'head' AND fact_id IS NOT NULL
                               ORDER BY fact_id, layer, head""",
            {"r": names[1]},
        )
        to_revision = con.sql(
            "SELECT DISTINCT to_revision FROM extractive_scores WHERE revision = $r AND measure = 'pretraining'", params={"r": names[1]}
        ).fetchall()
    assert to_revision == [(names[2],)]
    n = len(load_builtin())
    for score in ("informative", "upstream", "downstream"):
        expected = getattr(direct, f"{score}_heads").reshape(n, -1)
        assert torch.allclose(torch.tensor(stored[score].to_numpy()).reshape(n, -1), expected.double(), rtol=1e-5, atol=1e-9)
    assert stored["informative"].abs().sum() > 0


def test_relation_rows_are_means_and_views_follow_their_definitions(small_store):
    with reader(small_store) as con:
        # Relation rows are the mean of their facts' rows.
        gap = con.sql("""
            WITH per_fact AS (
                SELECT e.revision, e.relation, e.kind, e.layer, coalesce(e.head, -1) AS head, avg(e.informative) AS mean
                FROM extractive_scores e WHERE e.measure = 'pretraining' AND e.fact_id IS NOT NULL GROUP BY ALL)
            SELECT max(abs(p.mean - e.informative)), count(*) FROM per_fact p
            JOIN extractive_scores e ON e.revision = p.revision AND e.relation = p.relation AND e.kind = p.kind
                 AND e.layer IS NOT DISTINCT FROM p.layer AND coalesce(e.head, -1) = p.head
            WHERE e.fact_id IS NULL AND e.measure = 'pretraining'""").fetchall()[0]
        assert gap[1] > 0 and gap[0] < 1e-12
        # Shares of each split add up to 1.
        sums = frame(con, "SELECT sum(share) AS s FROM extractive_shares GROUP BY analysis_id, revision, measure, hop, score, split")
        assert ((sums["s"] - 1.0).abs() < 1e-9).all()
        # The role of a scored component is its role in `roles` for that relation (deactivated when absent).
        joined = frame(
            con,
            """SELECT e.role, r.role AS stored FROM extractive_roles e
                               LEFT JOIN roles r ON r.revision = e.revision AND r.relation = e.relation AND r.kind = e.kind
                                    AND r.layer = e.layer AND coalesce(r.head, -1) = e.head""",
        )
        assert (joined["role"] == joined["stored"].fill_null("deactivated")).all()
        # The OCR curve: means of the probe rows; chance (n - 1) / 2.
        ocr = frame(con, "SELECT revision, hop, implication_rank, n_candidates FROM ocr")
        curve = frame(con, "SELECT revision, hop, implication_rank, chance FROM ocr_curve")
    expected = ocr.group_by("revision", "hop").agg(
        pl.col("implication_rank").mean().alias("mean"), ((pl.col("n_candidates") - 1) / 2).mean().alias("chance_expected")
    )
    both = curve.join(expected, on=["revision", "hop"])
    assert both.height == curve.height == expected.height > 0
    assert ((both["implication_rank"] - both["mean"]).abs() < 1e-12).all()
    assert ((both["chance"] - both["chance_expected"]).abs() < 1e-12).all()


def test_ocr_emergence_is_the_first_revision_below_chance(small_store):
    with reader(small_store) as con:
        curve = frame(
            con,
            """SELECT c.hop, c.ordinal, c.implication_rank, c.chance, c.implication_rank_se,
                                     avg(o.implication_rank_before) AS before
                              FROM ocr_curve c JOIN ocr o USING (analysis_id, revision, hop) GROUP BY ALL ORDER BY c.ordinal""",
        )
        emergence = frame(con, "SELECT hop, ocr_ordinal, first_entity_head_ordinal FROM ocr_emergence")
        entity = con.sql("""SELECT min(v.ordinal) FROM roles r JOIN revisions v USING (analysis_id, revision)
                            WHERE r.kind = 'head' AND r.role = 'entity'""").fetchall()[0][0]
    for row in emergence.iter_rows(named=True):
        below = [
            r["ordinal"]
            for r in curve.filter(pl.col("hop") == row["hop"]).iter_rows(named=True)
            if r["implication_rank"] < r["chance"] - max(1.0, 2 * (r["implication_rank_se"] or 0)) and r["before"] - r["implication_rank"] >= 1.0
        ]
        assert row["ocr_ordinal"] == (below[0] if below else None)
        assert row["first_entity_head_ordinal"] == entity


def test_last_revision_runs_the_ocr_experiment_only(small_store):
    with reader(small_store) as con:
        last = con.sql("SELECT revision FROM revisions ORDER BY ordinal DESC LIMIT 1").fetchall()[0][0]
        measures = con.sql("SELECT DISTINCT measure FROM extractive_scores WHERE revision = $r", params={"r": last}).fetchall()
        stage = con.sql("SELECT to_revision FROM stage_runs WHERE revision = $r AND stage = 'extractive'", params={"r": last}).fetchall()
        n_stage = con.sql("SELECT count(*) FROM stage_runs WHERE stage = 'extractive'").fetchall()[0][0]
        n_revisions = con.sql("SELECT count(*) FROM revisions").fetchall()[0][0]
    assert measures == [("finetune",)] and stage == [(None,)] and n_stage == n_revisions


def test_the_stage_resumes_on_its_own_and_never_half_writes(small_suite, tmp_path, monkeypatch, capsys):
    db = tmp_path / "stages.duckdb"
    config = load_pipeline("reference-small")
    first_two = ",".join(r for r in small_suite.revisions[:2])
    assert (
        ingest(
            config.with_overrides({"extractive.enabled": False, "grafting.enabled": False, "ablation.enabled": False, "effects.enabled": False}),
            db,
            spec=first_two,
            progress=False,
        )
        == 0
    )
    with reader(db) as con:
        ingested = con.sql("SELECT revision, ingested_at FROM revisions ORDER BY revision").fetchall()
        assert con.sql("SELECT count(*) FROM stage_runs").fetchall()[0][0] == 0

    # A crash while writing a pair stage (grafting, then extractive) of the second revision: nothing of it is stored.
    import trajectory.store.db as db_module

    real_insert = db_module.insert_frame

    def failing_insert(con, table, frame):
        if table == "stage_runs" and frame["revision"][0] == small_suite.revisions[1]:
            raise TrajectoryError("disk full (simulated)")
        real_insert(con, table, frame)

    monkeypatch.setattr(db_module, "insert_frame", failing_insert)
    assert ingest(config, db, spec=first_two, progress=False) == 1
    with reader(db) as con:
        assert con.sql("SELECT DISTINCT revision FROM stage_runs").fetchall() == [(small_suite.revisions[0],)]
        for table in ("extractive_scores", "grafts"):
            partial = con.sql(f"SELECT count(*) FROM {table} WHERE revision = $r", params={"r": small_suite.revisions[1]})
            assert partial.fetchall()[0][0] == 0
        assert con.sql("SELECT count(*) FROM ocr WHERE revision = $r", params={"r": small_suite.revisions[1]}).fetchall()[0][0] == 0
    monkeypatch.setattr(db_module, "insert_frame", real_insert)
    capsys.readouterr()
    assert ingest(config, db, spec=first_two, progress=False) == 0
    assert "1 revisions to ingest" in capsys.readouterr().out
    with reader(db) as con:
        assert con.sql("SELECT stage, count(*) FROM stage_runs GROUP BY stage ORDER BY stage").fetchall() == [
            ("ablation", 2),
            ("effects", 2),
            ("extractive", 2),
            ("grafting", 2),
        ]
        # The IFR stage was not redone.
        assert con.sql("SELECT revision, ingested_at FROM revisions ORDER BY revision").fetchall() == ingested
    assert ingest(config, db, spec=first_two, progress=False) == 0
    assert "0 revisions to ingest" in capsys.readouterr().out


def test_candidate_ranks_literal():
    torch.manual_seed(0)
    logits = torch.randn(6, 30)
    logits[0, 5] = logits[0, 7]  # a tie counts in the answer's favour
    answer = torch.tensor([5, 1, 2, 3, 4, 9])
    candidates = torch.randint(0, 30, (6, 8))
    candidates[:, 0] = answer
    mask = torch.rand(6, 8) > 0.3
    mask[:, 0] = True
    candidates[0, 1], mask[0, 1] = 7, True
    ranks = candidate_ranks(logits, answer, candidates, mask)
    for b in range(6):
        others = {int(c) for c, m in zip(candidates[b], mask[b]) if m}
        assert ranks[b] == sum(1 for c in others if logits[b, c] > logits[b, answer[b]])


def test_finetuning_trains_only_what_it_says(small_suite):
    source = open_source(load_pipeline("reference-small"), progress=False)
    model, tokenizer = source.load(small_suite.revisions[-1])
    facts = [p.fact for p in reference_probes(load_builtin())]
    original = {n: p.detach().clone() for n, p in model.named_parameters()}
    tuned, losses = finetune(model, tokenizer, facts, FinetuneRecipe(learning_rate=1e-2, epochs=3, train="late"))
    late = {id(p) for p in trained_parameters(tuned, "late")}
    for (name, p), (_, q) in zip(tuned.named_parameters(), model.named_parameters()):
        assert torch.equal(q, original[name]), f"the original model changed: {name}"
        assert (not torch.equal(p, original[name])) == (id(p) in late), name
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert math.isfinite(losses[-1])


def test_pipeline_keys_are_validated(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nrepo = "x/y"\n[extractive]\nocr = "moon"\n')
    with pytest.raises(TrajectoryError, match="extractive.ocr must be one of world, reference, none"):
        load_pipeline(bad)
    bad.write_text('[model]\nrepo = "x/y"\n[extractive.finetune]\nepochs = 0\n')
    with pytest.raises(TrajectoryError, match="extractive.finetune.epochs must be positive"):
        load_pipeline(bad)


def test_group_rows_average_the_defined_scores_only():
    from trajectory.extractive.measure import UpdateScores
    from trajectory.extractive.stage import score_frame

    def scores(b, values):
        def t(*shape):  # a fresh tensor per field
            return torch.tensor(values, dtype=torch.float32).reshape(b, *shape)

        return UpdateScores(t(1, 1), t(1), t(), t(), t(1, 1), t(1), t(1, 1), t(1), t(), t())

    upstream_nan = scores(3, [1.0, 3.0, 5.0])
    upstream_nan.upstream_heads[1] = float("nan")
    frame = score_frame(upstream_nan, ["a", "a", "b"], {"a": "a", "b": "b"}, [10, 11, 12])
    heads = frame.filter((pl.col("kind") == "head") & pl.col("fact_id").is_null()).sort("relation")
    assert heads["informative"].to_list() == [2.0, 5.0]
    assert heads["upstream"].to_list() == [1.0, 5.0]  # the NaN prompt is left out of its group's mean
    per_fact = frame.filter((pl.col("kind") == "head") & (pl.col("fact_id") == 11))
    assert per_fact["upstream"].to_list() == [None]  # stored as NULL
