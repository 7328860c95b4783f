"""Seeds of the reference: builds are deterministic per seed and share their corpus; the seed views against
literal recomputations on a hand-made store holding two seeds of one model."""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path

import pytest
from synthetic_store import ANALYSIS, MODEL, write_synthetic_store

from trajectory.config import load_pipeline
from trajectory.errors import TrajectoryError
from trajectory.store.db import writer
from trajectory.suite.recipe import SMALL, seeded

SEEDED_TABLES = ("revisions", "accuracy", "component_scores", "roles", "circuits", "logit_lens", "runs")


def _weights(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.rglob("*.safetensors")}


@pytest.mark.slow  # four builds, each in its pinned process
def test_a_seed_builds_its_own_model_deterministically_on_the_same_corpus(tmp_path):
    from trajectory.suite.build import build_suite

    quick = replace(SMALL, steps=6, warmup_steps=2, n_checkpoints=2)
    one, again, other = seeded(quick, 1), seeded(quick, 1), seeded(quick, 2)
    assert one.repo_id == f"{SMALL.repo_id}-seed1" and seeded(quick, 0) == quick
    built = {
        name: build_suite(config, tmp_path / name, progress=False)
        for name, config in (("one", one), ("again", again), ("other", other), ("zero", quick))
    }
    folder = {name: next((tmp_path / name).glob(f"models--*{r.repo_id.split('/')[1]}")) for name, r in built.items()}
    assert _weights(folder["one"]) == _weights(folder["again"]) and _weights(folder["one"])  # same seed, same weights
    assert _weights(folder["one"]).keys() == _weights(folder["other"]).keys()
    assert _weights(folder["one"]) != _weights(folder["other"]) != _weights(folder["zero"])  # another seed, other weights
    tokenizers = {name: [p.read_bytes() for p in sorted(f.rglob("tokenizer.json"))] for name, f in folder.items()}
    assert tokenizers["one"] == tokenizers["other"] == tokenizers["zero"]  # the same corpus, so the same tokenizer


def test_a_pipeline_runs_on_another_seed_as_its_own_model():
    config = load_pipeline("reference-small")
    assert config.with_seed(3).repo_id == f"{config.repo_id}-seed3" and config.with_seed(3).with_seed(0).repo_id == config.repo_id
    with pytest.raises(TrajectoryError, match="--seed picks a seed"):
        config.with_overrides({"model.suite": None}).with_seed(1)


