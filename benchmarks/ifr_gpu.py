"""IFR on a randomly initialised model of OLMo-7B's shape in bf16, 160 prompts × 16 tokens (not a test).

Goal: at most 10 s per revision and 40 GB peak GPU memory on one H100. Also measured in the same run:
a τ sweep (three thresholds from one forward pass, ``trace_variants``) against one, and prompts of
256 tokens. Needs a CUDA GPU.

    python benchmarks/ifr_gpu.py            # writes benchmarks/results/ifr_gpu.json
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import OlmoConfig, OlmoForCausalLM

from trajectory.ifr import Variant, trace, trace_variants


def timed(run: Callable[[], object]) -> tuple[float, float]:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    run()
    torch.cuda.synchronize()
    return round(time.perf_counter() - start, 2), round(torch.cuda.max_memory_allocated() / 2**30, 1)


def main() -> None:
    assert torch.cuda.is_available(), "this benchmark needs a CUDA GPU"
    config = OlmoConfig(
        vocab_size=50304,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        clip_qkv=8.0,
        pad_token_id=1,
        eos_token_id=50279,
        bos_token_id=None,
    )
    with torch.device("cuda"):
        model = OlmoForCausalLM(config).to(torch.bfloat16).eval()
    ids = torch.randint(2, 50000, (160, 16), device="cuda")
    trace(model, ids[:8], return_attn=False, batch_size=8)  # warm-up
    seconds, peak = timed(lambda: trace(model, ids, return_attn=False, batch_size=32, max_chunk_elements=1 << 30))
    sweep = [Variant(tau) for tau in (0.01, 0.02, 0.05)]
    sweep_s, sweep_peak = timed(lambda: trace_variants(model, ids, None, sweep, return_attn=False, batch_size=32, max_chunk_elements=1 << 30))
    long_ids = torch.randint(2, 50000, (32, 256), device="cuda")
    try:
        long_s, long_peak = timed(lambda: trace(model, long_ids, return_attn=False, batch_size=4, max_chunk_elements=1 << 30))
        long = {
            "prompts": 32,
            "tokens": 256,
            "batch_size": 4,
            "seconds": long_s,
            "peak_gpu_memory_gb": long_peak,
            "seconds_per_160_prompts": round(long_s * 5, 1),
        }
    except torch.OutOfMemoryError as err:
        long = {"prompts": 32, "tokens": 256, "batch_size": 4, "error": str(err).splitlines()[0]}
    result = {
        "command": "python benchmarks/ifr_gpu.py",
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "model": "OLMo-7B-0424 shape, random init, bfloat16",
        "batch": "160 prompts x 16 tokens, batch_size 32",
        "seconds_per_revision": seconds,
        "peak_gpu_memory_gb": peak,
        "tau_sweep_3_thresholds_one_forward": {
            "seconds": sweep_s,
            "peak_gpu_memory_gb": sweep_peak,
            "over_one_threshold": round(sweep_s / seconds, 2),
        },
        "long_prompts": long,
    }
    (Path(__file__).parent / "results" / "ifr_gpu.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
