"""End to end: ingest the small reference trajectory, query it, kill an ingest and resume it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from trajectory.cli import main
from trajectory.store.query import run_sql

COUNTS = """SELECT revision, (SELECT count(*) FROM roles r WHERE r.revision = v.revision) AS roles,
                   (SELECT count(*) FROM accuracy a WHERE a.revision = v.revision) AS accuracy,
                   (SELECT count(*) FROM component_scores s WHERE s.revision = v.revision) AS scores
            FROM revisions v ORDER BY ordinal"""


def test_ingest_query_and_rerun(small_store, small_suite, tmp_path, capsys):
    db = tmp_path / "t.duckdb"
    shutil.copy(small_store, db)  # the session's ingest of the small reference, every stage
    counts = run_sql(db, COUNTS)
    assert counts["revision"].to_list() == small_suite.revisions
    # 10 relations × (8 heads + 2 FFNs) role rows; 160 facts.
    assert set(counts["roles"].to_list()) == {100} and set(counts["accuracy"].to_list()) == {160}
    # The memory plan is said once (the prompts are the same at every revision): at most 64 at a time.
    plans = [line for line in (small_store.parent / "ingest.log").read_text().splitlines() if line.startswith("IFR: ")]
    assert len(plans) == 1 and plans[0].startswith("IFR: 160 prompts of up to") and ", 64 at a time" in plans[0]
    assert main(["-q", "ingest", "-p", "reference-small", "--db", str(db)]) == 0  # nothing to redo
    out = capsys.readouterr().out
    assert "of 5 selected revisions, stored: 5 ifr, 5 ablation, 5 effects, 5 grafting, 5 extractive" in out and "0 revisions to ingest" in out
    assert run_sql(db, COUNTS).equals(counts)
    assert main(["-q", "ingest", "-p", "reference-small", "--db", str(db), "-r", "main", "--force"]) == 0
    assert run_sql(db, COUNTS).equals(counts)  # redone, not duplicated
    views = run_sql(db, "SELECT count(*) AS n FROM role_iou WHERE revision = 'main' AND iou IS NOT NULL AND iou <> 1")
    assert views["n"][0] == 0  # the final revision has IoU 1 with itself wherever defined
    for name in ("final_roles", "active_head_jumps", "facts_learned_late", "relation_heads_that_stayed"):
        assert main(["query", name, "--db", str(db), "--format", "csv"]) == 0
    assert main(["query", "SELECT count(*) AS n FROM circuits", "--db", str(db), "--format", "json"]) == 0
    assert '"n"' in capsys.readouterr().out
    assert main(["query", "nonsense", "--db", str(db)]) == 2


def test_unknown_revision_and_bad_pipeline_fail_cleanly(small_suite, tmp_path, capsys):
    db = tmp_path / "t.duckdb"
    assert main(["-q", "ingest", "-p", "reference-small", "--db", str(db), "-r", "step9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown revision 'step9'; nearest:") and err.count("\n") == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nrepo = 3\n")
    assert main(["ingest", "-p", str(bad), "--db", str(db)]) == 2
    assert not db.exists()


@pytest.mark.slow
def test_killed_ingest_resumes_without_loss_or_duplicates(small_suite, tmp_path):
    db = tmp_path / "k.duckdb"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "trajectory", "-q", "ingest", "-p", "reference-small", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    stored = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("stored ") and "(" not in line.split(":")[0]:  # the IFR stage of a revision
            stored += 1
            if stored == 2:
                time.sleep(0.2)  # land somewhere inside the third revision's work or write
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=30)
    partial = run_sql(db, COUNTS)
    assert 2 <= partial.height < len(small_suite.revisions)
    assert set(partial["roles"].to_list()) == {100}  # every stored revision is complete
    assert main(["-q", "ingest", "-p", "reference-small", "--db", str(db)]) == 0
    full = run_sql(db, COUNTS)
    assert full["revision"].to_list() == small_suite.revisions
    assert set(full["roles"].to_list()) == {100} and set(full["accuracy"].to_list()) == {160}
    # The later stages too (ablation, effects, grafting, extractive): one mark each per revision, and rows for each (none
    # lost, none doubled).
    stages = run_sql(
        db,
        """SELECT s.revision, count(*) AS marks, count(DISTINCT s.stage) AS stages,
                            (SELECT count(*) FROM ocr o WHERE o.revision = s.revision) AS ocr_rows,
                            (SELECT count(*) FROM grafts g WHERE g.revision = s.revision) AS graft_rows
                            FROM stage_runs s GROUP BY s.revision ORDER BY s.revision""",
    )
    assert stages.height == len(small_suite.revisions) and set(stages["marks"].to_list()) == set(stages["stages"].to_list()) == {4}
    assert stages["ocr_rows"].n_unique() == 1 and stages["ocr_rows"][0] > 0
    assert sorted(stages["graft_rows"].to_list()) == [0] + [stages["graft_rows"].max()] * (len(small_suite.revisions) - 1)


def test_the_logit_lens_is_stored_with_each_revision_and_its_last_layer_is_the_prediction(small_store):
    check = run_sql(
        small_store,
        """
        SELECT count(*) AS n, count(*) FILTER (WHERE l.rank_last <> a.answer_rank) AS disagree,
               count(DISTINCT l.revision) AS revisions, count(DISTINCT l.fact_id) AS facts
        FROM logit_lens l JOIN accuracy a USING (analysis_id, revision, fact_id)
        WHERE l.layer = (SELECT max(layer) FROM logit_lens)""",
    )
    assert check.row(0) == (5 * 160, 0, 5, 160)
    (layers,) = run_sql(small_store, "SELECT count(DISTINCT layer) AS n FROM logit_lens")["n"]
    assert layers == 2


def revision_order(db) -> list[str]:
    """The store's revisions in training order."""
    return run_sql(db, "SELECT DISTINCT revision, ordinal FROM revisions ORDER BY ordinal")["revision"].to_list()


