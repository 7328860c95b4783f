"""The training loss a run publishes (trainer_state.json's log_history), stored and drawn beside top-1 (issue #38,
item 4)."""

from __future__ import annotations

import json

import polars as pl

from trajectory.dashboard.time_series import loss_and_accuracy
from trajectory.hub.source import TRAINER_STATE
from trajectory.paths import SQL_DIR
from trajectory.pipeline.training_loss import logged_losses
from trajectory.store.query import run_sql


def test_the_trainers_log_history_gives_its_training_losses_only():
    state = {
        "global_step": 30,
        "log_history": [
            {"epoch": 0.1, "grad_norm": 1.2, "learning_rate": 1e-3, "loss": 4.25, "step": 10},
            {"epoch": 0.1, "eval_loss": 3.9, "step": 10},  # an evaluation: no training loss
            {"loss": float("nan"), "step": 15},
            {"loss": 3.5, "step": 20},
            {"loss": 3.25, "step": 20},  # logged twice (a resumed run): the last
            {"loss": True, "step": 25},
            {"loss": 2.0, "step": "30"},
            "junk",
            {"loss": 2.5, "step": 30},
            {"train_loss": 3.0, "train_runtime": 12.0, "step": 30},  # the Trainer's summary at the end
        ],
    }
    assert logged_losses(state) == [(10, 4.25), (20, 3.25), (30, 2.5)]
    assert logged_losses({"global_step": 3}) == [] and logged_losses([]) == []


def test_an_ingest_stores_the_newest_published_history_and_the_page_draws_it(small_store, small_suite):
    snapshots = small_suite.cache_dir / f"models--{small_suite.repo_id.replace('/', '--')}"
    main = (snapshots / "refs" / "main").read_text().strip()
    state = json.loads((snapshots / "snapshots" / main / TRAINER_STATE).read_text())
    published = logged_losses(state)
    assert published and published[-1][0] == state["global_step"]  # the build logs up to its last step
    stored = run_sql(small_store, "SELECT model, step, loss FROM training_loss ORDER BY step")
    assert stored.rows() == [(small_suite.repo_id, step, loss) for step, loss in published]

    analysis = run_sql(small_store, "SELECT analysis_id FROM analyses").item()
    query = (
        (SQL_DIR / "dashboards" / "training_loss.sql").read_text().replace("$model", f"'{small_suite.repo_id}'").replace("$analysis", f"'{analysis}'")
    )
    frame = run_sql(small_store, query)
    fig = loss_and_accuracy(frame, None)
    traces = {t.name: t for t in fig.data}
    assert list(traces["training loss"].x) == [s for s, _ in published] and list(traces["training loss"].y) == [v for _, v in published]
    top1 = run_sql(
        small_store,
        f"""SELECT v.step, avg(a.top1::INTEGER) FROM accuracy a JOIN revisions v USING (analysis_id, revision)
                                    WHERE v.step IS NOT NULL AND a.analysis_id = '{analysis}' GROUP BY ALL ORDER BY 1""",
    )
    assert list(traces["top-1 (all probe facts)"].x) == top1[:, 0].to_list()
    assert list(traces["top-1 (all probe facts)"].y) == top1[:, 1].to_list()
    without = loss_and_accuracy(frame.filter(pl.col("series") != "loss"), None)
    assert [t.name for t in without.data if t.name == "training loss"] == []
    assert "publish no training loss" in without.layout.annotations[0].text
