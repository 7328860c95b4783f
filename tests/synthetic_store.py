"""A hand-made store whose roles change in a known way, for testing the views and the dashboards.

Model ``m/synthetic``: 4 revisions, 2 layers × 3 heads + 2 FFNs, relations city_in_country
(location) and company_ceo (name) with 2 facts each. Head roles follow ``head_role`` below.
"""

from __future__ import annotations

from pathlib import Path

from trajectory.roles.scores import ROLES
from trajectory.store.db import writer

MODEL = "m/synthetic"
REVISIONS = [("step100-tokens1K", 100, 1000), ("step200-tokens2K", 200, 2000), ("step300-tokens3K", 300, 3000), ("main", None, None)]
RELATIONS = {"city_in_country": "location", "company_ceo": "name"}
FACTS = [(0, "city_in_country"), (1, "city_in_country"), (2, "company_ceo"), (3, "company_ceo")]
LAYERS, HEADS = 2, 3
N_REVISIONS = len(REVISIONS)


def head_role(revision: int, relation: int, layer: int, head: int) -> str:
    """A deterministic role that moves with the revision and differs between relations."""
    return ROLES[(layer * HEADS + head + revision + 2 * relation * (layer + head)) % len(ROLES)]


def ffn_role(revision: int, relation: int, layer: int) -> str:
    return "general" if layer == 0 else ("deactivated" if revision == 0 else "relation")


def top1(revision: int, fact_id: int) -> bool:
    return revision >= fact_id  # facts are learned one revision after another


ANALYSIS = "synthetic01"
ANALYSIS_NAME = "synthetic/facts/tau=0.01/theta=0.1"


def write_synthetic_store(db: Path, analysis: str = ANALYSIS, name: str = ANALYSIS_NAME, shift: int = 0) -> Path:
    """One analysis of the synthetic model; another call with another ``analysis`` adds one whose roles
    are those of revision k + ``shift``."""
    with writer(db) as con:
        con.execute("INSERT INTO probe_sets VALUES ('ps1', 'facts', 4, now()) ON CONFLICT DO NOTHING")
        con.execute(
            "INSERT INTO analyses VALUES (?, ?, ?, 'ps1', ?, 0.1, 'per_position', 'float32', now())", [analysis, name, MODEL, 0.01 * (1 + shift)]
        )
        con.execute("INSERT INTO runs VALUES ('run1', ?, 'synthetic', 'cpu', '{}', now())", [analysis])
        for fact_id, relation in FACTS:
            con.execute(
                "INSERT INTO facts VALUES ('ps1', ?, ?, ?, 'o', '{} is', ?) ON CONFLICT DO NOTHING",
                [fact_id, relation, f"s{fact_id}", RELATIONS[relation]],
            )
        for k, (revision, step, tokens) in enumerate(REVISIONS):
            con.execute(
                "INSERT INTO revisions (analysis_id, model, revision, ordinal, step, tokens, run_id, ingested_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'run1', now())",
                [analysis, MODEL, revision, k, step, tokens],
            )
            for fact_id, _ in FACTS:
                ok = top1(k, fact_id)
                con.execute("INSERT INTO accuracy VALUES (?, ?, ?, ?, ?, ?, ?)", [analysis, MODEL, revision, fact_id, 0 if ok else 20, ok, ok])
            for r, relation in enumerate(RELATIONS):
                for layer in range(LAYERS):
                    con.execute(
                        "INSERT INTO roles VALUES (?, ?, ?, ?, 'ffn', ?, NULL, ?)",
                        [analysis, MODEL, revision, relation, layer, ffn_role(k + shift, r, layer)],
                    )
                    for head in range(HEADS):
                        con.execute(
                            "INSERT INTO roles VALUES (?, ?, ?, ?, 'head', ?, ?, ?)",
                            [analysis, MODEL, revision, relation, layer, head, head_role(k + shift, r, layer, head)],
                        )
            for layer in range(LAYERS):
                for head in range(HEADS):
                    score = round(0.1 * (k + 1) + 0.01 * (layer * HEADS + head), 3)
                    con.execute(
                        "INSERT INTO component_scores VALUES (?, ?, ?, 'head', ?, ?, 'general', NULL, NULL, ?)",
                        [analysis, MODEL, revision, layer, head, score],
                    )
                    con.execute(
                        "INSERT INTO component_scores VALUES (?, ?, ?, 'head', ?, ?, 'entity', NULL, NULL, ?)",
                        [analysis, MODEL, revision, layer, head, score / 2],
                    )
    return db


