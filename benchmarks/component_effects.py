"""Cost of the component-effects stage per revision (not a test).

On the reference (built under TRAJECTORY_HOME), at its first, middle and last revision: the seconds and the peak
memory of the stage's measurement with `effects.method` = exhaustive (every head and FFN ablated alone on every
fact, plus the clean and fully ablated baselines and the IFR importance pass), = atp (attribution patching and
the same baselines and importance) and = both (the reference's default), each in a fresh process (peak RSS above the process's after loading the model),
and what the reference's default (`both`, every 4th revision and the last) adds to the first command. For OLMo-7B
no GPU was lent when this was written: an estimate from forward FLOPs (2 × parameters × prompt tokens per
configuration and fact; attribution patching ≈ 3 forwards), at an assumed sustained 200 TFLOP/s on one H100-class
GPU, labelled as such.

    python benchmarks/component_effects.py   # writes benchmarks/results/component_effects.json
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import time
from pathlib import Path

RESULT = Path(__file__).parent / "results" / "component_effects.json"
OLMO_7B = {"parameters": 6.9e9, "layers": 32, "heads": 32, "facts": 160, "prompt_tokens": 14, "revisions": 40}
GPU_FLOPS = 200e12  # assumed sustained bf16 throughput of one H100-class GPU on these short batched prompts


def _measure(revision: str, method: str, queue: multiprocessing.Queue) -> None:
    import torch

    from trajectory.config import load_pipeline
    from trajectory.facts import load_builtin
    from trajectory.pipeline.effects import EffectsSettings, measure_effects
    from trajectory.pipeline.sources import open_source
    from trajectory.prompts import encode_probe_set, encode_prompts, fact_prompts

    torch.set_num_threads(os.cpu_count() or 1)
    source = open_source(load_pipeline("reference"), progress=False)
    model, tokenizer = source.load(revision)
    batch = encode_prompts(tokenizer, fact_prompts(encode_probe_set(tokenizer, load_builtin()).facts))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    measure_effects(model, batch, EffectsSettings(method=method))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put(
        {
            "seconds": round(seconds, 2),
            "peak_rss_added_mb": round((peak - before) / 1024, 1),
            "peak_rss_mb": round(peak / 1024, 1),
            "facts": int(batch.input_ids.shape[0]),
            "parameters": sum(p.numel() for p in model.parameters()),
            "mean_prompt_tokens": round(float(batch.attention_mask.sum(1).float().mean()), 1),
            "components": model.config.num_hidden_layers * (model.config.num_attention_heads + 1),
        }
    )


def measure(revision: str, method: str) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(revision, method, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    from trajectory.config import load_pipeline
    from trajectory.pipeline.sources import open_source
    from trajectory.pipeline.stages.base import one_in

    config = load_pipeline("reference")
    names = [r.name for r in open_source(config, progress=False).list_revisions()]
    measured = {}
    for name in (names[0], names[len(names) // 2], names[-1]):
        measured[name] = {method: measure(name, method) for method in ("exhaustive", "atp", "both")}
    shape = next(iter(measured.values()))["exhaustive"]
    exhaustive = sum(m["exhaustive"]["seconds"] for m in measured.values()) / len(measured)
    atp = sum(m["atp"]["seconds"] for m in measured.values()) / len(measured)
    both = sum(m["both"]["seconds"] for m in measured.values()) / len(measured)
    on = sum(one_in(config.effects.every, k, len(names)) for k in range(len(names)))
    forward = 2 * OLMO_7B["parameters"] * OLMO_7B["prompt_tokens"]  # one fact, one configuration
    components = OLMO_7B["layers"] * (OLMO_7B["heads"] + 1)
    reference_flops = 2 * shape["parameters"] * shape["mean_prompt_tokens"] * shape["facts"] * (shape["components"] + 2)
    result = {
        "command": "python benchmarks/component_effects.py",
        "machine": f"{os.cpu_count()} cores",
        "reference": {
            "facts": shape["facts"],
            "components": shape["components"],
            "parameters": shape["parameters"],
            "per_revision": measured,
            "mean_seconds_per_revision": {"exhaustive": round(exhaustive, 2), "atp": round(atp, 2), "both": round(both, 2)},
            "default": {
                "method": config.effects.method,
                "every": config.effects.every,
                "revisions_measured": on,
                "of": len(names),
                "seconds_added_to_the_first_command_about": round(on * both, 0),
            },
        },
        "olmo_7b_estimate": {
            "label": "an estimate from forward FLOPs at an assumed 200 TFLOP/s, not a measurement (no GPU was lent)",
            **OLMO_7B,
            "components": components,
            "exhaustive": {
                "configurations_per_fact": components + 2,
                "forward_flops": OLMO_7B["facts"] * (components + 2) * forward,
                "gpu_seconds_per_revision": round(OLMO_7B["facts"] * (components + 2) * forward / GPU_FLOPS, 1),
                "gpu_hours_for_all_revisions": round(OLMO_7B["revisions"] * OLMO_7B["facts"] * (components + 2) * forward / GPU_FLOPS / 3600, 2),
                "cpu_hours_per_revision_at_the_reference_rate": round(
                    exhaustive / reference_flops * OLMO_7B["facts"] * (components + 2) * forward / 3600, 1
                ),
            },
            "atp": {
                "forward_flops": 3 * OLMO_7B["facts"] * forward,
                "gpu_seconds_per_revision": round(3 * OLMO_7B["facts"] * forward / GPU_FLOPS, 2),
            },
        },
    }
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
