"""Cost of the ablation stage per revision on the reference, against the forward passes it needs.

At three revisions (early, middle, main): one plain forward pass over the 160 probe prompts (unablated,
full logits), and the stage's measurement for one analysis (τ = 0.01, θ = 0.1, the reference pipeline's
[ablation] settings), each the best of 3. The stage needs (rows / 160) forward passes' worth of (configuration,
prompt) rows; the ratio says how close it runs to that many plain passes. Circuits and roles come from an
IFR-only ingest of those revisions into a temporary store.

    python benchmarks/ablation_stage.py      # writes benchmarks/results/ablation_stage.json
"""

import json
import platform
import tempfile
from dataclasses import replace
from pathlib import Path

import polars as pl
import torch
from timing import best_of

from trajectory.ablation.plan import revision_plan, sample_per_relation
from trajectory.ablation.stage import circuit_masks, role_codes, run_stage
from trajectory.config import load_pipeline
from trajectory.extractive.prompts import encode_rewards
from trajectory.extractive.stage import fact_prompts
from trajectory.facts import load_builtin
from trajectory.paths import SQL_DIR
from trajectory.pipeline.orchestrator import ingest
from trajectory.pipeline.sources import open_source
from trajectory.prompts import encode_probe_set
from trajectory.store.db import reader

RESULTS = Path(__file__).parent / "results" / "ablation_stage.json"


def main() -> None:
    config = replace(load_pipeline("reference"), ablation=False, grafting=False, extractive=False)
    source = open_source(config, progress=False)
    names = [r.name for r in source.list_revisions()]
    chosen = [names[4], names[len(names) // 2], names[-1]]
    probes = load_builtin()
    settings = load_pipeline("reference").ablation_settings()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        ingest(config, db, spec=",".join(chosen), progress=False)
        for name in chosen:
            model, tokenizer = source.load(name)
            with reader(db) as con:
                params = {"revision": name, "analyses": [con.sql("SELECT analysis_id FROM analyses").fetchall()[0][0]]}
                circuits, roles = (pl.from_arrow(con.sql((SQL_DIR / "stages" / f).read_text(), params=params).to_arrow_table())
                                   for f in ("ablation_circuits.sql", "ablation_roles.sql"))
            inputs = {"a": (circuits, roles)}
            facts = encode_probe_set(tokenizer, probes).facts
            batch = encode_rewards(tokenizer, fact_prompts(facts), counterfactuals=0)
            with torch.no_grad():
                forward = best_of(lambda: model(input_ids=batch.input_ids, attention_mask=batch.attention_mask))
            stage = best_of(lambda: run_stage(model, tokenizer, probes, inputs, settings, "cpu"))
            relations = sorted({f.relation for f in facts})
            relation_of = torch.tensor([relations.index(f.relation) for f in facts])
            generator = torch.Generator().manual_seed(settings.seed)
            prompts = sample_per_relation(relation_of, settings.facts_per_relation, generator)
            shape = model.config
            plan = revision_plan(*circuit_masks(circuits, [f.fact_id for f in facts], shape.num_hidden_layers, shape.num_attention_heads),
                                 *role_codes(roles, relations, shape.num_hidden_layers, shape.num_attention_heads),
                                 relations, prompts, settings.draws, generator)
            n_rows = len(plan.config_of_row)
            passes = n_rows / len(facts)
            targets = {t: plan.target.count(t) for t in dict.fromkeys(plan.target)}
            rows.append({
                "revision": name, "configurations": len(plan.target), "configurations_by_target": targets,
                "role_sets": targets.get("role", 0), "rows": n_rows, "forward_passes_worth": round(passes, 2),
                "plain_forward_s": round(forward, 4), "stage_s": round(stage, 3),
                "stage_over_that_many_plain_passes": round(stage / (forward * passes), 2),
            })
            print(rows[-1])
    result = {
        "command": "python benchmarks/ablation_stage.py",
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, CPU",
        "settings": {"mode": settings.mode, "draws": settings.draws, "facts_per_relation": settings.facts_per_relation,
                     "prompts": 160, "what": "per fact on its own prompt: clean, circuit_only, complement, none (4 x 160 rows); "
                                             "per role set: the set and its draws on facts_per_relation facts of each relation"},
        "revisions": rows,
        "note": "a plain pass pads every prompt to the longest (46 tokens) and unembeds every position; the stage sorts "
                "rows by length and unembeds the last prompt token only, so a ratio below 1 is expected",
    }
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
