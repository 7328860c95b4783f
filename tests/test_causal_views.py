"""The causal-check views (sql/views/causal_views.sql) against literal recomputations on a hand-made store."""

import math
import statistics

import pytest
from synthetic_store import (
    ANALYSIS,
    BUCKET,
    CAUSAL_DRAWS,
    FACTS,
    HEADS,
    LAYERS,
    REVISIONS,
    ffn_role,
    head_role,
    write_synthetic_ablations,
    write_synthetic_store,
)

from trajectory.cli import main
from trajectory.pipeline.intervals import IntervalSettings, store_intervals
from trajectory.store.db import writer

RELATIONS = ["city_in_country", "company_ceo"]
RELATION_OF = dict(FACTS)
DRAWS = CAUSAL_DRAWS


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = write_synthetic_store(tmp_path_factory.mktemp("causal") / "causal.duckdb")
    written = write_synthetic_ablations(db)
    store_intervals(db, ANALYSIS, IntervalSettings(resamples=50, role_resamples=20))  # the role-control tests
    return (db, *written)


def rows(db, sql):
    with writer(db) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]


def faithfulness(rewards, revision, fact):
    clean, circuit, none = (rewards[(revision, fact, t)] for t in ("clean", "circuit_only", "none"))
    return (circuit - none) / (clean - none) if clean - none >= 1.0 else None


def test_faithfulness_per_fact_and_over_revisions(store):
    db, rewards, _, _ = store
    got = {(r["revision"], r["fact_id"]): r for r in rows(db, "SELECT * FROM fact_ablation")}
    assert len(got) == len(REVISIONS) * len(FACTS)
    tiny = 0
    for (revision, fact), row in got.items():
        expected = faithfulness(rewards, revision, fact)
        tiny += expected is None
        assert (row["faithfulness"] is None) == (expected is None)
        assert expected is None or row["faithfulness"] == pytest.approx(expected)
        assert row["bucket"] == BUCKET[fact] and row["relation"] == RELATION_OF[fact]
        assert row["top1_clean"] == (rewards[(revision, fact, "clean")] > 2) and row["circuit_heads"] == 3
    assert 0 < tiny < len(got)  # both sides of the rule are exercised
    summary = rows(db, "SELECT * FROM faithfulness_over_revisions")
    assert len(summary) == len(REVISIONS) * (1 + len(RELATIONS) + len(set(BUCKET.values())))
    for row in summary:
        facts = [f for f, rel in FACTS if row["relation"] in ("*", rel) and row["bucket"] in ("*", BUCKET[f])]
        values = [v for f in facts if (v := faithfulness(rewards, row["revision"], f)) is not None]
        assert row["n_facts"] == len(facts) and row["n_measured"] == len(values)
        assert row["faithfulness_median"] == (pytest.approx(statistics.median(values)) if values else None)
        assert row["share_top1_complement"] == pytest.approx(statistics.mean(rewards[(row["revision"], f, "complement")] > 2 for f in facts))


def literal_effects(sets, rewards):
    """(revision, role, ablated relation, measured relation) -> (role effect, beats control)."""
    out = {}
    for revision, _, _ in REVISIONS:
        for role, relation in [("general", None), ("relation", "city_in_country"), ("relation", "company_ceo")]:
            for measured in RELATIONS:
                facts = [f for f, rel in FACTS if rel == measured]
                effect = lambda d: statistics.mean(sets[(revision, role, relation, d, f)] - rewards[(revision, f, "clean")] for f in facts)
                controls = [effect(d) for d in range(DRAWS)]
                role_effect = effect(None)
                beats = role_effect < min(controls) and statistics.mean(controls) - role_effect >= 0.5
                out[(revision, role, relation or "*", measured)] = (role_effect, beats)
    return out


def literal_tests(sets, rewards):
    """Each set's test on its own relation's facts (all facts for '*'), literally: untestable where fewer than twice
    its heads lie outside it; else the Student-t prediction p of its effect against the draws' mean and sd where
    they pass Shapiro-Wilk, the rank p (1 + #draws at least as low) / (1 + draws) where not; Benjamini-Hochberg
    by hand over the revision's testable sets. {(revision, role, relation): (test, p, adjusted p, pseudo share)}."""
    from scipy import stats

    out, p = {}, {}
    for revision, _, _ in REVISIONS:
        for role, relation in [("general", None), ("relation", "city_in_country"), ("relation", "company_ceo")]:
            key = (revision, role, relation or "*")
            facts = [f for f, rel in FACTS if relation is None or rel == relation]
            effect = lambda d: statistics.mean(sets[(revision, role, relation, d, f)] - rewards[(revision, f, "clean")] for f in facts)
            own, draws = effect(None), [effect(d) for d in range(DRAWS)]

            def predicted(value, others):
                t = (value - statistics.mean(others)) / (statistics.stdev(others) * math.sqrt(1 + 1 / len(others)))
                return stats.t.cdf(t, len(others) - 1)

            pseudo = [predicted(draws[d], draws[:d] + draws[d + 1 :]) for d in range(DRAWS)]
            share = sum(q <= 0.05 for q in pseudo) / DRAWS
            if relation is None:  # HEADS of the LAYERS·HEADS heads: fewer than twice as many outside
                out[key] = (None, None, None, share)
                continue
            if stats.shapiro(draws).pvalue >= 0.05:
                out[key] = ("normal tail", predicted(own, draws), None, share)
            else:
                out[key] = ("permutation", (1 + sum(d <= own for d in draws)) / (1 + DRAWS), None, share)
            p[key] = out[key][1]
    for revision, _, _ in REVISIONS:
        family = sorted((value, key) for key, value in p.items() if key[0] == revision)
        m = len(family)
        for i, (value, key) in enumerate(family):
            test, raw, _, share = out[key]
            out[key] = (test, raw, min(min(v * m / (j + 1) for j, (v, _) in enumerate(family) if j >= i), 1.0), share)
    return out