def _seed_store(db: Path) -> Path:
    """The synthetic analysis as seed 0, and a copy as seed 1 whose fact roles start one revision later and whose
    location-before-name test is not a finding."""
    write_synthetic_store(db)
    seed1, model1 = "synthetic-s1", f"{MODEL}-seed1"
    with writer(db) as con:
        con.execute(
            "INSERT INTO analyses SELECT * REPLACE (? AS analysis_id, ? AS model, name || '-s1' AS name) FROM analyses WHERE analysis_id = ?",
            [seed1, model1, ANALYSIS],
        )
        for table in SEEDED_TABLES:
            columns = [c for (c,) in con.execute(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'").fetchall()]
            replace_model = ", ? AS model" if "model" in columns else ""
            params = [seed1] + ([model1] if replace_model else []) + [ANALYSIS]
            con.execute(f"INSERT INTO {table} SELECT * REPLACE (? AS analysis_id{replace_model}) FROM {table} WHERE analysis_id = ?", params)
        con.execute(
            "DELETE FROM roles WHERE analysis_id = ? AND role = 'fact' AND revision = (SELECT revision FROM revisions "
            "WHERE analysis_id = ? AND ordinal = 0)",
            [seed1, seed1],
        )
        for analysis, model, estimate, finding in ((ANALYSIS, MODEL, -100.0, True), (seed1, model1, -20.0, False)):
            con.execute(
                "INSERT INTO comparisons (analysis_id, model, family, test, a, b, estimate, p, p_adjusted, n_a, n_b, finding) "
                "VALUES (?, ?, 'emergence', 'mann-whitney', 'location', 'name', ?, 0.01, 0.01, 2, 2, ?)",
                [analysis, model, estimate, finding],
            )
            con.execute(
                "INSERT INTO comparisons (analysis_id, model, family, test, a, b, estimate, p, p_adjusted, n_a, n_b, finding) "
                "VALUES (?, ?, 'grafting', 'bootstrap', 'FE', 'LT', -0.3, 0.001, 0.001, 9, 9, true)",
                [analysis, model],
            )
    return db


def test_the_seed_views_against_a_literal_walk(tmp_path):
    db = _seed_store(tmp_path / "seeds.duckdb")
    with writer(db) as con:
        seeds = dict(con.execute("SELECT analysis_id, seed FROM seed_analyses").fetchall())
        assert seeds == {ANALYSIS: 0, "synthetic-s1": 1}
        roles = con.execute(
            "SELECT r.analysis_id, r.relation, r.kind, r.role, v.ordinal, v.step FROM roles r "
            "JOIN revisions v USING (analysis_id, revision) WHERE r.role <> 'deactivated'"
        ).fetchall()
        first: dict[tuple, dict[int, tuple[int, int]]] = {}
        for analysis, relation, kind, role, ordinal, step in roles:
            per_seed = first.setdefault((relation, kind, role), {})
            if seeds[analysis] not in per_seed or ordinal < per_seed[seeds[analysis]][0]:
                per_seed[seeds[analysis]] = (ordinal, step)
        spread = {
            (r[0], r[1], r[2]): r[3:]
            for r in con.execute(
                "SELECT relation, kind, role, n_seeds_with_role, mean_step, min_step, max_step FROM seed_role_emergence_spread"
            ).fetchall()
        }
        assert spread.keys() == first.keys()
        for key, per_seed in first.items():
            steps = [step for _, step in per_seed.values()]
            assert spread[key] == (len(per_seed), pytest.approx(statistics.mean(steps)), min(steps), max(steps)), key
        assert any(len({s for _, s in v.values()}) > 1 for v in first.values())  # the seeds differ somewhere
        iou = {
            (r[0], r[1], r[2]): r[3:]
            for r in con.execute("SELECT ordinal, kind, role, n_seeds_defined, mean_iou, min_iou, max_iou FROM seed_role_iou").fetchall()
        }
        per_analysis = con.execute("SELECT ordinal, kind, role, iou FROM role_iou WHERE relation = '*' AND iou IS NOT NULL").fetchall()
        grouped: dict[tuple, list[float]] = {}
        for revision, kind, role, value in per_analysis:
            grouped.setdefault((revision, kind, role), []).append(value)
        for key, values in grouped.items():
            assert iou[key] == (len(values), pytest.approx(statistics.mean(values)), min(values), max(values))
        findings = {(r[0], r[1]): r[2:] for r in con.execute("SELECT family, a, n_seeds_finding, in_every_seed FROM seed_findings").fetchall()}
    assert findings == {("emergence", "location"): (1, False), ("grafting", "FE"): (2, True)}
    from trajectory.dashboard.findings import findings_markdown

    text = findings_markdown(db, ANALYSIS)
    assert "## In other seeds" in text and "grafting FE against LT: estimates -0.3, -0.3; a finding in 2 of 2 seeds (holds in every seed)." in text
    assert "emergence location against name: estimates -100, -20; a finding in 1 of 2 seeds." in text


def test_seed_names_are_built_and_read_in_one_place():
    from trajectory.seeds import repo_seed, seeded_repo

    assert seeded_repo("org/m", 2) == "org/m-seed2" and seeded_repo("org/m-seed2", 0) == "org/m"
    assert seeded_repo("org/m-seed2", 3) == "org/m-seed3"
    assert repo_seed("org/m-seed12") == ("org/m", 12) and repo_seed("org/m") == ("org/m", 0)
    assert repo_seed("org/m-seedling") == ("org/m-seedling", 0)
