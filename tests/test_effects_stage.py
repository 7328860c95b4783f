"""The component-effects stage in an ingest: its stored rows are the measurement's (row for row, in the fact-major
layout), its settings are stored for the views, the revision subset follows effects.every, and a re-run redoes
nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trajectory.config import load_pipeline
from trajectory.effects import component_layout
from trajectory.facts import load_builtin
from trajectory.pipeline.effects import EffectsSettings, measure_effects
from trajectory.pipeline.orchestrator import ingest
from trajectory.pipeline.sources import open_source
from trajectory.pipeline.stages.base import one_in
from trajectory.prompts import encode_probe_set, encode_prompts, fact_prompts
from trajectory.store.db import reader


@pytest.mark.slow
def test_stored_effects_are_the_measurement(small_store, small_suite):
    config = load_pipeline("reference-small")
    revision = small_suite.revisions[-1]
    model, tokenizer = open_source(config, progress=False).load(revision)
    facts = encode_probe_set(tokenizer, load_builtin()).facts
    effects = measure_effects(model, encode_prompts(tokenizer, fact_prompts(facts)), EffectsSettings(method="both"))
    with reader(small_store) as con:
        rows = con.execute(
            "SELECT fact_id, kind, layer, coalesce(head, -1), importance, delta_reward, answer_rank, atp FROM component_effects WHERE revision = ?",
            [revision],
        ).fetchall()
        baselines = {
            f: (c, n)
            for f, c, n in con.execute("SELECT fact_id, reward_clean, reward_none FROM effect_baselines WHERE revision = ?", [revision]).fetchall()
        }
        ((settings,),) = con.execute("SELECT settings FROM stage_runs WHERE revision = ? AND stage = 'effects'", [revision]).fetchall()
        counts = con.execute("SELECT count(DISTINCT revision), count(*) FROM component_effects").fetchall()[0]
    kinds, layers, heads = component_layout(model.config.num_hidden_layers, model.config.num_attention_heads)
    column = {(k, int(layer), -1 if np.isnan(h) else int(h)): c for c, (k, layer, h) in enumerate(zip(kinds, layers, heads))}
    row_of = {f.fact_id: i for i, f in enumerate(facts)}
    assert len(rows) == len(facts) * len(column) and counts == (len(small_suite.revisions), len(rows) * len(small_suite.revisions))
    for fact_id, kind, layer, head, importance, delta, rank, atp in rows:
        b, c = row_of[fact_id], column[(kind, layer, head)]
        assert importance == pytest.approx(float(effects.importance[b, c]), abs=1e-9)
        assert delta == pytest.approx(float(effects.delta[b, c]), abs=1e-5)
        assert atp == pytest.approx(float(effects.atp[b, c]), abs=1e-5)
        assert rank == int(effects.rank[b, c])
    for fact_id, (clean, none) in baselines.items():
        assert clean == pytest.approx(float(effects.reward_clean[row_of[fact_id]]), abs=1e-5)
        assert none == pytest.approx(float(effects.reward_none[row_of[fact_id]]), abs=1e-5)
    assert json.loads(settings) == {"method": "both", "mode": "mean", "kappa": 0.1, "rows_per_pass": 256}


def test_effects_run_on_every_nth_revision_and_the_last():
    assert [k for k in range(41) if one_in(4, k, 41)] == list(range(0, 41, 4))
    assert [k for k in range(10) if one_in(4, k, 10)] == [0, 4, 8, 9]
    assert all(one_in(1, k, 7) for k in range(7))


@pytest.mark.slow
def test_a_subset_of_revisions_and_a_rerun(small_suite, tmp_path, capsys):
    db = tmp_path / "every.duckdb"
    config = load_pipeline("reference-small").with_overrides(
        {"effects.every": 3, "ablation.enabled": False, "grafting.enabled": False, "extractive.enabled": False}
    )
    assert ingest(config, db, progress=False) == 0
    with reader(db) as con:
        stored = [
            r
            for (r,) in con.execute(
                "SELECT DISTINCT e.revision FROM component_effects e JOIN revisions v USING (analysis_id, revision) ORDER BY v.ordinal"
            ).fetchall()
        ]
    names = small_suite.revisions
    assert stored == [names[0], names[3], names[4]]  # ordinals 0 and 3, and the last
    capsys.readouterr()
    assert ingest(config, db, progress=False) == 0
    out = capsys.readouterr().out
    assert "stored: 5 ifr, 3 effects (one revision in 3, and the last)" in out and "0 revisions to ingest" in out


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("kappa", 0, "effects.kappa must be in (0, 1], got 0"),
        ("kappa", 1.5, "effects.kappa must be in (0, 1]"),
        ("method", "sampled", "effects.method must be one of exhaustive, atp, both"),
        ("every", 0, "effects.every must be positive"),
    ],
)
def test_bad_effects_keys_are_refused_by_name(tmp_path, key, value, message):
    from trajectory.errors import TrajectoryError

    pipeline = tmp_path / "p.toml"
    pipeline.write_text(f'[model]\nrepo = "x/y"\n[effects]\nenabled = true\n{key} = {json.dumps(value)}\n')
    with pytest.raises(TrajectoryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_pipeline(pipeline)


@pytest.mark.slow
def test_role_agreement_intervals_rest_on_the_views_numbers(small_store, tmp_path):
    """Every fact made measurable (its everything-ablated R set 5 logits under its clean R, the small model's tiny
    effects scaled by 100 so that some components are causal): the stored
    estimates of effect_role_agreement (re-classified from the circuits and effects under resampling, row 0 the
    facts as stored) equal the view's, pooled and per relation, and their intervals hold them."""
    import shutil

    from trajectory.pipeline.intervals import IntervalSettings, store_intervals
    from trajectory.store.db import writer

    db = tmp_path / "measured.duckdb"
    shutil.copy(small_store, db)
    with writer(db) as con:
        con.execute("UPDATE effect_baselines SET reward_none = reward_clean - 5")
        con.execute("UPDATE component_effects SET delta_reward = 100 * delta_reward")
        ((analysis,),) = con.execute("SELECT analysis_id FROM analyses").fetchall()
    store_intervals(db, analysis, IntervalSettings(resamples=50, role_resamples=50))
    with reader(db) as con:
        view = {
            (r, k, c, q): a for r, k, c, q, a in con.execute("SELECT revision, kind, role, relation, agreement FROM effect_role_agreement").fetchall()
        }
        stored = con.execute(
            "SELECT revision, scope, category, relation, estimate, lower, upper, n FROM intervals WHERE measure = 'effect_role_agreement'"
        ).fetchall()
        causal = con.execute("SELECT count(*) FILTER (WHERE causal), count(*) FROM fact_effects").fetchall()[0]
    assert 0 < causal[0] < causal[1]  # some components are causal, not all
    assert len(stored) == len(view) > 20
    for revision, kind, role, relation, estimate, low, high, n in stored:
        expected = view[(revision, kind, role, relation)]
        if expected is None:
            assert np.isnan(estimate)
            continue
        assert estimate == pytest.approx(expected) and n == 160
        assert low <= high
