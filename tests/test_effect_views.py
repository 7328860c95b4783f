"""The causal ground-truth views (sql/views/effect_views.sql) against a literal computation written here over
the same rows: causal circuits by the κ rule, precision / recall / IoU against the IFR circuit at the answer's
root, Spearman's rho by scipy, causal roles by METHOD.md §4's rule with one root, and their agreement with the
IFR roles; plus one fact worked by hand."""

import json
import random

import pytest
from scipy.stats import spearmanr
from synthetic_store import (
    ANALYSIS,
    FACTS,
    HEADS,
    LAYERS,
    MODEL,
    REVISIONS,
    write_synthetic_store,
)

from trajectory.store.db import reader, writer

ATP_ONLY = len(REVISIONS) - 1  # the last revision's stage ran attribution patching alone
KAPPA, THETA, ROOT = 0.1, 0.1, 1  # the prompts' first answer position is 2: R is read at position 1
COMPONENTS = [("head", layer, head) for layer in range(LAYERS) for head in range(HEADS)] + [("ffn", layer, -1) for layer in range(LAYERS)]
RELATION = dict(FACTS)
# Fact 0 at the first revision, worked by hand: gap 5 − 1 = 4, so a component is causal when it costs >= 0.4.
HAND_DELTAS = {("head", 0, 0): -0.5, ("head", 0, 1): -0.4, ("head", 0, 2): -0.39, ("ffn", 0, -1): -2.0}
HAND_IFR = {("head", 0, 0), ("head", 0, 2), ("head", 1, 1)}  # at the root; ("ffn", 1) only at another root


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_effects_store(tmp_path_factory.mktemp("effects") / "s.duckdb")


def write_effects_store(path):
    """The synthetic store with every component's effect on every fact at every revision; returns (db, rows)."""
    db = write_synthetic_store(path)
    rng = random.Random(5)
    rows = {}  # (revision, fact) -> (clean, none, {component: (importance, delta, atp)}, ifr set)
    with writer(db) as con:
        for fact, _ in FACTS:
            con.execute(
                "INSERT INTO prompts (probe_set_id, model, fact_id, n_tokens, subject_positions, answer_positions) "
                "VALUES ('ps1', ?, ?, 4, [0], [2, 3])",
                [MODEL, fact],
            )
        for k, (revision, _, _) in enumerate(REVISIONS):
            con.execute(
                "INSERT INTO stage_runs VALUES (?, ?, ?, 'effects', NULL, ?, 1.0, now())",
                [ANALYSIS, MODEL, revision, json.dumps({"method": "both", "mode": "mean", "kappa": KAPPA})],
            )
            for fact, _ in FACTS:
                hand = k == 0 and fact == 0
                clean, none = (5.0, 1.0) if hand else (rng.choice([0.5, 3.0, 6.0]), rng.uniform(-0.5, 0.5))
                effects, ifr = {}, set()
                for c in COMPONENTS:
                    delta = HAND_DELTAS.get(c, 0.0) if hand else rng.choice([0.0, 0.1, -0.2, -1.0, -3.0, rng.uniform(-2, 0.5)])
                    atp = delta + rng.uniform(-0.3, 0.3)
                    importance = rng.choice([0.0, 0.2, rng.random()])
                    kind, layer, head = c
                    if k == ATP_ONLY:  # a stage run with method 'atp': the estimate stands in for the effect
                        effects[c] = (importance, atp, None)
                        stored = (importance, None, None, atp)
                    else:
                        effects[c] = (importance, delta, atp)
                        stored = (importance, delta, 0, atp)
                    con.execute(
                        "INSERT INTO component_effects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [ANALYSIS, MODEL, revision, fact, kind, layer, None if head < 0 else head, *stored],
                    )
                    for root in (0, ROOT):
                        member = (c in HAND_IFR) if hand and root == ROOT else (kind == "ffn" and layer == 1) if hand else rng.random() < 0.5
                        if member:
                            if root == ROOT:
                                ifr.add(c)
                            con.execute(
                                "INSERT INTO circuits VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                [ANALYSIS, MODEL, revision, fact, root, kind, layer, None if head < 0 else head],
                            )
                con.execute("INSERT INTO effect_baselines VALUES (?, ?, ?, ?, ?, ?, 0, 9)", [ANALYSIS, MODEL, revision, fact, clean, none])
                rows[(revision, fact)] = (clean, none, effects, ifr)
    return db, rows


def causal_set(clean, none, effects) -> set | None:
    gap = clean - none
    return None if gap < 1.0 else {c for c, (_, delta, _) in effects.items() if -delta >= KAPPA * gap}


