"""The answer-emergence views against a literal recomputation on a hand-made store."""

import random

from synthetic_store import ANALYSIS, FACTS, MODEL, RELATIONS, REVISIONS, write_synthetic_store

from trajectory.cli import main
from trajectory.store.db import writer

LAYERS = 4


def test_answer_emergence_views(tmp_path, capsys):
    db = write_synthetic_store(tmp_path / "lens.duckdb")
    rng = random.Random(0)
    ranks = {(r, f, l): (rng.choice([0, 0, 1, 3, 12]), rng.choice([0, 2, 5, 20])) for r, _, _ in REVISIONS for f, _ in FACTS for l in range(LAYERS)}
    with writer(db) as con:
        con.executemany(
            "INSERT INTO logit_lens VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[ANALYSIS, MODEL, r, f, l, last, subject] for (r, f, l), (last, subject) in ranks.items()],
        )
        rows = con.sql(
            "SELECT revision, relation_type, n_facts, share_top1_last, share_top1_subject, share_top10_subject, "
            "mean_first_layer_last, mean_first_layer_subject, subject_first FROM answer_emergence_by_revision"
        ).fetchall()
    got = {(r[0], r[1]): r[2:] for r in rows}
    assert len(got) == len(REVISIONS) * (1 + len(set(RELATIONS.values())))
    for revision, _, _ in REVISIONS:
        for kind in ("*", *set(RELATIONS.values())):
            facts = [f for f, rel in FACTS if kind in ("*", RELATIONS[rel])]
            first = lambda f, i: next((l for l in range(LAYERS) if ranks[(revision, f, l)][i] == 0), None)
            firsts_last = [first(f, 0) for f in facts]
            firsts_subject = [first(f, 1) for f in facts]
            best = [min(ranks[(revision, f, l)][1] for l in range(LAYERS)) for f in facts]
            mean = lambda xs: sum(xs) / len(xs) if xs else None
            reached = [(s, t) for s, t in zip(firsts_subject, firsts_last) if t is not None]
            expected = (
                len(facts),
                mean([ranks[(revision, f, LAYERS - 1)][0] == 0 for f in facts]),
                mean([b == 0 for b in best]),
                mean([b < 10 for b in best]),
                mean([x for x in firsts_last if x is not None]),
                mean([x for x in firsts_subject if x is not None]),
                mean([s is not None and s <= t for s, t in reached]),
            )
            actual = got[(revision, kind)]
            assert actual[0] == expected[0]
            for a, e in zip(actual[1:], expected[1:]):
                assert (a is None and e is None) or abs(a - e) < 1e-12, (revision, kind, actual, expected)
    assert main(["query", "answer_emergence", "--db", str(db), "--format", "csv"]) == 0
    assert "top1_subject" in capsys.readouterr().out