def test_the_ablation_stage_runs_with_each_revision(small_store):
    """Per revision: the four fact targets for every fact; role sets measured on the held-out half of each relation's
    facts only, with two draws, and the role test's 19 on every 2nd revision and the last; R_clean equal to R with
    nothing ablated recomputed from the model, and frequency buckets."""
    import torch

    from trajectory.config import load_pipeline
    from trajectory.facts import load_builtin
    from trajectory.pipeline.sources import open_source
    from trajectory.prompts import encode_prompts, fact_prompts, reward

    targets = run_sql(
        small_store,
        """SELECT revision, target, count(*) AS n, count(DISTINCT fact_id) AS facts
                                      FROM ablations GROUP BY ALL ORDER BY ALL""",
    )
    per_revision = {}
    for revision, target, n, facts in targets.rows():
        per_revision.setdefault(revision, {})[target] = (n, facts)
    assert len(per_revision) == 5
    held_out = sum(n // 2 for n in run_sql(small_store, "SELECT count(*) AS n FROM facts GROUP BY relation")["n"])
    draws = dict(
        run_sql(
            small_store,
            """SELECT v.ordinal, max(b.draw) + 1 AS draws FROM ablations b JOIN revisions v USING (revision)
                                         WHERE b.target = 'random' GROUP BY ALL""",
        ).rows()
    )
    for ordinal, (revision, counts) in enumerate(sorted(per_revision.items(), key=lambda kv: revision_order(small_store).index(kv[0]))):
        assert all(counts[t] == (160, 160) for t in ("clean", "circuit_only", "complement", "none"))
        if "role" in counts:  # the small reference's only sets are general (every relation's held-out facts)
            assert counts["role"] == (held_out, held_out) and counts["random"][1] == held_out
            assert draws[ordinal] == (19 if ordinal % 2 == 0 or ordinal == 4 else 2)
            assert counts["random"][0] == draws[ordinal] * counts["role"][0]
    source = open_source(load_pipeline("reference-small"), progress=False)
    model, tokenizer = source.load("main")
    batch = encode_prompts(tokenizer, fact_prompts(load_builtin()))
    with torch.no_grad():
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    expected = reward(logits, batch.position, batch.answer, batch.candidates, batch.candidate_mask)
    stored = run_sql(small_store, "SELECT reward FROM ablations WHERE revision = 'main' AND target = 'clean' ORDER BY fact_id")
    torch.testing.assert_close(torch.tensor(stored["reward"].to_numpy()), expected.double(), rtol=1e-4, atol=1e-4)
    buckets = run_sql(small_store, "SELECT count(DISTINCT revision) AS revisions, count(DISTINCT fact_id) AS facts FROM fact_frequency")
    assert buckets.row(0) == (5, 160)
    assert run_sql(small_store, "SELECT count(*) AS n FROM faithfulness_over_revisions")["n"][0] > 0


def test_an_ingest_with_nothing_left_stores_intervals_a_stopped_one_lacked(small_store, tmp_path):
    """An ingest that stopped in its intervals (after every revision was stored) gets them on the next run,
    which has no revision left to ingest."""
    from trajectory.config import load_pipeline
    from trajectory.pipeline.orchestrator import ingest
    from trajectory.store.db import reader, writer

    db = tmp_path / "copy.duckdb"
    shutil.copy(small_store, db)
    with reader(db) as con:
        expected = con.sql("SELECT measure, revision, scope, category, estimate::VARCHAR FROM intervals ORDER BY ALL").fetchall()
    with writer(db) as con:
        con.execute("DELETE FROM intervals; DELETE FROM comparisons; DELETE FROM role_tests")
    assert ingest(load_pipeline("reference-small"), db, progress=False) == 0
    with reader(db) as con:
        assert con.sql("SELECT measure, revision, scope, category, estimate::VARCHAR FROM intervals ORDER BY ALL").fetchall() == expected
