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
            con.execute(
                "INSERT INTO revisions (analysis_id, model, revision, ordinal, run_id, ingested_at) VALUES ('a', 'm', ?, ?, 'x', now())",
                [revision, ordinal],
            )
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
    row = lambda a, b, f, to: t.filter(
        (pl.col("from_revision") == a) & (pl.col("to_revision") == b) & (pl.col("from_role") == f) & (pl.col("to_role") == to)
    )
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


def test_later_training_stages_follow_the_earlier_on_the_step_axis(tmp_path):
    """OLMo-2's stage 2 counts steps and tokens from 0 again: on the axis each stage starts where the stored
    revisions of the stages before it end; a stage's ingredients share the start; main follows at the median gap."""
    from trajectory.hub.revisions import order_revisions

    names = [
        "stage1-step1000-tokens5B",
        "stage1-step3000-tokens13B",
        "stage2-ingredient1-step1000-tokens5B",
        "stage2-ingredient1-step2000-tokens9B",
        "stage2-ingredient2-step1000-tokens5B",
        "main",
    ]
    db = tmp_path / "s.duckdb"
    with writer(db) as con:
        for ordinal, r in enumerate(order_revisions(names)):
            con.execute(
                "INSERT INTO revisions (analysis_id, model, revision, ordinal, step, tokens, stage, run_id, ingested_at) "
                "VALUES ('a', 'm', ?, ?, ?, ?, ?, 'r', now())",
                [r.name, ordinal, r.step, r.tokens, r.stage],
            )
        rows = con.sql("SELECT revision, step, x_step, x_tokens, step_known FROM revision_axis ORDER BY ordinal").fetchall()
    b = 10**9
    assert rows[:5] == [
        ("stage1-step1000-tokens5B", 1000, 1000, 5 * b, True),
        ("stage1-step3000-tokens13B", 3000, 3000, 13 * b, True),
        ("stage2-ingredient1-step1000-tokens5B", 1000, 4000, 18 * b, True),
        ("stage2-ingredient1-step2000-tokens9B", 2000, 5000, 22 * b, True),
        ("stage2-ingredient2-step1000-tokens5B", 1000, 4000, 18 * b, True),
    ]
    assert rows[5][:3] == ("main", None, 5000 + 1000) and rows[5][4] is False  # the last + the median gap of (2000, 1000, 1000, -1000)


def test_a_store_of_version_4_gets_the_stage_of_its_revisions(tmp_path):
    db = tmp_path / "v4.duckdb"
    with writer(db) as con:
        con.execute("ALTER TABLE revisions DROP COLUMN stage")
        con.execute("DROP TABLE logit_lens")  # version 6
        con.execute("DROP TABLE ablations")  # version 7
        con.execute("DROP TABLE fact_frequency")
        con.execute("DROP TABLE intervals; DROP TABLE comparisons")  # version 9
        con.execute("DROP TABLE routes; ALTER TABLE prompts DROP COLUMN tokens; DROP TABLE template_roles")  # versions 11, 12
        con.execute("DROP TABLE component_effects; DROP TABLE effect_baselines")  # version 13
        con.execute("DROP TABLE role_tests")  # version 14
        con.execute("DROP TABLE training_loss")  # version 15
        con.execute("DROP TABLE node_lens; DROP TABLE root_attention")  # version 16
        con.execute("DELETE FROM schema_version WHERE version >= 5")
        for name in ("stage2-ingredient3-step11931-tokens50B", "step5000-tokens21B"):
            con.execute(
                "INSERT INTO revisions (analysis_id, model, revision, ordinal, run_id, ingested_at) VALUES ('a', 'm', ?, 0, 'r', now())", [name]
            )
    with writer(db) as con:
        assert dict(con.sql("SELECT revision, stage FROM revisions").fetchall()) == {
            "stage2-ingredient3-step11931-tokens50B": 2,
            "step5000-tokens21B": None,
        }


def test_the_ffn_mode_first_named_study_is_llm_tt_with_its_old_ids(tmp_path, caplog):
    import hashlib

    import trajectory.config as config
    from trajectory.store.analyses import Analysis

    pipeline = tmp_path / "old.toml"
    pipeline.write_text('[model]\nrepo = "x/y"\n[ifr]\nffn_renormalisation = ["per_position", "study"]\n')
    config._SAID.clear()
    with caplog.at_level("WARNING"):
        assert config.load_pipeline(pipeline).ifr.ffn_renormalisations == ("per_position", "llm-tt")
        assert config.load_pipeline(pipeline).ifr.ffn_renormalisations == ("per_position", "llm-tt")
    said = [r.getMessage() for r in caplog.records if "deprecated name" in r.getMessage()]
    assert len(said) == 1 and "'study' is the deprecated name of 'llm-tt'" in said[0]
    # The id of an llm-tt analysis is the one its analyses were stored under as 'study'.
    analysis = Analysis("org/m", "p1", "facts", 0.01, 0.1, "llm-tt")
    old = hashlib.sha256("\x1f".join(("org/m", "p1", "10000000", "100000000", "study", "float32")).encode()).hexdigest()[:12]
    assert analysis.analysis_id == old
    # A store written before the rename (version 7) is migrated: column and name say llm-tt, the id stays.
    db = tmp_path / "v7.duckdb"
    with writer(db) as con:
        con.execute(
            "INSERT INTO analyses VALUES (?, 'm/facts/tau=0.01/theta=0.1/ffn=study', 'org/m', 'p1', 0.01, 0.1, 'study', 'float32', now())", [old]
        )
        con.execute("DROP TABLE intervals; DROP TABLE comparisons; DROP TABLE routes; DROP TABLE template_roles")  # versions 9, 11, 12
        con.execute("DROP TABLE component_effects; DROP TABLE effect_baselines; DROP TABLE role_tests; DROP TABLE training_loss")  # 13-15
        con.execute("DROP TABLE node_lens; DROP TABLE root_attention")  # 16
        con.execute("ALTER TABLE prompts DROP COLUMN tokens")
        con.execute("DELETE FROM schema_version WHERE version >= 8")
    with writer(db) as con:
        assert con.sql("SELECT analysis_id, name, ffn_renormalisation FROM analyses").fetchall() == [
            (old, "m/facts/tau=0.01/theta=0.1/ffn=llm-tt", "llm-tt")
        ]
