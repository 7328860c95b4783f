"""Forgetting and relearning (views fact_forgetting, forgetting_over_revisions; the training page's figure)
against a literal walk over a hand-made top-1 history."""

import random

import plotly.graph_objects as go
import pytest
from synthetic_store import ANALYSIS, BUCKET, FACTS, REVISIONS, write_synthetic_ablations, write_synthetic_store

from trajectory.dashboard.build import analysis_context, build_figure, stored_analyses
from trajectory.dashboard.spec import load_dashboards
from trajectory.stats import wilson_interval
from trajectory.store.db import reader, writer

NAMES = [name for name, _, _ in REVISIONS]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = write_synthetic_store(tmp_path_factory.mktemp("forgetting") / "f.duckdb")
    write_synthetic_ablations(db)  # the frequency buckets
    rng = random.Random(4)
    history = {(fact, k): rng.random() < 0.6 for fact, _ in FACTS for k in range(len(NAMES))}
    history[(0, 0)], history[(0, 1)], history[(0, 2)], history[(0, 3)] = True, False, True, False  # lost twice, regained once
    with writer(db) as con:
        for (fact, k), right in history.items():
            con.execute("UPDATE accuracy SET top1 = ? WHERE analysis_id = ? AND fact_id = ? AND revision = ?", [right, ANALYSIS, fact, NAMES[k]])
    return db, history


def literal(history, fact):
    right = [history[(fact, k)] for k in range(len(NAMES))]
    lost = [k for k in range(1, len(right)) if right[k - 1] and not right[k]]
    regained = [k for k in range(1, len(right)) if right[k] and not right[k - 1] and any(right[: k - 1])]
    return lost, regained, right


def test_each_fact_s_losses_and_regains(store):
    db, history = store
    with reader(db) as con:
        rows = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT fact_id, n_lost, n_regained, first_top1, first_lost, last_lost, top1_final, bucket FROM fact_forgetting "
                "WHERE analysis_id = ?",
                [ANALYSIS],
            ).fetchall()
        }
    assert set(rows) == {f for f, _ in FACTS}
    for fact, _ in FACTS:
        lost, regained, right = literal(history, fact)
        first = next((NAMES[k] for k in range(len(NAMES)) if right[k]), None)
        assert rows[fact] == (
            len(lost),
            len(regained),
            first,
            NAMES[lost[0]] if lost else None,
            NAMES[lost[-1]] if lost else None,
            right[-1],
            BUCKET[fact],
        )
    assert rows[0][:2] == (2, 1)


def test_shares_per_revision_and_group_with_wilson_intervals(store):
    db, history = store
    with reader(db) as con:
        rows = con.execute(
            "SELECT revision, dimension, grp, n_right_before, n_lost, n_forgotten_before, n_regained, share_lost, "
            "share_lost_lower, share_lost_upper FROM forgetting_over_revisions WHERE analysis_id = ?",
            [ANALYSIS],
        ).fetchall()
    seen = 0
    for revision, dimension, group, n_before, n_lost, n_forgotten, n_regained, share, low, high in rows:
        k = NAMES.index(revision)
        facts = [f for f, rel in FACTS if group == "*" or (rel if dimension == "relation" else BUCKET[f]) == group]
        before = [f for f in facts if history[(f, k - 1)]]
        forgotten = [f for f in facts if not history[(f, k - 1)] and any(history[(f, j)] for j in range(k - 1))]
        assert (n_before, n_lost) == (len(before), sum(not history[(f, k)] for f in before))
        assert (n_forgotten, n_regained) == (len(forgotten), sum(history[(f, k)] for f in forgotten))
        if n_before:
            assert share == pytest.approx(n_lost / n_before)
            assert (low, high) == pytest.approx(wilson_interval(n_lost, n_before))
        else:
            assert share is None and low is None
        seen += 1
    assert seen == (len(NAMES) - 1) * (2 + 2 + len(set(BUCKET.values())))  # '*' twice, two relations, three buckets


def test_the_training_page_draws_the_losses(store):
    db, history = store
    spec = next(s for s in load_dashboards() if s.name == "training")
    with reader(db) as con:
        (summary,) = stored_analyses(con)
        fig = go.Figure(build_figure(con, next(f for f in spec.figures if f.id == "forgetting"), analysis_context(summary)))
    (whole,) = [t for t in fig.data if t.name == "all facts" and t.visible is not False and t.fill != "toself"]
    expected = []
    for k in range(1, len(NAMES)):
        before = [f for f, _ in FACTS if history[(f, k - 1)]]
        expected.append(sum(not history[(f, k)] for f in before) / len(before) if before else None)
    assert list(whole.y) == pytest.approx(expected)
