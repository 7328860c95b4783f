"""The grafting views against literal recomputations on a hand-made store (tests/synthetic_store.py):
recovery per pair, configuration and scope; the pathways by band of training; the layer-range grafts
beside the roles at the donor revision; consecutive pairs told from chosen ones."""

from __future__ import annotations

import pytest
from synthetic_store import (
    FACTS,
    GRAFT_CONFIGS,
    GRAFT_PAIRS,
    HEADS,
    LAYERS,
    N_REVISIONS,
    RELATIONS,
    REVISIONS,
    ffn_role,
    graft_rank,
    head_role,
    write_synthetic_grafts,
    write_synthetic_store,
)

from trajectory.store.db import reader

GRAFTS = [c for c in GRAFT_CONFIGS if c not in ("A", "B")]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = tmp_path_factory.mktemp("grafts") / "synthetic.duckdb"
    return write_synthetic_grafts(write_synthetic_store(db))


def mean(values):
    values = list(values)
    return sum(values) / len(values) if values else None


def literal_recovery(pair: int, config: str, facts: list[int]) -> dict:
    def m(name, metric):
        return mean(metric(graft_rank(pair, name, f)) for f in facts)

    learned = [f for f in facts if graft_rank(pair, "A", f) > 0 and graft_rank(pair, "B", f) == 0]
    out = {"n_facts": len(facts), "n_learned": len(learned), "learned_top1": mean(graft_rank(pair, config, f) == 0 for f in learned)}
    for name, metric in (("top1", lambda r: r == 0), ("top5", lambda r: r < 5), ("rank", lambda r: r)):
        a, b, g = m("A", metric), m("B", metric), m(config, metric)
        out[f"{name}_recovery"] = None if a == b else (g - a) / (b - a)
    return out


def band(ordinal: int) -> str:
    return "early" if 3 * ordinal < N_REVISIONS else "middle" if 3 * ordinal < 2 * N_REVISIONS else "late"


def close(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-12)


def test_recovery_per_pair_config_and_scope(store):
    with reader(store) as con:
        rows = con.sql("SELECT * FROM graft_recovery").pl()
    scopes = {"all": {"*": [f for f, _ in FACTS]}, "relation_type": {}, "relation": {}}
    for fact_id, relation in FACTS:
        scopes["relation_type"].setdefault(RELATIONS[relation], []).append(fact_id)
        scopes["relation"].setdefault(relation, []).append(fact_id)
    assert rows.height == len(GRAFT_PAIRS) * len(GRAFTS) * sum(len(s) for s in scopes.values())
    for row in rows.iter_rows(named=True):
        pair = GRAFT_PAIRS.index(
            next((a, b) for a, b in GRAFT_PAIRS if REVISIONS[a][0] == row["revision"] and REVISIONS[b][0] == row["donor_revision"])
        )
        expected = literal_recovery(pair, row["config"], scopes[row["scope"]][row["relation"]])
        for key, value in expected.items():
            assert close(row[key], value), (row["revision"], row["config"], row["scope"], row["relation"], key)
        a, b = GRAFT_PAIRS[pair]
        assert row["consecutive"] == (b == a + 1) and row["band"] == band(a) and row["ordinal"] == a


def test_pathways_pool_the_consecutive_pairs_of_each_band(store):
    with reader(store) as con:
        rows = con.sql("SELECT * FROM graft_pathways").pl()
    expected = {}
    for pair, (a, b) in enumerate(GRAFT_PAIRS[:3]):
        for config in ("FE", "LT", "FE+LT"):
            learned = [f for f, _ in FACTS if graft_rank(pair, "A", f) > 0 and graft_rank(pair, "B", f) == 0]
            entry = expected.setdefault((band(a), config), [0, 0, 0])
            entry[0] += 1
            entry[1] += len(learned)
            entry[2] += sum(graft_rank(pair, config, f) == 0 for f in learned)
    assert rows.height == len(expected)
    for row in rows.iter_rows(named=True):
        pairs, learned, recovered = expected[(row["band"], row["config"])]
        assert (row["n_pairs"], row["n_learned"]) == (pairs, learned)
        assert close(row["learned_top1"], recovered / learned if learned else None)


def test_layer_range_grafts_beside_the_roles_at_the_donor(store):
    with reader(store) as con:
        rows = con.sql("SELECT * FROM graft_layer_roles").pl()
    spans = {"first_half": [0], "last_half": [1], "last_quarter": [1]}  # 2 layers
    assert rows.height == len(GRAFT_PAIRS) * 3 * (1 + len(RELATIONS))
    for row in rows.iter_rows(named=True):
        a, b = next((a, b) for a, b in GRAFT_PAIRS if REVISIONS[a][0] == row["revision"] and REVISIONS[b][0] == row["donor_revision"])
        _, layers, component = GRAFT_CONFIGS[row["config"]]
        counts = {"fact": 0, "relation": 0, "entity": 0, "general": 0, "new": 0}
        for r, relation in enumerate(RELATIONS):
            if row["relation"] not in ("*", relation):
                continue
            members = []  # (role at B, role at A)
            for layer in spans[layers]:
                if "o" in component.split("+") or "attention" in component:
                    members += [(head_role(b, r, layer, h), head_role(a, r, layer, h)) for h in range(HEADS)]
                if "ffn" in component:
                    members.append((ffn_role(b, r, layer), ffn_role(a, r, layer)))
            for at_b, at_a in members:
                counts[at_b] = counts.get(at_b, 0) + 1
                counts["new"] += at_b in ("fact", "relation") and at_a != at_b
        got = (row["n_fact"], row["n_relation"], row["n_entity"], row["n_general"], row["n_new_fact_relation"])
        assert got == (counts["fact"], counts["relation"], counts["entity"], counts["general"], counts["new"]), (row["config"], row["relation"])
    assert LAYERS == 2
