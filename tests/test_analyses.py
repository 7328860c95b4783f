"""One store, many analyses: per-analysis views equal separate stores', resume and --force stay inside
their analysis, export, the comparison dashboard, and the catalogue of bad input (one line, non-zero
exit, nothing stored damaged)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from trajectory.cli import main
from trajectory.facts import load_builtin
from trajectory.store.query import run_sql

VIEWS = (
    "role_counts",
    "role_iou",
    "role_transitions",
    "accuracy_by_relation",
    "active_components",
    "component_roles",
    "strongest_roles",
    "revision_axis",
)
SMALL = ["-q", "ingest", "-p", "reference-small"]
THREE = ["-r", "step8-tokens3K,step24-tokens9K,main"]  # three of the small suite's five revisions: quicker


def write_probe_file(path: Path, facts) -> Path:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle, delimiter="\t", lineterminator="\n")
        out.writerow(["relation", "template", "subject", "object"])
        out.writerows([f.relation, f.template, f.subject, f.object] for f in facts)
    return path


@pytest.fixture(scope="module")
def custom_facts(tmp_path_factory) -> Path:
    """A user's own probe file: three relations of the built-in set, in another order."""
    chosen = [f for f in load_builtin() if f.relation in ("city_in_country", "company_ceo", "plays_sport")]
    return write_probe_file(tmp_path_factory.mktemp("probes") / "my_facts.tsv", chosen[::-1])


@pytest.fixture(scope="module")
def shared_store(small_suite, custom_facts, tmp_path_factory) -> Path:
    """The built-in and the custom probe set, each at τ = 0.01 and 0.05 (a sweep), in one store."""
    db = tmp_path_factory.mktemp("shared") / "shared.duckdb"
    assert main([*SMALL, *THREE, "--db", str(db), "--tau", "0.01,0.05"]) == 0
    assert main([*SMALL, *THREE, "--db", str(db), "--tau", "0.01,0.05", "--facts", str(custom_facts)]) == 0
    return db