# Grafts: each consecutive pair (k, k+1) and one chosen pair (0, 3); A and B answer as ``top1`` says.
GRAFT_PAIRS = [(0, 1), (1, 2), (2, 3), (0, 3)]
GRAFT_CONFIGS = {
    "A": (None, None, None),
    "B": (None, None, None),
    "FE": ("FE", "all", "all"),
    "LT": ("LT", "all", "all"),
    "FE+LT": ("FE+LT", "all", "all"),
    "LT:o@last_half": ("LT", "last_half", "o"),
    "LT:ffn@first_half": ("LT", "first_half", "ffn"),
    "LT:o+ffn@last_quarter": ("LT", "last_quarter", "o+ffn"),
}


def graft_rank(pair: int, config: str, fact_id: int) -> int:
    a, b = GRAFT_PAIRS[pair]
    if config == "A":
        return 0 if top1(a, fact_id) else 3 + fact_id
    if config == "B":
        return 0 if top1(b, fact_id) else 2 + fact_id
    return (pair + list(GRAFT_CONFIGS).index(config) + fact_id) % 3


def write_synthetic_grafts(db: Path, analysis: str = ANALYSIS) -> Path:
    with writer(db) as con:
        for p, (a, b) in enumerate(GRAFT_PAIRS):
            for config, (positions, layers, component) in GRAFT_CONFIGS.items():
                for fact_id, relation in FACTS:
                    rank = graft_rank(p, config, fact_id)
                    learned = graft_rank(p, "A", fact_id) > 0 and graft_rank(p, "B", fact_id) == 0
                    con.execute(
                        "INSERT INTO grafts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            analysis,
                            MODEL,
                            REVISIONS[a][0],
                            REVISIONS[b][0],
                            config,
                            positions,
                            layers,
                            component,
                            fact_id,
                            relation,
                            rank,
                            rank == 0,
                            rank < 5,
                            learned,
                        ],
                    )
    return db


# Ablation-stage rows (clean / circuit_only / complement / none per fact; a general set and each relation's
# relation set, with CAUSAL_DRAWS controls each), per-root circuits, frequency buckets and logit-lens rows.
CAUSAL_DRAWS = 99  # enough that a permutation p can reach 0.01 (a finding after BH over three sets)
BUCKET = {0: "high", 1: "low", 2: "medium", 3: "high"}


