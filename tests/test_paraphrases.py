"""Paraphrases: a probe set stating each fact under several templates; the views that put a fact's templates
side by side against literal recomputations on a hand-made store, and roles per template against an ingest of
that template's facts alone."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from synthetic_store import ANALYSIS, FACTS, MODEL, REVISIONS, write_synthetic_store

from trajectory.facts import load_probe_set
from trajectory.store.db import writer

TEMPLATES = ("{} is", "{} lies in")


def test_the_paraphrase_probe_set_states_each_fact_under_three_templates():
    probes = load_probe_set("paraphrases")
    assert len(probes) == 480
    keys: dict[tuple, set[str]] = {}
    for fact in probes:
        keys.setdefault((fact.relation, fact.subject, fact.object), set()).add(fact.template)
    assert len(keys) == 160 and all(len(t) == 3 for t in keys.values())
    per_relation: dict[str, set[str]] = {}
    for fact in probes:
        per_relation.setdefault(fact.relation, set()).add(fact.template)
    assert all(len(t) == 3 for t in per_relation.values())
    builtin = {(f.relation, f.subject, f.object, f.template) for f in load_probe_set("builtin")}
    assert builtin <= {(f.relation, f.subject, f.object, f.template) for f in probes}  # the probe template is one of them


def _two_template_store(db: Path) -> tuple[dict, dict]:
    """The synthetic facts 0–3 under a second template as facts 4–7: their own top-1 and circuits (roots at the
    last token and the last subject token)."""
    write_synthetic_store(db)
    rng = random.Random(4)
    top1, nodes = {}, {}
    with writer(db) as con:
        con.execute("UPDATE facts SET template = ? WHERE probe_set_id = 'ps1'", [TEMPLATES[0]])
        for fact_id, relation in FACTS:
            con.execute(
                "INSERT INTO facts SELECT probe_set_id, fact_id + 4, relation, subject, object, ?, relation_type FROM facts "
                "WHERE probe_set_id = 'ps1' AND fact_id = ?",
                [TEMPLATES[1], fact_id],
            )
        for fact in range(8):
            con.execute("INSERT INTO prompts VALUES ('ps1', ?, ?, 4, [1], [3], NULL)", [MODEL, fact])
            for k, (revision, _, _) in enumerate(REVISIONS):
                if fact >= 4:
                    ok = rng.random() < 0.5
                    con.execute("INSERT INTO accuracy VALUES (?, ?, ?, ?, ?, ?, ?)", [ANALYSIS, MODEL, revision, fact, 0 if ok else 9, ok, ok])
                top1[(revision, fact)] = con.execute("SELECT top1 FROM accuracy WHERE revision = ? AND fact_id = ?", [revision, fact]).fetchall()[0][
                    0
                ]
                for root in (1, 2):  # the subject's last token (1) and the last prompt token (2)
                    for layer in range(2):
                        for head in range(3):
                            if rng.random() < 0.5:
                                nodes.setdefault((revision, fact, root), set()).add((layer, head))
                                con.execute(
                                    "INSERT INTO circuits VALUES (?, ?, ?, ?, ?, 'head', ?, ?)", [ANALYSIS, MODEL, revision, fact, root, layer, head]
                                )
    return top1, nodes


def _iou(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else None


def test_paraphrase_views_against_a_literal_walk(tmp_path):
    top1, nodes = _two_template_store(tmp_path / "p.duckdb")
    with writer(tmp_path / "p.duckdb") as con:
        facts = {r[0]: r[1:] for r in con.execute("SELECT fact_id, fact_key, template_number, n_templates FROM paraphrase_facts").fetchall()}
        assert {f: (t, n) for f, (_, t, n) in facts.items()} == {f: (1 + f // 4, 2) for f in range(8)}
        assert all(facts[f][0] == facts[f + 4][0] for f in range(4)) and len({k for k, _, _ in facts.values()}) == 4
        accuracy = {
            (r[0], r[1]): r[2:]
            for r in con.execute("SELECT revision, p.subject, n_top1, under_every, under_some FROM paraphrase_accuracy p").fetchall()
        }
        ious = {(r[0], r[1], r[2]): r[3] for r in con.execute("SELECT revision, fact_key, position, mean_iou FROM paraphrase_circuit_iou").fetchall()}
    for revision, _, _ in REVISIONS:
        for fact in range(4):
            both = [top1[(revision, fact)], top1[(revision, fact + 4)]]
            assert accuracy[(revision, f"s{fact}")] == (sum(both), all(both), any(both))
            key = facts[fact][0]
            for position, roots in (("last token", (2,)), ("subject", (1,)), ("circuit", (1, 2))):
                a = set().union(*(nodes.get((revision, fact, r), set()) for r in roots))
                b = set().union(*(nodes.get((revision, fact + 4, r), set()) for r in roots))
                want = _iou(a, b)
                got = ious.get((revision, key, position))
                assert (got is None and not (a and b)) or got == pytest.approx(want), (revision, fact, position)
    assert any(a != b for a, b in itertools.pairwise(sorted(ious.values())))  # not all the same number
    assert {v[1] for v in accuracy.values()} == {True, False} or {v[2] for v in accuracy.values()} == {True, False}


@pytest.mark.slow
def test_roles_per_template_equal_an_ingest_of_that_templates_facts_alone(small_suite, tmp_path):
    import contextlib
    import io

    from trajectory.config import load_pipeline
    from trajectory.pipeline.orchestrator import ingest
    from trajectory.store.query import run_sql

    config = load_pipeline("reference-small").with_overrides({"ablation.enabled": False, "grafting.enabled": False, "extractive.enabled": False})
    held_out = tmp_path / "held_out.tsv"
    lines = load_probe_set("paraphrases")
    held_out.write_text(
        "relation\ttemplate\tsubject\tobject\n" + "".join(f"{f.relation}\t{f.template}\t{f.subject}\t{f.object}\n" for f in lines if f.fact_id >= 320)
    )
    with contextlib.redirect_stdout(io.StringIO()):
        assert ingest(config.with_overrides({"probe.facts": "paraphrases"}), tmp_path / "all.duckdb", progress=False) == 0
        assert ingest(config.with_overrides({"probe.facts": str(held_out)}), tmp_path / "alone.duckdb", progress=False) == 0
    per_template = run_sql(
        tmp_path / "all.duckdb", "SELECT revision, relation, kind, layer, head, role FROM template_roles WHERE template_number = 3"
    )
    alone = run_sql(tmp_path / "alone.duckdb", "SELECT revision, relation, kind, layer, head, role FROM roles WHERE role <> 'deactivated'")
    as_set = lambda frame: set(frame.rows())  # noqa: E731
    assert as_set(per_template) == as_set(alone) and per_template.height
    pooled = run_sql(tmp_path / "all.duckdb", "SELECT count(*) AS n, count(*) FILTER (WHERE holds_under_every) AS held FROM template_role_agreement")
    assert pooled["n"][0] > 0
