"""The view circuit_formation (do recall circuits form?) against a literal walk over the stored rows of the small
reference, and the findings section that words it."""

from __future__ import annotations

from collections import defaultdict

import pytest

from trajectory.dashboard.findings import findings_markdown
from trajectory.store.db import reader


@pytest.fixture(scope="module")
def rows(small_store):
    with reader(small_store) as con:

        def fetch(sql):
            return con.sql(sql).fetchall()

        theta = fetch("SELECT theta FROM analyses")[0][0]
        return {
            "view": {
                r[0]: r[1:]
                for r in fetch("""SELECT revision, top1, n_facts, n_heads, fact_head_share, active_heads,
                                                          costly_heads, topk_share80 FROM circuit_formation""")
            },
            "accuracy": fetch("SELECT revision, fact_id, top1 FROM accuracy"),
            "scores": fetch("SELECT revision, kind, layer, head, scope, fact_id, score FROM component_scores"),
            "roles": fetch("SELECT revision, kind, layer, head, role FROM roles"),
            "effects": fetch("SELECT revision, fact_id, kind, layer, head, delta_reward FROM component_effects"),
            "relation_of": dict(fetch("SELECT fact_id, relation FROM analysis_facts")),
            "topk": fetch("SELECT revision, share80 FROM topk_summary"),
            "theta": theta,
            "first": fetch("SELECT revision FROM circuit_formation ORDER BY ordinal LIMIT 1")[0][0],
        }


def test_circuit_formation_equals_the_literal_one(rows):
    theta = rows["theta"]
    facts = defaultdict(list)
    for revision, fact, top1 in rows["accuracy"]:
        facts[revision].append((fact, top1))
    heads = defaultdict(set)
    in_fact = defaultdict(int)
    for revision, kind, layer, head, scope, fact, score in rows["scores"]:
        if kind == "head" and scope == "general":
            heads[revision].add((layer, head))
        if kind == "head" and scope == "fact" and score > theta:
            in_fact[revision, fact] += 1
    active = defaultdict(set)
    for revision, kind, layer, head, role in rows["roles"]:
        if kind == "head" and role != "deactivated":
            active[revision].add((layer, head))
    effects = defaultdict(list)
    for revision, fact, kind, layer, head, delta in rows["effects"]:
        if kind == "head" and delta is not None:
            effects[revision, layer, head, rows["relation_of"][fact]].append(delta)
    costly = defaultdict(set)
    measured = set()
    for (revision, layer, head, _), deltas in effects.items():
        measured.add(revision)
        if sum(deltas) / len(deltas) <= -1:
            costly[revision].add((layer, head))
    topk = defaultdict(list)
    for revision, share in rows["topk"]:
        if share is not None:
            topk[revision].append(share)

    assert set(rows["view"]) == set(facts) and len(facts) >= 4
    for revision, (top1, n_facts, n_heads, share, n_active, n_costly, share80) in rows["view"].items():
        here = facts[revision]
        assert n_facts == len(here) and top1 == pytest.approx(sum(t for _, t in here) / len(here))
        assert n_heads == len(heads[revision]) > 0
        assert share == pytest.approx(sum(in_fact[revision, f] for f, _ in here) / len(here) / n_heads)
        assert n_active == len(active[revision])
        assert n_costly == (len(costly[revision]) if revision in measured else None)
        assert share80 == (pytest.approx(sum(topk[revision]) / len(topk[revision])) if topk[revision] else None)
    assert any(v[3] > 0 for v in rows["view"].values())  # some fact's circuit holds a head: not vacuous
    assert measured  # the effects stage ran on some revision


def test_findings_say_whether_circuits_form(small_store, rows):
    text = findings_markdown(small_store)
    section = text.split("## Do recall circuits form?", 1)[1].split("\n## ", 1)[0]
    top1, n_facts, n_heads, share = rows["view"][rows["first"]][:4]
    assert "| revision | why | top-1 |" in section
    assert f"| {rows['first']} | first | {100 * top1:.0f} % of {n_facts} | {100 * share:.0f} % of {n_heads} |" in section
