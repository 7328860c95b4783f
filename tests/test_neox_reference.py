"""The reference trajectory as a tiny GPT-NeoX (parallel residual, Pythia naming), end to end: suite build,
offline revision listing, ingest, roles, views, named queries and dashboards."""

from __future__ import annotations

import duckdb
import pytest

from trajectory.cli import main
from trajectory.config import load_pipeline
from trajectory.dashboard.build import build_dashboards
from trajectory.pipeline.orchestrator import ingest


@pytest.fixture(scope="module")
def neox_store(trajectory_home, tmp_path_factory):
    db = tmp_path_factory.mktemp("neox") / "neox.duckdb"
    assert main(["-q", "suite", "build", "--small", "--arch", "gpt-neox"]) == 0
    assert ingest(load_pipeline("reference-neox-small"), db, progress=False) == 0
    return db


def test_the_suite_is_a_parallel_gpt_neox_named_as_pythia(neox_store, capsys):
    from trajectory.pipeline.sources import open_source

    source = open_source(load_pipeline("reference-neox-small"), progress=False)
    names = [r.name for r in source.list_revisions()]
    assert names == ["step8", "step16", "step24", "step32", "step40", "main"]
    model, _ = source.load("step40")
    assert type(model).__name__ == "GPTNeoXForCausalLM" and model.config.use_parallel_residual
    assert model.gpt_neox.layers[0].attention.dense.bias is not None
    assert main(["revisions", "-p", "reference-neox-small"]) == 0
    listed = capsys.readouterr().out
    assert "5 revisions" in listed and "step40" in listed and "main" not in listed.split("revisions", 1)[1]


def test_ingest_roles_views_and_dashboards(neox_store, tmp_path, capsys):
    with duckdb.connect(str(neox_store), read_only=True) as con:
        revisions = [r[0] for r in con.execute("SELECT DISTINCT revision FROM roles ORDER BY revision").fetchall()]
        assert sorted(revisions) == sorted(["step8", "step16", "step24", "step32", "step40"])
        (n_roles,) = con.execute("SELECT count(*) FROM roles WHERE revision = 'step40'").fetchone()
        assert n_roles == 10 * (2 * 4 + 2)  # 10 relations × (8 heads + 2 FFNs)
        (active,) = con.execute("SELECT count(*) FROM circuits WHERE revision = 'step40'").fetchone()
        assert active > 0
        final = con.execute("SELECT DISTINCT iou FROM role_iou WHERE revision = 'step40' AND iou IS NOT NULL").fetchall()
        assert final == [(1.0,)]  # the final step is the final revision
        (markov,) = con.execute("SELECT count(*) FROM role_transitions").fetchone()
        assert markov > 0
    assert main(["query", "final_roles", "--db", str(neox_store), "--format", "csv"]) == 0
    pages = build_dashboards(neox_store, tmp_path / "dash", progress=False)
    assert any(p.name == "index.html" for p in pages) and len(pages) >= 2
    assert all("grafting" not in p.name and "extractive" not in p.name for p in pages)  # stages off for GPT-NeoX