def query(db, sql):
    with reader(db) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def test_the_hand_worked_fact(store):
    db, _ = store
    (row,) = query(db, f"SELECT * FROM effect_agreement WHERE revision = '{REVISIONS[0][0]}' AND fact_id = 0")
    # causal: h00 (0.5), h01 (0.4 = the threshold), ffn0 (2.0); not h02 (0.39). IFR at the root: h00, h02, h11.
    assert (row["n_causal"], row["n_ifr"], row["n_shared"]) == (3, 3, 1)
    assert row["precision"] == pytest.approx(1 / 3) and row["recall"] == pytest.approx(1 / 3) and row["iou"] == pytest.approx(1 / 5)
    assert row["gap"] == pytest.approx(4.0)


def test_circuit_agreement_equals_the_literal_one(store):
    db, rows = store
    got = {(r["revision"], r["fact_id"]): r for r in query(db, "SELECT * FROM effect_agreement")}
    expected_keys = {key for key, (clean, none, _, _) in rows.items() if clean - none >= 1.0}
    assert set(got) == expected_keys and len(expected_keys) > 6
    for key in expected_keys:
        clean, none, effects, ifr = rows[key]
        causal = causal_set(clean, none, effects)
        shared = causal & ifr
        row = got[key]
        assert (row["n_causal"], row["n_ifr"], row["n_shared"]) == (len(causal), len(ifr), len(shared)), key
        assert row["precision"] == (pytest.approx(len(shared) / len(ifr)) if ifr else None)
        assert row["recall"] == (pytest.approx(len(shared) / len(causal)) if causal else None)
        union = causal | ifr
        assert row["iou"] == (pytest.approx(len(shared) / len(union)) if union else None)
        importance = [effects[c][0] for c in COMPONENTS]
        cost = [-effects[c][1] for c in COMPONENTS]
        rho = spearmanr(importance, cost).statistic if len(set(importance)) > 1 and len(set(cost)) > 1 else None
        assert row["spearman"] == (pytest.approx(rho) if rho is not None else None), key
        assert row["estimated"] == (key[0] == REVISIONS[ATP_ONLY][0])
        if row["estimated"]:  # nothing to compare the estimate with
            assert row["atp_spearman"] is None and row["atp_top10_overlap"] is None
            continue
        atp = [-effects[c][2] for c in COMPONENTS]
        assert row["atp_spearman"] == pytest.approx(spearmanr(atp, cost).statistic), key
        assert row["atp_top10_overlap"] == 1.0  # 8 components: the ten most costly are all of them


def literal_roles(rows, revision) -> dict:
    """(relation, component) -> causal role, METHOD.md §4 with one root per fact."""
    measured = {fact: causal_set(*rows[(revision, fact)][:3]) for fact, _ in FACTS}
    measured = {fact: s for fact, s in measured.items() if s is not None}
    roles = {}
    for relation in sorted({RELATION[f] for f in measured}):
        mine = [f for f in measured if RELATION[f] == relation]
        for c in COMPONENTS:
            general = sum(c in measured[f] for f in measured) / len(measured)
            own = sum(c in measured[f] for f in mine) / len(mine)
            roles[(relation, c)] = (
                "general" if general > THETA else "relation" if own > THETA else "fact" if any(c in measured[f] for f in mine) else "deactivated"
            )
    return roles


def test_causal_roles_and_their_agreement_equal_the_literal_ones(store):
    db, rows = store
    with reader(db) as con:
        ifr_roles = {
            (r, rel, (kind, layer, -1 if head is None else head)): role
            for r, rel, kind, layer, head, role in con.execute("SELECT revision, relation, kind, layer, head, role FROM roles").fetchall()
        }
    got = query(db, "SELECT * FROM component_effect_roles")
    agreement = {(r["revision"], r["relation"], r["kind"], r["role"]): r for r in query(db, "SELECT * FROM effect_role_agreement")}
    checked = 0
    for revision, _, _ in REVISIONS:
        expected = literal_roles(rows, revision)
        mine = {(r["relation"], (r["kind"], r["layer"], r["head"])): r for r in got if r["revision"] == revision}
        assert {key: r["causal_role"] for key, r in mine.items()} == expected
        for key, r in mine.items():
            assert r["ifr_role"] == ifr_roles.get((revision, *key), "deactivated")
        for kind in ("head", "ffn"):
            pairs = [(key, expected[key], mine[key]["ifr_role"]) for key in expected if key[1][0] == kind]
            if not pairs:
                continue
            same = agreement[(revision, "*", kind, "all")]
            assert same["agreement"] == pytest.approx(sum(a == b for _, a, b in pairs) / len(pairs))
            for role in ("general", "relation", "fact"):
                for relation in {key[0] for key, _, _ in pairs} | {"*"}:
                    chosen = [(c, i) for key, c, i in pairs if relation in ("*", key[0])]
                    n_ifr, n_causal = sum(i == role for _, i in chosen), sum(c == role for c, _ in chosen)
                    shared = sum(c == role and i == role for c, i in chosen)
                    row = agreement[(revision, relation, kind, role)]
                    assert (row["n_ifr"], row["n_causal"], row["n_shared"]) == (n_ifr, n_causal, shared)
                    union = n_ifr + n_causal - shared
                    assert row["agreement"] == (pytest.approx(shared / union) if union else None)
                    checked += 1
    assert checked > 20