def stored_rows(db: Path) -> dict[str, list]:
    """Every row of every table, in a stable order."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [t for (t,) in con.sql("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()]
        return {t: sorted(map(repr, con.sql(f"SELECT * FROM {t}").fetchall())) for t in sorted(tables)}
    finally:
        con.close()


def view_rows(db: Path, view: str, analysis_id: str) -> pl.DataFrame:
    frame = run_sql(db, f"SELECT * FROM {view} WHERE analysis_id = '{analysis_id}'")
    return frame.sort(frame.columns, nulls_last=True)


@pytest.mark.slow
def test_views_per_analysis_equal_separate_stores(shared_store, custom_facts, tmp_path):
    analyses = run_sql(shared_store, "SELECT analysis_id, name, tau FROM analyses ORDER BY name")
    assert analyses.height == 4 and sorted(analyses["tau"].to_list()) == [0.01, 0.01, 0.05, 0.05]
    # Two of the four, alone: one of each probe set, one of each τ (each separate ingest costs seconds).
    chosen = [
        row
        for row in analyses.iter_rows(named=True)
        if ("/facts_160/" in row["name"] and row["tau"] == 0.01) or ("/my_facts/" in row["name"] and row["tau"] == 0.05)
    ]
    assert len(chosen) == 2
    for row in chosen:
        alone = tmp_path / f"{row['analysis_id']}.duckdb"
        facts = ["--facts", str(custom_facts)] if "my_facts" in row["name"] else []
        assert main([*SMALL, *THREE, "--db", str(alone), "--tau", str(row["tau"]), *facts]) == 0
        (alone_id,) = run_sql(alone, "SELECT analysis_id FROM analyses")["analysis_id"].to_list()
        assert alone_id == row["analysis_id"]  # the id is the identity's hash: the same in every store
        for view in VIEWS:
            shared, separate = view_rows(shared_store, view, alone_id), view_rows(alone, view, alone_id)
            assert shared.height > 0 and shared.equals(separate), (row["name"], view)
    # The custom set's accuracy is over its own facts (the bug this replaces joined them to the first set's).
    custom = run_sql(
        shared_store,
        """SELECT DISTINCT relation FROM accuracy_by_relation JOIN analyses USING (analysis_id)
                                      WHERE name LIKE '%my_facts%'""",
    )
    assert sorted(custom["relation"].to_list()) == ["city_in_country", "company_ceo", "plays_sport"]


@pytest.mark.slow
def test_force_and_resume_stay_inside_their_analysis(shared_store, tmp_path):
    db = tmp_path / "copy.duckdb"
    db.write_bytes(shared_store.read_bytes())
    stamps = "SELECT a.name, v.ingested_at FROM revisions v JOIN analyses a USING (analysis_id) WHERE revision = 'main' ORDER BY a.name"
    before = dict(run_sql(db, stamps).rows())
    rows_before = run_sql(db, "SELECT analysis_id, count(*) AS n FROM roles GROUP BY ALL ORDER BY ALL")
    assert main([*SMALL, "--db", str(db), "--tau", "0.05", "-r", "main", "--force"]) == 0
    after = dict(run_sql(db, stamps).rows())
    redone = [name for name in before if after[name] != before[name]]
    assert redone == ["olmo-tiny-facts-small/facts_160/tau=0.05/theta=0.1"]
    assert run_sql(db, "SELECT analysis_id, count(*) AS n FROM roles GROUP BY ALL ORDER BY ALL").equals(rows_before)
    # A new θ is a new analysis: resume finds nothing stored for it and traces every revision once.
    assert main([*SMALL, *THREE, "--db", str(db), "--theta", "0.2"]) == 0
    assert run_sql(db, "SELECT count(*) AS n FROM analyses")["n"][0] == 5


def test_query_defaults_to_the_latest_analysis_and_says_so(shared_store, capsys):
    capsys.readouterr()
    assert main(["query", "final_roles", "--db", str(shared_store), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    latest = run_sql(shared_store, "SELECT name FROM analyses ORDER BY created_at, name")["name"][-1]
    assert captured.err.startswith(f"analysis: {latest} (") and "3 more stored" in captured.err
    assert set(pl.read_csv(captured.out.encode())["analysis"].to_list()) == {latest}
    assert main(["query", "final_roles", "--db", str(shared_store), "--format", "csv", "--analysis", "all"]) == 0
    assert pl.read_csv(capsys.readouterr().out.encode())["analysis"].n_unique() == 4
    some = run_sql(shared_store, "SELECT analysis_id FROM analyses ORDER BY name LIMIT 1")["analysis_id"][0]
    assert main(["query", "SELECT DISTINCT analysis_id FROM role_counts", "--db", str(shared_store), "-f", "csv", "-a", some[:6]]) == 0
    assert capsys.readouterr().out.split() == ["analysis_id", some]
    # As a table for one analysis, the analysis and model columns (one value, named above) are left out.
    assert main(["query", "final_roles", "--db", str(shared_store)]) == 0
    table = capsys.readouterr().out
    assert "│ kind" in table and "analysis" not in table and "model" not in table
    assert main(["query", "final_roles", "--db", str(shared_store), "-a", "all"]) == 0
    assert "analysis" in capsys.readouterr().out


def test_export_writes_one_analysis_readable_as_is(shared_store, tmp_path, capsys):
    name = run_sql(shared_store, "SELECT name FROM analyses ORDER BY name LIMIT 1")["name"][0]
    out = tmp_path / "export"
    assert main(["-q", "export", "--db", str(shared_store), "--analysis", name, "--out", str(out)]) == 0
    assert f"exported analysis {name}" in capsys.readouterr().out
    analysis_id = pl.read_parquet(out / "analyses.parquet")["analysis_id"].to_list()
    assert len(analysis_id) == 1
    for table in ("roles", "component_scores", "accuracy", "circuits"):
        stored = run_sql(shared_store, f"SELECT * FROM {table} WHERE analysis_id = '{analysis_id[0]}'")
        read = pl.read_parquet(out / table / "**" / "*.parquet", hive_partitioning=True)
        assert read.height == stored.height > 0
        assert set(read["model"].unique()) == {"trajectory/olmo-tiny-facts-small"}  # decoded from model=...%2F...
        by_duckdb = duckdb.sql(
            f"SELECT count(*), count(DISTINCT revision) FROM read_parquet('{out}/{table}/**/*.parquet', hive_partitioning = true)"
        ).fetchall()[0]
        assert by_duckdb == (stored.height, 3)
    facts = pl.read_parquet(out / "facts.parquet")
    assert facts.height == 160 and (out / "roles" / "model=trajectory%2Folmo-tiny-facts-small").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no partial folder left behind
    assert main(["-q", "export", "--db", str(shared_store), "--analysis", name, "--out", str(out)]) == 2  # not over an export
    assert main(["-q", "export", "--db", str(shared_store), "--analysis", "all", "--out", str(tmp_path / "x")]) == 2


def test_comparison_dashboard_puts_analyses_side_by_side(shared_store, tmp_path, capsys):
    import plotly.graph_objects as go

    from trajectory.dashboard.build import build_figure, comparison_context, stored_analyses
    from trajectory.dashboard.spec import load_dashboards
    from trajectory.store.db import reader, scope

    builtin = run_sql(shared_store, "SELECT analysis_id, name FROM analyses WHERE name LIKE '%facts_160%' ORDER BY tau")
    chosen = ",".join(builtin["name"])
    out = tmp_path / "pages"
    assert main(["-q", "dashboard", "--db", str(shared_store), "--out", str(out), "--analysis", chosen]) == 0
    model = out / "trajectory--olmo-tiny-facts-small"
    assert (model / "compare.html").is_file()
    assert sorted(p.name for p in model.iterdir()) == ["compare.html", "facts_160-tau0.01-theta0.1", "facts_160-tau0.05-theta0.1"]
    spec = next(s for s in load_dashboards() if s.name == "compare")
    with reader(shared_store) as con:
        scope(con, builtin["analysis_id"].to_list())
        context = comparison_context(stored_analyses(con))
        fig = go.Figure(build_figure(con, next(f for f in spec.figures if f.id == "compare-iou"), context))
        iou = {
            (a, r): series
            for a, r, series in con.sql("""
            SELECT n.name, i.role, list(i.iou ORDER BY i.ordinal) FROM role_iou i JOIN analyses n USING (analysis_id)
            WHERE i.relation = '*' AND i.kind = 'head' GROUP BY ALL""").fetchall()
        }
    lines = {t.name: list(t.y) for t in fig.data if t.xaxis == "x"}  # the heads panel
    for (analysis, role), values in iou.items():
        if role != "deactivated":
            assert lines[f"{role} · {analysis.split('/', 1)[1]}"] == values  # named without the model


def test_a_store_is_never_damaged_by_bad_input(shared_store, tmp_path, capsys):
    """The catalogue of docs/reference.md ("Mistakes and what you see"): each case is one line naming what to fix, a non-zero exit, and the
    store's bytes unchanged."""
    db = tmp_path / "store.duckdb"
    db.write_bytes(shared_store.read_bytes())
    snapshot = db.read_bytes()
    collision = write_probe_file(tmp_path / "facts_160.tsv", list(load_builtin())[:20])  # the built-in set's name
    bad_tau = tmp_path / "bad.toml"
    bad_tau.write_text('[model]\nrepo = "x/y"\n[ifr]\nthreshold = 1.5\n')
    text_file = tmp_path / "notes.duckdb"
    text_file.write_text("not a database\n")
    read_only = tmp_path / "ro.duckdb"
    read_only.write_bytes(snapshot)
    read_only.chmod(0o444)
    cases = [
        (["query", "final_roles", "--db", str(db), "--analysis", "nope"], "unknown analysis 'nope'; stored: "),
        ([*SMALL, "--db", str(db), "--facts", str(collision)], "probe set 'facts_160' in this store holds other facts"),
        ([*SMALL, "--db", str(text_file)], "is not a DuckDB file"),
        (["query", "final_roles", "--db", str(text_file)], "is not a DuckDB file"),
        ([*SMALL, "--db", str(tmp_path)], "is a directory"),
        (["query", "final_roles", "--db", str(tmp_path)], "is a directory"),
        ([*SMALL, "--db", str(read_only)], "is read-only"),
        (["query", "DROP TABLE roles", "--db", str(db)], "query refused"),
        (["query", "DELETE FROM roles", "--db", str(db)], "query refused"),
        (["query", f"ATTACH '{tmp_path / 'other.duckdb'}' AS other", "--db", str(db)], "query refused"),
        (["query", f"COPY roles TO '{tmp_path / 'leak.csv'}'", "--db", str(db)], "query refused"),
        (["query", "SELECT 1; DROP TABLE roles", "--db", str(db)], "query refused"),
        (["query", f"SELECT * FROM read_csv('{tmp_path / 'facts_160.tsv'}')", "--db", str(db)], "query failed"),
        (["ingest", "-p", str(bad_tau), "--db", str(db)], "ifr.threshold must be in [0, 1), got 1.5"),
        ([*SMALL, "--db", str(db), "--tau", "2"], "--tau must be in [0, 1), got 2"),
        ([*SMALL, "--db", str(db), "--theta", "0.1,x"], "--theta must be a number"),
    ]
    for argv, message in cases:
        capsys.readouterr()
        assert main(argv) != 0, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and message in err[-1], (argv, err)
        assert len([line for line in err if line.startswith("error")]) == 1
    assert stored_rows(db) == stored_rows(shared_store) and read_only.read_bytes() == snapshot
    assert text_file.read_text() == "not a database\n"
    assert not (tmp_path / "other.duckdb").exists() and not (tmp_path / "leak.csv").exists()


@pytest.mark.slow
def test_two_ingests_into_one_store_do_not_interleave(small_suite, tmp_path, capsys):
    db = tmp_path / "busy.duckdb"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    first = subprocess.Popen(
        [sys.executable, "-m", "trajectory", "-q", "ingest", "-p", "reference-small", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not first.stdout.readline().startswith("stored "):
            pass
        capsys.readouterr()
        assert main([*SMALL, "--db", str(db)]) == 3  # the first is still at its second revision
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "is busy: an ingest (pid " in err and err.count("\n") == 1
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGKILL)
    counts = run_sql(db, "SELECT revision, count(*) AS n FROM roles GROUP BY revision")
    assert counts.height == 5 and set(counts["n"].to_list()) == {100}  # each revision once, whole