def test_role_effects_causality_and_onset(store):
    db, rewards, sets, _ = store
    expected = literal_effects(sets, rewards)
    got = rows(db, "SELECT * FROM role_effects")
    assert len(got) == len(expected)
    for row in got:
        effect, beats = expected[(row["revision"], row["role"], row["ablated_relation"], row["measured_relation"])]
        assert row["role_effect"] == pytest.approx(effect) and row["beats_control"] == beats and row["n_draws"] == DRAWS
    assert {row["beats_control"] for row in got} == {True, False}
    tests = literal_tests(sets, rewards)
    stored = {(r["revision"], r["role"], r["relation"]): r for r in rows(db, "SELECT * FROM role_tests")}
    assert set(stored) == set(tests)
    causal = {}
    for row in rows(db, "SELECT * FROM role_causality"):
        key = (row["revision"], row["role"], row["relation"])
        test, p, adjusted, share = tests[key]
        assert row["test"] == test and row["n_draws"] == DRAWS and stored[key]["pseudo_below_05"] == pytest.approx(share)
        if test is None:
            assert row["p"] is None and row["untestable"].startswith("the set holds 3 of 6 heads") and not row["causal"]
            causal[key] = False
            continue
        assert row["p"] == pytest.approx(p, rel=1e-9) and row["p_adjusted"] == pytest.approx(adjusted, rel=1e-9)
        assert row["untestable"] is None
        beaten = {m: expected[(*key, m)][1] for m in RELATIONS}
        specific = not any(b for m, b in beaten.items() if m != row["relation"])
        literal = adjusted < 0.05 and specific
        assert row["causal"] == literal, key
        causal[key] = literal
    assert any(causal.values()) and not all(causal.values())
    assert {t for t, _, _, _ in tests.values()} == {None, "normal tail", "permutation"}  # every branch exercised
    ordinal = {name: k for k, (name, _, _) in enumerate(REVISIONS)}
    for row in rows(db, "SELECT * FROM role_causal_onset"):
        if row["role"] not in ("general", "relation"):
            assert row["first_causal"] is None  # never ablated here
            continue
        first_causal = min(
            (k for (rev, role, rel), c in causal.items() if c and role == row["role"] and rel == row["relation"] for k in [ordinal[rev]]),
            default=None,
        )
        assert row["causal_ordinal"] == first_causal
        r = RELATIONS.index(row["relation"]) if row["relation"] != "*" else None
        held = [
            k
            for k in range(len(REVISIONS))
            if any((head_role(k, q, l, h) == row["role"]) for q in ([r] if r is not None else range(2)) for l in range(LAYERS) for h in range(HEADS))
            or any(ffn_role(k, q, l) == row["role"] for q in ([r] if r is not None else range(2)) for l in range(LAYERS))
        ]
        assert row["attributed_ordinal"] == min(held)


def test_circuit_shape_and_layer_profile(store):
    db, _, _, nodes = store
    final = REVISIONS[-1][0]
    for row in rows(db, "SELECT * FROM circuit_shape"):
        here, last = nodes[(row["revision"], row["fact_id"])], nodes[(final, row["fact_id"])]
        assert row["n_components"] == len(here) and row["n_ffns"] == sum(kind == "ffn" for kind, _, _ in here)
        assert row["mean_layer"] == pytest.approx(statistics.mean(layer for _, layer, _ in here))
        assert row["iou_final"] == pytest.approx(len(here & last) / len(here | last))
        assert row["bucket"] == BUCKET[row["fact_id"]]
    profile = rows(db, "SELECT * FROM circuit_layer_profile")
    for row in profile:
        shares = [sum(layer == row["layer"] for _, layer, _ in nodes[(row["revision"], f)]) / len(nodes[(row["revision"], f)]) for f, _ in FACTS]
        assert row["share"] == pytest.approx(statistics.mean(shares))
    per_revision = {}
    for row in profile:
        per_revision[row["revision"]] = per_revision.get(row["revision"], 0) + row["share"]
    assert all(v == pytest.approx(1.0) for v in per_revision.values())


def test_named_queries_run(store, capsys):
    db = store[0]
    for name in ("faithfulness", "causal_roles", "role_causal_onset", "circuit_shape", "answer_emergence_by_bucket"):
        assert main(["query", name, "--db", str(db), "--format", "csv"]) == 0, name
    assert "faithfulness" in capsys.readouterr().out
