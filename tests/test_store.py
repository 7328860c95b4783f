"""The store: schema versions, IoU and Markov views on a hand-made role table, queries."""

import duckdb
import polars as pl
import pytest

from trajectory.errors import TrajectoryError
from trajectory.store.db import SCHEMA_VERSION, reader, writer
from trajectory.store.query import run_sql


def _hand_made(db):
    # Model m, three revisions; relation r; heads (0,0), (0,1), (1,0).
    roles = {
        "s1": {(0, 0): "general", (0, 1): "deactivated", (1, 0): "relation"},
        "s2": {(0, 0): "general", (0, 1): "entity", (1, 0): "relation"},
        "main": {(0, 0): "general", (0, 1): "entity", (1, 0): "fact"},
    }
    with writer(db) as con:
        for ordinal, (revision, members) in enumerate(roles.items()):
            con.execute("INSERT INTO revisions (analysis_id, model, revision, ordinal, run_id, ingested_at) "
                        "VALUES ('a', 'm', ?, ?, 'x', now())", [revision, ordinal])
            for (layer, head), role in members.items():
                con.execute("INSERT INTO roles VALUES ('a', 'm', ?, 'r', 'head', ?, ?, ?)", [revision, layer, head, role])


def test_iou_with_final_revision(tmp_path):
    db = tmp_path / "s.duckdb"
    _hand_made(db)
    iou = run_sql(db, "SELECT revision, role, iou FROM role_iou WHERE relation = 'r' AND kind = 'head'")
    get = lambda rev, role: iou.filter((pl.col("revision") == rev) & (pl.col("role") == role))["iou"][0]
    assert get("s1", "general") == 1.0
    assert get("s1", "entity") == 0.0  # {} vs {(0,1)}
    assert get("s2", "entity") == 1.0
    assert get("s1", "relation") == 0.0  # {(1,0)} vs {}
    assert get("main", "fact") == 1.0
    assert get("s1", "fact") == 0.0
    assert get("main", "relation") is None  # both empty: undefined
    pooled = run_sql(db, "SELECT iou FROM role_iou WHERE relation = '*' AND revision = 's1' AND role = 'general'")
    assert pooled["iou"][0] == 1.0


def test_markov_transitions_per_pair_and_pooled(tmp_path):
    db = tmp_path / "s.duckdb"
    _hand_made(db)
    t = run_sql(db, "SELECT from_revision, to_revision, from_role, to_role, n, p FROM role_transitions WHERE relation = 'r'")
    row = lambda a, b, f, to: t.filter((pl.col("from_revision") == a) & (pl.col("to_revision") == b) & (pl.col("from_role") == f) & (pl.col("to_role") == to))
    assert row("s1", "s2", "deactivated", "entity")["p"][0] == 1.0
    assert row("s2", "main", "relation", "fact")["p"][0] == 1.0
    assert row("s2", "main", "relation", "relation")["p"][0] == 0.0
    assert row("s1", "s2", "fact", "fact")["p"][0] is None  # no fact members at s1: undefined, not zero
    pooled = row("*", "*", "general", "general")
    assert pooled["n"][0] == 2 and pooled["p"][0] == 1.0
    assert row("*", "*", "relation", "fact")["p"][0] == 0.5
    assert t.filter(pl.col("from_revision") == "main").height == 0  # main is last: nothing follows


def test_schema_versions(tmp_path):
    db = tmp_path / "s.duckdb"
    with pytest.raises(TrajectoryError, match="no store"):
        with reader(db):
            pass
    with writer(db):
        pass
    with reader(db) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] == SCHEMA_VERSION
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO schema_version (version) VALUES (?)", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(TrajectoryError, match="newer than this trajectory"):
        with writer(db):
            pass