def test_the_causal_page_draws_the_stored_effects_and_agreement(store):
    """The heatmap's cells at every slider step are the view's mean effects with the IFR role letters; the
    agreement figure's all-facts IoU line is the view's mean IoU per revision."""
    import plotly.graph_objects as go

    from trajectory.dashboard.build import analysis_context, build_figure, stored_analyses
    from trajectory.dashboard.causal import ROLE_MARKS
    from trajectory.dashboard.spec import load_dashboards

    db, _ = store
    spec = next(s for s in load_dashboards() if s.name == "causal")
    with reader(db) as con:
        (summary,) = stored_analyses(con)
        context = analysis_context(summary)
        figures = {f.id: go.Figure(build_figure(con, f, context)) for f in spec.figures if f.id.startswith("causal-")}
    rows = query(db, "SELECT * FROM component_effect_roles")
    heatmap = figures["causal-component-effects"]
    x, y = list(heatmap.data[0].x), list(heatmap.data[0].y)
    steps = heatmap.layout.sliders[0].steps
    assert [s.label for s in steps] == [r for r, _, _ in REVISIONS if any(row["revision"] == r for row in rows)]
    for step in steps:
        z, text = step.args[0]["z"][0], step.args[0]["text"][0]
        mine = [r for r in rows if r["revision"] == step.label]
        assert sum(v is not None for line in z for v in line) == len(mine)
        for r in mine:
            column = x.index(f"L{r['layer']}H{r['head']}" if r["kind"] == "head" else f"L{r['layer']}FFN")
            line = y.index(r["relation"].replace("_", " "))
            assert z[line][column] == pytest.approx(r["mean_effect"]) and text[line][column] == ROLE_MARKS[r["ifr_role"]]
    lines = figures["causal-agreement"]
    whole = next(t for t in lines.data if t.name == "all facts" and t.fill is None)  # the line, not its band
    expected = {r["revision"]: r["iou"] for r in query(db, "SELECT * FROM effect_agreement_over_revisions WHERE relation = '*'")}
    drawn = dict(zip([c[0] for c in whole.customdata], whole.y))
    assert drawn.keys() == expected.keys()
    for revision, value in expected.items():
        assert drawn[revision] == (pytest.approx(value) if value is not None else None)


def test_the_component_page_draws_each_components_literal_effects(store):
    """The component page (issue #38 item 1): per component, the mean ΔR over the measured facts (R_clean − R_none ≥ 1;
    attribution patching where the stage ran it alone) with Student's t interval, and the 12 facts its ablation costs
    most on average, each as computed here from the rows written."""
    import numpy as np
    import plotly.graph_objects as go
    from scipy import stats

    from trajectory.dashboard.build import analysis_context, build_figure, stored_analyses
    from trajectory.dashboard.spec import load_dashboards

    db, rows = store
    spec = next(s for s in load_dashboards() if s.name == "components")
    with reader(db) as con:
        (summary,) = stored_analyses(con)
        figures = {f.id: go.Figure(build_figure(con, f, analysis_context(summary))) for f in spec.figures}
    order = {r: k for k, (r, _, _) in enumerate(REVISIONS)}
    lines = {t.meta["component"]: t for t in figures["component-measures"].data if t.name and t.name.endswith("mean ΔR when ablated alone")}
    facts = {t.meta["component"]: t for t in figures["component-facts"].data}
    key = lambda c: f"L{c[1]}FFN" if c[0] == "ffn" else f"L{c[1]}H{c[2]}"  # noqa: E731
    assert set(lines) == set(facts) == {key(c) for c in COMPONENTS}
    for c in COMPONENTS:
        per_revision = {}
        for (revision, fact), (clean, none, effects, _) in rows.items():
            if clean - none >= 1.0:
                per_revision.setdefault(revision, {})[fact] = effects[c][1]
        drawn = lines[key(c)]
        revisions = sorted(per_revision, key=order.get)
        assert [d[0] for d in drawn.customdata] == revisions
        for (revision, low, high, n, _), mean in zip(drawn.customdata, drawn.y):
            values = np.array(list(per_revision[revision].values()))
            assert n == len(values) and mean == pytest.approx(values.mean())
            if n > 1:
                expected = stats.t.interval(0.95, n - 1, loc=values.mean(), scale=values.std(ddof=1) / np.sqrt(n))
                assert (low, high) == pytest.approx(expected)
        means = {}
        for values in per_revision.values():
            for fact, value in values.items():
                means.setdefault(fact, []).append(value)
        ranked = sorted(means, key=lambda f: (float(np.mean(means[f])), f))[:12]
        assert [int(label.rsplit("#", 1)[1]) for label in facts[key(c)].y] == ranked
        assert facts[key(c)].meta["link"] == "routes.html#view:fact={c0}&revision={c1}"
