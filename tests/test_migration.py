"""A store written by schema version 1 (before analyses) migrates in one transaction, and its views give
the numbers the version-1 views gave; a migration that fails leaves the store as it was."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import polars as pl
import pytest

from trajectory.facts import ProbeSet, load_builtin
from trajectory.paths import SQL_DIR
from trajectory.roles.scores import ROLES
from trajectory.store import db as store_db
from trajectory.store.analyses import Analysis
from trajectory.store.db import SCHEMA_VERSION, reader

V1_VIEWS = Path(__file__).parent / "fixtures" / "v1_role_views.sql"
MODEL = "org/tiny-model"
REVISIONS = ["step10-tokens1K", "step20-tokens2K", "main"]
FACTS = [f for f in load_builtin() if f.relation in ("city_in_country", "company_ceo")][:6]
VIEWS = {
    "role_counts": "model, revision, relation, kind, role",
    "role_iou": "model, revision, relation, kind, role",
    "role_transitions": "model, from_revision, to_revision, relation, kind, from_role, to_role",
    "accuracy_by_relation": "model, revision, relation",
    "active_components": "model, revision, kind",
    "component_roles": "model, revision, relation, kind, layer, head",
    "strongest_roles": "model, revision, kind, layer, head",
    "revision_axis": "model, revision",
}


def write_v1_store(path: Path, mixed: bool = False) -> None:
    """A version-1 store as the version-1 ingest wrote it: run1 (τ 0.01) wrote every revision; with
    ``mixed``, a --force with another pipeline (run2, τ 0.05) then rewrote main."""
    rng = random.Random(0)
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP DEFAULT current_timestamp)")
    con.execute((SQL_DIR / "schema" / "001_init.sql").read_text())
    con.execute("INSERT INTO schema_version (version) VALUES (1)")
    con.execute(
        "INSERT INTO runs VALUES ('run1', ?, 'reference', 'builtin', 0.01, 0.1, 'float32', 'cpu', '{}', TIMESTAMP '2026-01-01 10:00:00')", [MODEL]
    )
    con.execute("INSERT INTO runs VALUES ('run2', ?, 'wide', 'builtin', 0.05, 0.1, 'float32', 'cpu', '{}', TIMESTAMP '2026-01-02 10:00:00')", [MODEL])
    for i, f in enumerate(FACTS):
        con.execute("INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?)", [i, f.relation, f.subject, f.object, f.template, f.relation_type])
        con.execute("INSERT INTO prompts VALUES (?, ?, 9, [1, 2], [7, 8])", [MODEL, i])
    for k, revision in enumerate(REVISIONS):
        run = "run2" if mixed and revision == "main" else "run1"
        step = None if revision == "main" else 10 * (k + 1)
        con.execute("INSERT INTO revisions VALUES (?, ?, ?, ?, ?, 'c', 'h', ?, 1.0, now())", [MODEL, revision, k, step, step and step * 100, run])
        for i in range(len(FACTS)):
            rank = rng.choice([0, 0, 3, 12])
            con.execute("INSERT INTO accuracy VALUES (?, ?, ?, ?, ?, ?)", [MODEL, revision, i, rank, rank == 0, rank < 10])
        for relation in ("city_in_country", "company_ceo"):
            for layer in range(2):
                con.execute("INSERT INTO roles VALUES (?, ?, ?, 'ffn', ?, NULL, ?)", [MODEL, revision, relation, layer, rng.choice(ROLES)])
                for head in range(3):
                    con.execute("INSERT INTO roles VALUES (?, ?, ?, 'head', ?, ?, ?)", [MODEL, revision, relation, layer, head, rng.choice(ROLES)])
        for layer in range(2):
            for head in range(3):
                for scope in ("general", "entity"):
                    con.execute(
                        "INSERT INTO component_scores VALUES (?, ?, 'head', ?, ?, ?, NULL, NULL, ?)",
                        [MODEL, revision, layer, head, scope, rng.random()],
                    )
                con.execute(
                    "INSERT INTO component_scores VALUES (?, ?, 'head', ?, ?, 'relation', 'company_ceo', NULL, ?)",
                    [MODEL, revision, layer, head, rng.random()],
                )
    con.close()


def v1_view_rows(path: Path) -> dict[str, pl.DataFrame]:
    con = duckdb.connect(str(path))
    con.execute(V1_VIEWS.read_text())
    rows = {view: pl.from_arrow(con.sql(f"SELECT * FROM {view} ORDER BY {order}").to_arrow_table()) for view, order in VIEWS.items()}
    con.close()
    return rows


def test_a_version_1_store_migrates_and_its_views_agree(tmp_path):
    path = tmp_path / "v1.duckdb"
    write_v1_store(path)
    before = v1_view_rows(path)
    with reader(path) as con:  # a reader migrates (once) and reads through the current views
        assert con.sql("SELECT max(version) FROM schema_version").fetchall()[0][0] == SCHEMA_VERSION
        for view, order in VIEWS.items():
            after = pl.from_arrow(con.sql(f"SELECT * EXCLUDE (analysis_id) FROM {view} ORDER BY {order}").to_arrow_table())
            assert after.height > 0 and after.equals(before[view].select(after.columns)), view
        # The rows became one analysis, with the id and name a new ingest of the same setting computes,
        # so that ingest resumes it.
        probes = ProbeSet("facts_160", tuple(FACTS))
        expected = Analysis(MODEL, probes.content_hash, "facts_160", 0.01, 0.1)
        assert con.sql("SELECT analysis_id, name FROM analyses").fetchall() == [(expected.analysis_id, expected.base_name)]
        assert con.sql("SELECT probe_set_id, name, n_facts FROM probe_sets").fetchall() == [(probes.content_hash, "facts_160", 6)]
        assert con.sql("SELECT count(*) FROM accuracy_by_relation WHERE analysis_id = $a", params={"a": expected.analysis_id}).fetchall()[0][
            0
        ] == len(REVISIONS) * len({f.relation for f in FACTS})


def test_version_1_rows_made_with_two_settings_become_two_analyses(tmp_path):
    path = tmp_path / "v1.duckdb"
    write_v1_store(path, mixed=True)
    probes = ProbeSet("facts_160", tuple(FACTS))
    low, high = (Analysis(MODEL, probes.content_hash, "facts_160", tau, 0.1) for tau in (0.01, 0.05))
    with reader(path) as con:
        by_analysis = dict(con.sql("SELECT analysis_id, list(revision ORDER BY ordinal) FROM revisions GROUP BY ALL").fetchall())
        assert by_analysis == {low.analysis_id: REVISIONS[:2], high.analysis_id: ["main"]}
        # IoU within τ 0.01: its final revision is step20, which main's τ 0.05 rows no longer hide.
        final = con.sql(
            "SELECT DISTINCT iou FROM role_iou WHERE analysis_id = $a AND revision = 'step20-tokens2K' AND iou IS NOT NULL",
            params={"a": low.analysis_id},
        ).fetchall()
    assert final == [(1.0,)]


def test_a_failing_migration_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "v1.duckdb"
    write_v1_store(path)
    before = v1_view_rows(path)
    broken = tmp_path / "002_analyses.sql"
    broken.write_text((SQL_DIR / "schema" / "002_analyses.sql").read_text() + "\nSELECT error('disk full');\n")
    monkeypatch.setattr(store_db, "schema_files", lambda: [(1, SQL_DIR / "schema" / "001_init.sql"), (2, broken)])
    with pytest.raises(Exception, match="disk full"):
        with reader(path):
            pass
    monkeypatch.undo()
    con = duckdb.connect(str(path), read_only=True)
    assert con.sql("SELECT max(version) FROM schema_version").fetchall()[0][0] == 1
    assert "analyses" not in {t for (t,) in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert all(v1_view_rows(path)[v].equals(before[v]) for v in VIEWS)
