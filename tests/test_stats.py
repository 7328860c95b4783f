"""Intervals and tests over probe facts, against known truths, literal enumerations and scipy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from trajectory.stats import (
    adjusted_p,
    learning_steps,
    percentile_interval,
    permutation_p,
    relation_type_order,
    share_interval,
    stratified_resamples,
    within_relation_order,
)


def test_resamples_stay_within_their_relation_and_repeat_with_the_seed():
    groups = np.array(["a"] * 3 + ["b"] * 5 + ["c"] * 1)
    draws = stratified_resamples(groups, resamples=200, seed=4)
    assert draws.shape == (200, 9)
    assert (groups[draws] == groups[None, :]).all()  # every position keeps its relation: each relation keeps its count
    assert len(np.unique(draws[:, :3])) == 3 and (draws[:, 8] == 8).all()
    assert np.array_equal(draws, stratified_resamples(groups, resamples=200, seed=4))
    assert not np.array_equal(draws, stratified_resamples(groups, resamples=200, seed=5))


@pytest.mark.parametrize("n", [47, 160])
@pytest.mark.parametrize("truth", [0.5, 0.97, 0.03])
def test_a_share_interval_keeps_its_coverage_near_0_and_1(n, truth):
    """Exact coverage (every outcome k of n facts weighed by its binomial probability) of the share's interval at a
    known truth, and a simulation with relations of different truths around it (stratified, as the probe set is)."""
    k = np.arange(n + 1)
    ends = np.array([[e.low, e.high] for e in (share_interval(np.arange(n) < j) for j in k)])
    coverage = (stats.binom.pmf(k, n, truth) * ((ends[:, 0] <= truth) & (truth <= ends[:, 1]))).sum()
    assert coverage >= 0.93, coverage
    rng = np.random.default_rng(n)
    sizes = [13, 17, 17] if n == 47 else [13, 14, 17, 20, 19, 17, 17, 14, 12, 17]
    shift = np.linspace(-1, 1, len(sizes)) * min(truth, 1 - truth) / 2  # relations differ, the mean stays the truth
    p = np.repeat(truth + shift, sizes)
    hits = rng.random((4000, n)) < p
    ends = np.array([[e.low, e.high] for e in (share_interval(row) for row in hits)])
    mean = p.mean()
    assert ((ends[:, 0] <= mean) & (mean <= ends[:, 1])).mean() >= 0.93


def test_a_share_interval_is_wilsons_and_never_zero_width():
    for successes, n in [(0, 160), (160, 160), (113, 113), (37, 47), (1, 3)]:
        ours = share_interval(np.arange(n) < successes)
        theirs = stats.binomtest(successes, n).proportion_ci(0.95, method="wilson")
        assert (ours.low, ours.high) == (pytest.approx(theirs.low), pytest.approx(theirs.high)) and ours.high > ours.low
        assert ours.n == n and ours.value == pytest.approx(successes / n)
    assert share_interval(np.arange(0) < 0).n == 0
    assert percentile_interval(np.array([np.nan, 1.0, 1.0])) == (1.0, 1.0)


def test_learning_steps_against_a_literal_walk():
    rng = np.random.default_rng(3)
    top1 = rng.random((50, 7)) < 0.6
    top1[:5, -1] = False  # wrong at the end: never learned
    steps = np.array([10, 20, 40, 80, 160, 320, 640])
    got = learning_steps(top1, steps)
    for fact, row in enumerate(top1):
        expected = np.inf
        for r in range(len(row)):
            if all(row[r:]):
                expected = steps[r]
                break
        assert got[fact] == expected, (fact, row)


def test_relation_types_are_compared_with_the_relation_as_the_unit():
    """The exact permutation p against a literal enumeration written here; under no type effect but relations that
    differ, the test rejects about as often as it should (the fact-level rank test far more); a true type effect
    is found; never-learned facts rank last and make a median undefined."""
    import itertools

    rng = np.random.default_rng(11)
    sizes = [13, 14, 17, 20, 19, 17, 17, 14, 12, 17]
    relations = np.repeat(np.arange(10), sizes)
    location = np.isin(relations, [1, 3, 4, 5, 6, 8, 9])

    def draw(type_effect: float) -> np.ndarray:
        relation_mean = rng.normal(400, 80, 10)  # relations differ whatever their type
        return rng.normal(relation_mean[relations] - type_effect * location, 40)

    steps = draw(0.0)
    order = relation_type_order(steps, relations, location, resamples=200)
    medians = np.array([np.median(steps[relations == r]) for r in range(10)])
    observed = np.median(medians[[1, 3, 4, 5, 6, 8, 9]]) - np.median(medians[[0, 2, 7]])
    extreme = 0
    for chosen in itertools.combinations(range(10), 7):
        rest = [r for r in range(10) if r not in chosen]
        extreme += abs(np.median(medians[list(chosen)]) - np.median(medians[rest])) >= abs(observed) - 1e-9
    assert order.p == pytest.approx(extreme / 120) and order.statistic == pytest.approx(observed)
    assert (order.n_a, order.n_b, order.facts_a, order.facts_b) == (7, 3, int(location.sum()), int((~location).sum()))
    nulls = [relation_type_order(draw(0.0), relations, location, resamples=50, seed=k) for k in range(200)]
    naive = [stats.mannwhitneyu(s[location], s[~location]).pvalue for s in (draw(0.0) for _ in range(200))]
    assert np.mean([o.p < 0.05 for o in nulls]) <= 0.08 and np.mean(np.array(naive) < 0.05) > 0.3
    found = [relation_type_order(draw(300.0), relations, location, resamples=50, seed=k).p for k in range(50)]
    assert np.mean(np.array(found) < 0.05) > 0.8
    many = np.repeat(np.arange(40), 4)  # 20 against 20 relations: C(40, 20) assignments, drawn instead of listed
    sampled = relation_type_order(rng.normal(400, 40, 160) - 200 * (many < 20), many, many < 20, resamples=300)
    assert sampled.p == pytest.approx(1 / 301) and sampled.n_a == sampled.n_b == 20
    censored = np.where(relations == 0, np.inf, steps)  # a name relation never learned: ranked last, a median still exists
    order = relation_type_order(censored, relations, location, resamples=200)
    assert np.isfinite(order.statistic) and order.statistic < observed
    assert order.difference.value == pytest.approx(np.median(censored[location]) - np.median(censored[~location]))
    censored = np.where(np.isin(relations, [0, 2]), np.inf, steps)  # 30 of 47 name facts never learned: no median
    assert np.isnan(relation_type_order(censored, relations, location, resamples=200).difference.value)


def test_frequency_is_compared_within_relations():
    """Frequency confounded with relation type: high-frequency facts sit in fast relations but learn no faster
    within them. The within-relation test holds its level where the pooled rank test rejects; a real within-relation
    effect is found in either direction; the relation-clustered weighted medians equal np.median of the pooled facts."""
    from trajectory.stats.comparisons import pooled_medians

    rng = np.random.default_rng(12)
    relations = np.repeat(np.arange(10), 16)
    fast = relations < 5

    def draw(effect: float) -> tuple[np.ndarray, np.ndarray]:
        high = rng.random(160) < np.where(fast, 0.8, 0.2)  # mostly high-frequency in the fast relations
        return rng.normal(np.where(fast, 300, 500) - effect * high, 40), high

    nulls, naive = [], []
    for k in range(150):
        steps, high = draw(0.0)
        nulls.append(within_relation_order(steps, relations, high, resamples=200, seed=k).p)
        naive.append(stats.mannwhitneyu(steps[high], steps[~high]).pvalue)
    assert np.mean(np.array(nulls) < 0.05) <= 0.08 and np.mean(np.array(naive) < 0.05) > 0.9
    found = []
    for k in range(30):
        steps, high = draw(60.0)
        found.append(within_relation_order(steps, relations, high, resamples=200, seed=k))
    assert np.mean([o.p < 0.05 for o in found]) > 0.8
    assert np.mean([o.difference.low <= -60 <= o.difference.high for o in found]) >= 0.8
    steps, high = draw(-60.0)  # against the confound's direction: found too (the statistic is centred within relations)
    assert within_relation_order(steps, relations, high, resamples=200).p < 0.05
    values = rng.integers(0, 50, size=30).astype(float)
    values[3] = np.inf
    weights = rng.integers(0, 3, size=(100, 30)).astype(float)
    expected = [np.median(np.repeat(values, w.astype(int))) if w.sum() else np.nan for w in weights]
    np.testing.assert_array_equal(pooled_medians(values, weights), expected)


def test_the_permutation_p_equals_a_literal_enumeration():
    effect = np.array([-2.0, 0.1, 0.5])
    draws = np.array([[-1.0, 0.0, 0.2], [0.1, 0.3, -0.5], [0.4, 0.6, 0.7]])
    literal = []
    for e, row in zip(effect, draws):
        pool = [e, *row]  # the set itself among its draws: how often is a member of the pool at least as extreme?
        literal.append(sum(value <= e for value in pool) / len(pool))
    assert np.allclose(permutation_p(effect, draws), literal)
    assert permutation_p(np.array([-9.0]), np.zeros((1, 99)))[0] == pytest.approx(0.01)  # the smallest p with 99 draws


def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.20, np.nan])
    # sorted 0.01, 0.03, 0.04, 0.20 (m = 4): p·m/rank = 0.04, 0.06, 0.0533, 0.20, then the running minimum from the top
    assert np.allclose(adjusted_p(p)[:4], [0.04, 0.05333333, 0.05333333, 0.20]) and np.isnan(adjusted_p(p)[4])
    for values in itertools.permutations([0.2, 0.01, 0.5]):
        assert np.allclose(np.sort(adjusted_p(np.array(values))), [0.03, 0.3, 0.5])


def _literal_roles(activity, valid, subject, predicting, relation_of, n_relations, theta, counts):
    """Roles of the resample that draws fact x counts[x] times, by loops over components, relations and facts."""
    n_facts, _, n_components = activity.shape
    roles = [[None] * n_components for _ in range(n_relations)]
    for c in range(n_components):
        general_sum, entity_hits, entity_count = 0.0, 0.0, 0.0
        for x in range(n_facts):
            positions = [t for t in range(activity.shape[1]) if valid[x, t]]
            general_sum += counts[x] * sum(bool(activity[x, t, c]) for t in positions) / len(positions)
            for t in positions:
                weight = int(subject[x, t]) + int(predicting[x, t])
                entity_hits += counts[x] * weight * bool(activity[x, t, c])
                entity_count += counts[x] * weight
        general = general_sum / sum(counts) > theta
        entity = entity_hits / entity_count > theta
        for r in range(n_relations):
            members = [x for x in range(n_facts) if relation_of[x] == r]
            hits = sum(counts[x] * sum(bool(activity[x, t, c]) for t in range(activity.shape[1]) if predicting[x, t]) for x in members)
            count = sum(counts[x] * int(predicting[x].sum()) for x in members)
            relation = hits / max(count, 1) > theta
            fact = any(
                counts[x] > 0
                and sum(bool(activity[x, t, c]) for t in range(activity.shape[1]) if predicting[x, t]) / int(predicting[x].sum()) > theta
                for x in members
            )
            roles[r][c] = 0 if general else 1 if entity else 2 if relation else 3 if fact else 4
    return roles


def test_resampled_roles_equal_a_literal_reclassification_and_the_stored_definition():
    import torch

    from trajectory.roles.scores import assign_roles, role_scores
    from trajectory.stats.roles import fact_activity, resample_weights, resampled_roles

    g = torch.Generator().manual_seed(0)
    n_facts, length, n_components, n_relations, theta = 12, 7, 9, 3, 0.1234  # θ away from any reachable score
    activity = torch.rand(n_facts, length, n_components, generator=g) < torch.rand(1, 1, n_components, generator=g)
    lengths = torch.randint(4, length + 1, (n_facts,), generator=g)
    valid = torch.arange(length)[None, :] < lengths[:, None]
    activity &= valid[:, :, None]
    subject = torch.zeros(n_facts, length, dtype=torch.bool)
    predicting = torch.zeros(n_facts, length, dtype=torch.bool)
    subject[:, 1:3] = True
    predicting[torch.arange(n_facts), lengths - 2] = True
    predicting[::2, 0] = True
    relation_of = torch.arange(n_facts) % n_relations
    draws = stratified_resamples(relation_of.numpy(), resamples=6, seed=1)
    weights = torch.cat([torch.ones(1, n_facts, dtype=torch.double), resample_weights(draws, n_facts)])
    got = resampled_roles(fact_activity(activity, valid, subject, predicting), weights, relation_of, n_relations, theta)
    for b in range(len(weights)):
        expected = _literal_roles(activity, valid, subject, predicting, relation_of.tolist(), n_relations, theta, weights[b].tolist())
        assert got[b].tolist() == expected, b
    stored = assign_roles(role_scores(activity, valid, subject, predicting, relation_of, n_relations), relation_of, n_relations, theta)
    assert torch.equal(got[0].long(), stored)  # every fact once: the roles the ingest stores
    assert len({tuple(r.flatten().tolist()) for r in got}) > 1  # resamples change some roles: not vacuous


def test_roles_reclassified_from_the_stored_circuits_equal_the_stored_roles(small_store):
    from trajectory.pipeline.intervals import interval_query
    from trajectory.pipeline.resampled_roles import resample_roles
    from trajectory.roles.scores import ROLES
    from trajectory.store.db import reader, scope

    with reader(small_store) as con:
        ((analysis_id, theta),) = con.sql("SELECT analysis_id, theta FROM analyses").fetchall()
        scope(con, [analysis_id])
        resampled = resample_roles(interval_query(con, "circuit_members"), interval_query(con, "fact_positions"), theta, resamples=20)
        stored = con.sql(
            "SELECT v.ordinal, relation, kind, layer, coalesce(head, -1), role FROM roles JOIN revisions v USING (analysis_id, revision)"
        ).fetchall()
    n_heads = int((resampled.kinds == "head").sum() // (resampled.kinds == "ffn").sum())
    n_layers = int((resampled.kinds == "ffn").sum())
    assert resampled.roles.shape[:2] == (5, 21) and len(stored) == 5 * 10 * (n_layers * n_heads + n_layers)
    for ordinal, relation, kind, layer, head, role in stored:
        component = layer * n_heads + head if kind == "head" else n_layers * n_heads + layer
        k = resampled.ordinals.index(ordinal)
        assert ROLES[int(resampled.roles[k, 0, resampled.relations.index(relation), component])] == role


def _stored(db, table: str):
    import duckdb
    import polars as pl

    con = duckdb.connect(str(db), read_only=True)
    try:
        return pl.from_arrow(con.sql(f"SELECT * FROM {table}").to_arrow_table())
    finally:
        con.close()


def test_an_ingest_stores_intervals_whose_estimates_are_the_stored_ones(small_store):
    """Point estimates against the views and tables they summarise; tests against scipy and literal counts."""
    import duckdb
    import polars as pl

    intervals, comparisons = _stored(small_store, "intervals"), _stored(small_store, "comparisons")
    assert set(intervals["measure"]) >= {"top1", "role_count", "role_iou", "transition"}
    assert ((intervals["lower"] <= intervals["upper"]) | intervals["lower"].is_nan()).all() and (intervals["n"] >= 0).all()
    undefined = intervals.filter(pl.col("measure").is_in(["role_iou", "transition"]), pl.col("estimate").is_nan())
    assert undefined.height and undefined["lower"].is_null().all() and undefined["upper"].is_null().all()  # no band without a line
    con = duckdb.connect(str(small_store), read_only=True)
    top1 = dict(con.sql("SELECT revision, avg(top1::INT) FROM accuracy GROUP BY revision").fetchall())
    strongest = {(r, k, role): n for r, k, role, n in con.sql("SELECT revision, kind, role, count(*) FROM strongest_roles GROUP BY ALL").fetchall()}
    per_relation = {
        (r, q, k, role): n
        for r, q, k, role, n in con.sql("SELECT revision, relation, kind, role, n FROM role_counts WHERE relation <> '*'").fetchall()
    }
    transitions = {
        (f, k, a, b): (p, n)
        for f, k, a, b, p, n in con.sql(
            "SELECT from_revision, kind, from_role, to_role, p, sum(n) OVER (PARTITION BY from_revision, kind, from_role) "
            "FROM role_transitions WHERE relation = '*'"
        ).fetchall()
    }
    lens = {
        (r, t): (share, n)
        for r, t, share, n in con.sql("SELECT revision, relation_type, share_top1_last, n_facts FROM answer_emergence_by_revision").fetchall()
    }
    con.close()
    for row in intervals.filter(pl.col("measure") == "top1", pl.col("scope") == "*").iter_rows(named=True):
        assert row["estimate"] == pytest.approx(top1[row["revision"]]) and row["n"] == 160
    counts = intervals.filter(pl.col("measure") == "role_count")
    assert set(counts["relation"]) == {"*"} | {q for _, q, _, _ in per_relation}
    for row in counts.iter_rows(named=True):
        if row["relation"] == "*":
            assert row["estimate"] == strongest.get((row["revision"], row["scope"], row["category"]), 0), row
        else:
            assert row["estimate"] == per_relation.get((row["revision"], row["relation"], row["scope"], row["category"]), 0), row
    stored = intervals.filter(pl.col("measure") == "transition")
    assert stored["revision"].null_count() and stored["revision"].drop_nulls().n_unique() == 4  # pooled and every pair
    for row in stored.iter_rows(named=True):
        p, n = transitions[(row["revision"] or "*", row["scope"], row["category"], row["to_category"])]
        assert row["estimate"] == pytest.approx(p) and row["n"] == n
    # The causal page's per-group lines: the logit-lens share over all facts and per relation type.
    shares = intervals.filter(pl.col("measure") == "share_top1_last", pl.col("scope").is_in(["*", "relation type"]))
    assert shares.height == 2 * 5 + 5  # two relation types and all facts at each of 5 revisions
    for row in shares.iter_rows(named=True):
        share, n = lens[(row["revision"], row["category"])]
        assert row["estimate"] == pytest.approx(share) and row["n"] == n and row["lower"] <= share <= row["upper"]
    # Role sets against their controls: in the 2-layer small reference the only set is general, holding every head, so
    # the test says it is untestable, and why, at each of its 3 test revisions (19 draws); no comparison is stored for it.
    from trajectory.stats.role_tests import untestable_reason
    from trajectory.store.db import reader

    with reader(small_store) as con:
        role_tests = con.sql("SELECT * FROM role_tests").pl()
    assert role_tests.height == 3 and (role_tests["n_draws"] == 19).all() and role_tests["p"].is_null().all()
    for row in role_tests.iter_rows(named=True):
        assert row["reason"] == untestable_reason(row["n_heads"], row["n_ffns"], row["total_heads"], row["total_ffns"]) is not None
    assert comparisons.filter(pl.col("family").str.starts_with("role_controls")).is_empty()


def test_group_statistics_equal_a_literal_bootstrap_and_percentiles_equal_numpys():
    """The vectorised per-group mean and median over fixed draws, and the many-rows percentile interval, against
    loops over revisions and resamples."""
    from trajectory.stats import stratified_resamples
    from trajectory.stats.groups import group_statistic
    from trajectory.stats.resampling import percentile_intervals

    rng = np.random.default_rng(3)
    values = rng.normal(size=(6, 30))
    values[rng.random(values.shape) < 0.25] = np.nan
    values[4] = np.nan  # a revision where no fact has a value
    draws = stratified_resamples(np.repeat(np.arange(3), 10), 40, seed=2)
    for statistic, literal in (("mean", np.nanmean), ("median", np.nanmedian)):
        point, resampled, n = group_statistic(values, draws, statistic)
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
            want = np.array([[literal(values[k, d]) for d in draws] for k in range(6)])
            assert np.allclose(point, literal(values, axis=1), equal_nan=True)
        assert np.allclose(resampled, want, equal_nan=True) and (n == np.isfinite(values).sum(1)).all()
    resampled[0, :5] = np.nan
    lows, highs = percentile_intervals(resampled)
    for k in range(6):
        assert (lows[k], highs[k]) == pytest.approx(percentile_interval(resampled[k]), nan_ok=True)


def test_intervals_repeat_with_the_seed(small_store, tmp_path):
    import shutil

    from polars.testing import assert_frame_equal

    from trajectory.pipeline.intervals import IntervalSettings, store_intervals

    db = tmp_path / "again.duckdb"
    shutil.copy(small_store, db)
    analysis_id = _stored(db, "analyses")["analysis_id"][0]
    first = store_intervals(db, analysis_id, IntervalSettings(resamples=300, role_resamples=50))
    again = store_intervals(db, analysis_id, IntervalSettings(resamples=300, role_resamples=50))
    other = store_intervals(db, analysis_id, IntervalSettings(resamples=300, role_resamples=50, seed=1))
    assert_frame_equal(first["intervals"], again["intervals"]) and first["intervals"].height
    assert not first["intervals"]["lower"].fill_nan(None).equals(other["intervals"]["lower"].fill_nan(None))
    assert _stored(db, "intervals").height == other["intervals"].height  # replaced, not added


def test_mcnemar_counts_discordant_learnings_and_the_bootstrap_p_has_a_floor():
    """FE against LT on the same learnings: McNemar's exact p from the discordant pairs alone, worked by hand
    (7 learnings FE alone answers, 1 LT alone: p = 2 · (C(8,0) + C(8,1)) / 2^8); a bootstrap p never below 2 / (B + 1)."""
    import polars as pl

    from trajectory.pipeline.intervals import _bootstrap_p, mcnemar_p

    outcomes = [(1, 0)] * 7 + [(0, 1)] + [(1, 1)] * 20 + [(0, 0)] * 5  # (FE right, LT right) per learning
    keys = {"revision": [f"r{i % 3}" for i in range(len(outcomes))], "fact_id": list(range(len(outcomes)))}
    fe = pl.DataFrame({**keys, "top1": [float(a) for a, _ in outcomes]})
    lt = pl.DataFrame({**keys, "top1": [float(b) for _, b in outcomes]}).reverse()  # joined by key, not by order
    assert mcnemar_p(fe, lt) == pytest.approx(2 * (1 + 8) / 2**8)
    assert mcnemar_p(fe, fe) == 1.0
    assert _bootstrap_p(np.full(1999, 0.3)) == pytest.approx(2 / 2000)
    assert _bootstrap_p(np.array([-1.0, 1.0, 2.0, 3.0])) == pytest.approx(2 * (1 + 1) / 5)


def test_a_revision_without_a_step_is_never_given_one():
    """A fact first stable at a step-less revision (main without a published step) is learned at an unknown step:
    it ranks after every known step and before never-learned facts, and a median falling on it is undefined."""
    top1 = np.array([[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    learned = learning_steps(top1, np.array([100.0, 200.0, 300.0, np.nan]))
    assert learned[0] == 200 and np.isnan(learned[1]) and learned[2] == np.inf and learned[3] == 100
    relations = np.array(["a", "a", "b", "b", "c", "c", "d", "d"])
    steps = np.array([100.0, np.nan, np.inf, np.inf, 100.0, 100.0, 300.0, 300.0])
    order = relation_type_order(steps, relations, np.isin(relations, ["a", "c"]), resamples=50)
    # ranked: a's median (100 + 300.5) / 2, c's 100; b's inf-ranked 301, d's 300
    assert order.statistic == pytest.approx(np.median([200.25, 100.0]) - np.median([301.0, 300.0]))
    assert np.isnan(order.difference.value)  # group b's median fact is never learned
    assert np.isnan(
        relation_type_order(
            np.array([100.0, np.nan, np.nan, 50.0, 60.0, 70.0]),
            np.array(list("aabbcc")),
            np.array([True, True, True, False, False, False]),
            resamples=20,
        ).difference.value
    )
