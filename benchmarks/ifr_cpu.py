"""IFR speed on CPU, ratios measured in one run (not a test).

trace() over a plain forward pass (eager attention, attentions returned) on 160 prompts × 16 tokens of
a 6-layer tiny OLMo (goal ≤ 3×); speed-up over the literal reference of tests/test_ifr_models.py,
timed on a few prompts and scaled per prompt (goal ≥ 50×).

    python benchmarks/ifr_cpu.py            # writes benchmarks/results/ifr_cpu.json
"""

import json
import platform
import sys
import time
from pathlib import Path

import torch
from transformers import OlmoConfig, OlmoForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_ifr_models import literal_reference  # noqa: E402

from trajectory.ifr import trace  # noqa: E402


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    torch.manual_seed(0)
    config = OlmoConfig(vocab_size=768, hidden_size=128, intermediate_size=384, num_hidden_layers=6,
                        num_attention_heads=8, clip_qkv=8.0, pad_token_id=1, eos_token_id=0, bos_token_id=None,
                        attn_implementation="eager")
    model = OlmoForCausalLM(config).eval()
    ids = torch.randint(2, 768, (160, 16))
    with torch.no_grad():
        forward = best_of(lambda: model(input_ids=ids, output_attentions=True))
    traced = best_of(lambda: trace(model, ids, threshold=0.01))
    few = 2
    reference = best_of(lambda: literal_reference(model, ids[:few], torch.ones_like(ids[:few]), 0.01), repeats=1) * 160 / few
    result = {
        "command": "python benchmarks/ifr_cpu.py",
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "model": "OLMo 6 layers, d=128, 8 heads, vocab 768, float32",
        "batch": "160 prompts x 16 tokens",
        "forward_eager_with_attentions_s": round(forward, 4),
        "trace_s": round(traced, 4),
        "trace_over_forward": round(traced / forward, 2),
        "literal_reference_s_scaled_from_2_prompts": round(reference, 1),
        "speedup_over_literal_reference": round(reference / traced, 1),
    }
    out = Path(__file__).parent / "results" / "ifr_cpu.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
