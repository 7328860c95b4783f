"""Cost of the ablation stage per revision on the reference, against the forward passes it needs.

At three revisions (early, middle, main): one plain forward pass over the 160 probe prompts (unablated,
full logits), and the stage's measurement for one analysis (τ = 0.01, θ = 0.1, the reference pipeline's
[ablation] settings), each the best of 3. The stage needs (rows / 160) forward passes' worth of (configuration,
prompt) rows; the ratio says how close it runs to that many plain passes. Circuits and roles come from an
IFR-only ingest of those revisions into a temporary store.

    python benchmarks/ablation_stage.py      # writes benchmarks/results/ablation_stage.json
"""

from __future__ import annotations

import json
import platform
import tempfile
from pathlib import Path

import polars as pl
import torch
from timing import best_of

from trajectory.config import load_pipeline
from trajectory.facts import load_builtin
from trajectory.pipeline.orchestrator import ingest, pipeline_analyses
from trajectory.pipeline.sources import open_source
from trajectory.pipeline.stages.ablation import ablation_inputs, ablation_settings, run_stage
from trajectory.prompts import encode_probe_set, encode_prompts, fact_prompts

RESULTS = Path(__file__).parent / "results" / "ablation_stage.json"


def main() -> None:
    config = load_pipeline("reference").with_overrides({"ablation.enabled": False, "grafting.enabled": False, "extractive.enabled": False})
    source = open_source(config, progress=False)
    names = [r.name for r in source.list_revisions()]
    chosen = [names[4], names[len(names) // 2], names[-1]]
    probes = load_builtin()
    settings = ablation_settings(load_pipeline("reference"), role_test=True)  # a revision the role test runs on
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        ingest(config, db, spec=",".join(chosen), progress=False)
        (analysis,) = pipeline_analyses(config, probes)
        analysis_id, thetas = analysis.analysis_id, {analysis.analysis_id: analysis.theta}
        for name in chosen:
            model, tokenizer = source.load(name)
            inputs = ablation_inputs(db, name, [analysis_id])
            facts = encode_probe_set(tokenizer, probes).facts
            batch = encode_prompts(tokenizer, fact_prompts(facts))
            with torch.no_grad():
                forward = best_of(lambda: model(input_ids=batch.input_ids, attention_mask=batch.attention_mask))
            stage = best_of(lambda: run_stage(model, tokenizer, probes, inputs, thetas, settings, "cpu"))
            frame = run_stage(model, tokenizer, probes, inputs, thetas, settings, "cpu")[0][analysis_id]
            # A fact target's configuration is measured on one prompt; a role set's or control's on several.
            per_fact = frame.filter(pl.col("role").is_null()).group_by("target", maintain_order=True).len()
            per_set = frame.filter(pl.col("role").is_not_null()).select("target", "role", "relation", "draw").unique()
            targets = dict(per_fact.rows()) | dict(per_set.group_by("target", maintain_order=True).len().sort("target", descending=True).rows())
            passes = frame.height / len(facts)
            rows.append(
                {
                    "revision": name,
                    "configurations": sum(targets.values()),
                    "configurations_by_target": targets,
                    "role_sets": targets.get("role", 0),
                    "rows": frame.height,
                    "forward_passes_worth": round(passes, 2),
                    "plain_forward_s": round(forward, 4),
                    "stage_s": round(stage, 3),
                    "stage_over_that_many_plain_passes": round(stage / (forward * passes), 2),
                }
            )
            print(rows[-1])
    result = {
        "command": "python benchmarks/ablation_stage.py",
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, CPU",
        "settings": {
            "mode": settings.mode,
            "draws": settings.draws,
            "facts_per_relation": settings.facts_per_relation,
            "prompts": 160,
            "what": "per fact on its own prompt: clean, circuit_only, complement, none (4 x 160 rows); "
            "per role set: the set and its draws on facts_per_relation facts of each relation",
        },
        "revisions": rows,
        "note": "a plain pass pads every prompt to the longest (46 tokens) and unembeds every position; the stage sorts "
        "rows by length and unembeds the last prompt token only, so a ratio below 1 is expected",
    }
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