def write_synthetic_ablations(db: Path, seed: int = 1) -> tuple[dict, dict, dict]:
    """Returns the rewards {(revision, fact, target)}, the role-set rewards {(revision, role, relation, draw,
    fact)} (draw None: the role set itself) and the circuit nodes {(revision, fact): {(kind, layer, head)}}."""
    import random

    import polars as pl

    rng = random.Random(seed)
    rewards, sets, nodes = {}, {}, {}
    controls: list[tuple] = []  # the many control rows, inserted at once at the end (row by row takes seconds)
    with writer(db) as con:
        for k, (revision, _, _) in enumerate(REVISIONS):
            for fact, _ in FACTS:
                clean = rng.choice([0.2, 3.0, 5.0])  # 0.2: the denominator is tiny (or negative) for some facts
                values = {
                    "clean": clean,
                    "circuit_only": clean * rng.uniform(0.3, 1.1),
                    "complement": rng.uniform(-1, 1),
                    "none": rng.uniform(-0.5, 0.5),
                }
                for target, reward in values.items():
                    rewards[(revision, fact, target)] = reward
                    size = (LAYERS * HEADS, LAYERS) if target == "none" else (3, 1)  # 'none' ablates the whole model
                    con.execute(
                        "INSERT INTO ablations VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?)",
                        [ANALYSIS, MODEL, revision, target, fact, *size, reward, 0 if reward > 2 else 5, reward > 2],
                    )
            # Role sets: general ('*') and the relation role of each relation; each with its controls.
            # Controls: normal for one relation's set (the test's normal tail), skewed for the other's (its rank p), and the
            # general set holds half the heads (untestable: its controls could not differ from its complement).
            noise = {
                None: lambda: rng.uniform(-1.0, 0.2),
                "city_in_country": lambda: rng.gauss(-0.4, 0.3),
                "company_ceo": lambda: -rng.expovariate(2.0),
            }
            for role, relation in [("general", None), ("relation", "city_in_country"), ("relation", "company_ceo")]:
                strength = rng.choice([0.0, -3.0])  # -3: knocks out R where it applies
                n_heads = HEADS if relation is None else 2
                for fact, fact_relation in FACTS:
                    hits = relation is None or fact_relation == relation or rng.random() < 0.2
                    role_reward = rewards[(revision, fact, "clean")] + (strength if hits else 0.0) + rng.uniform(-0.1, 0.1)
                    sets[(revision, role, relation, None, fact)] = role_reward
                    con.execute(
                        "INSERT INTO ablations VALUES (?, ?, ?, 'role', ?, ?, NULL, ?, ?, 0, ?, 1, false)",
                        [ANALYSIS, MODEL, revision, role, relation, fact, n_heads, role_reward],
                    )
                    for d in range(CAUSAL_DRAWS):
                        control = rewards[(revision, fact, "clean")] + noise[relation]()
                        sets[(revision, role, relation, d, fact)] = control
                        controls.append((ANALYSIS, MODEL, revision, "random", role, relation, d, fact, n_heads, 0, control, 1, False))
            for fact, _ in FACTS:
                for root in range(2):
                    for layer in range(LAYERS):
                        for head in range(HEADS):
                            if rng.random() < 0.5:
                                nodes.setdefault((revision, fact), set()).add(("head", layer, head))
                                con.execute(
                                    "INSERT INTO circuits VALUES (?, ?, ?, ?, ?, 'head', ?, ?)", [ANALYSIS, MODEL, revision, fact, root, layer, head]
                                )
                        if rng.random() < 0.5:
                            nodes.setdefault((revision, fact), set()).add(("ffn", layer, None))
                            con.execute("INSERT INTO circuits VALUES (?, ?, ?, ?, ?, 'ffn', ?, NULL)", [ANALYSIS, MODEL, revision, fact, root, layer])
                con.execute(
                    "INSERT INTO fact_frequency VALUES ('ps1', ?, ?, ?, ?, ?, ?)", [MODEL, revision, fact, 10 * (k + 1), 20 * (k + 1), BUCKET[fact]]
                )
                for layer in range(LAYERS):
                    con.execute(
                        "INSERT INTO logit_lens VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [ANALYSIS, MODEL, revision, fact, layer, rng.choice([0, 3]), rng.choice([0, 1, 20])],
                    )
        schema = {
            "analysis_id": pl.Utf8,
            "model": pl.Utf8,
            "revision": pl.Utf8,
            "target": pl.Utf8,
            "role": pl.Utf8,
            "relation": pl.Utf8,
            "draw": pl.Int32,
            "fact_id": pl.Int32,
            "n_heads": pl.Int32,
            "n_ffns": pl.Int32,
            "reward": pl.Float64,
            "answer_rank": pl.Int32,
            "top1": pl.Boolean,
        }
        frame = pl.DataFrame(controls, schema=schema, orient="row")  # noqa: F841 (read by the statement below)
        con.execute(f"INSERT INTO ablations SELECT {', '.join(schema)} FROM frame")
    return rewards, sets, nodes
