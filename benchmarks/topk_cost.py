"""Cost of the threshold-free top-k curve per revision (not a test).

On the reference's final revision (built under TRAJECTORY_HOME): the seconds of `topk_rows` (one IFR pass at
τ = 0 for the importance, then every fact × k of the grid ablated and run), how many rows that is, and an
estimate for OLMo-7B from the forward FLOPs per row (2 × parameters × prompt tokens): the reference's measured
seconds per FLOP scaled to the 7B's FLOPs, on this CPU, and at an assumed sustained 200 TFLOP/s on an H100-class GPU.

    python benchmarks/topk_cost.py   # writes benchmarks/results/topk_cost.json
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from trajectory.ablation.hooks import mean_replacement
from trajectory.config import load_pipeline
from trajectory.facts import load_builtin
from trajectory.pipeline.sources import open_source
from trajectory.pipeline.stages.ablation import AblationSettings, topk_rows
from trajectory.prompts import encode_probe_set, encode_prompts, fact_prompts
from trajectory.topk.importance import k_grid

RESULT = Path(__file__).parent / "results" / "topk_cost.json"
OLMO_7B = {"parameters": 6.9e9, "layers": 32, "heads": 32, "facts": 160, "prompt_tokens": 14}
GPU_FLOPS = 200e12  # assumed sustained bf16 throughput of one H100-class GPU on these short batched prompts


def main() -> None:
    config = load_pipeline("reference")
    source = open_source(config, progress=False)
    model, tokenizer = source.load("main")
    facts = encode_probe_set(tokenizer, load_builtin()).facts
    batch = encode_prompts(tokenizer, fact_prompts(facts))
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask)
    parameters = sum(p.numel() for p in model.parameters())
    tokens = float(batch.attention_mask.sum(1).float().mean())
    topk_rows(model, batch, replacement, [f.fact_id for f in facts], AblationSettings())  # warm-up
    started = time.perf_counter()
    rows = topk_rows(model, batch, replacement, [f.fact_id for f in facts], AblationSettings())
    seconds = time.perf_counter() - started
    flops = rows.height * 2 * parameters * tokens
    grid = k_grid(OLMO_7B["layers"] * OLMO_7B["heads"] + OLMO_7B["layers"])
    flops_7b = OLMO_7B["facts"] * len(grid) * 2 * OLMO_7B["parameters"] * OLMO_7B["prompt_tokens"]
    result = {
        "command": "python benchmarks/topk_cost.py",
        "machine": f"{os.cpu_count()} cores",
        "reference": {
            "parameters": parameters,
            "rows": rows.height,
            "mean_prompt_tokens": round(tokens, 1),
            "seconds_per_revision": round(seconds, 2),
        },
        "olmo_7b_estimate": {
            **OLMO_7B,
            "grid": grid,
            "rows": OLMO_7B["facts"] * len(grid),
            "forward_flops": flops_7b,
            "cpu_hours_per_revision_at_the_reference_rate": round(seconds / flops * flops_7b / 3600, 1),
            "gpu_seconds_per_revision_at_200_tflops": round(flops_7b / GPU_FLOPS, 2),
        },
    }
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
