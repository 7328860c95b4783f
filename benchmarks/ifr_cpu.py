"""IFR speed and memory on CPU, ratios measured in one run (not a test).

1. The goal: trace() over a plain forward pass (eager attention, attentions returned) on 160 prompts ×
   16 tokens, at the reference's shape (4 layers, 16 heads of 8, d = 128) and at the shape of the
   earlier figure (6 layers, 8 heads); goal ≤ 3×. Speed-up over the literal reference of
   tests/test_ifr_models.py, timed on a few prompts and scaled per prompt (goal ≥ 50×).
2. Scaling: d = 128, 512, 1024 (2 layers, random weights) × T = 16, 64, 256, 1024 with the token count
   held at 2048 (128 prompts of 16 ... 2 of 1024): trace and forward seconds, peak RSS of the trace
   (Linux: VmHWM after resetting it), the memory plan's estimate; growth exponents of time and memory in
   T fitted on log-log (at fixed tokens the decomposition's work per token grows like T).
3. bfloat16 for the decomposition itself (METHOD.md §3 keeps float32): on the reference's final
   revision (random weights if it is not built), the largest difference of the contributions and the
   share of head and FFN map entries that change.
4. torch.compile of attention_contributions on the reference shape, against eager (compile time apart).

    python benchmarks/ifr_cpu.py            # writes benchmarks/results/ifr_cpu.json
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from timing import best_of
from transformers import OlmoConfig, OlmoForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_ifr_models import literal_reference  # noqa: E402

from trajectory.ifr import trace  # noqa: E402
from trajectory.ifr.memory import TraceShape, chunk_bytes  # noqa: E402

if TYPE_CHECKING:
    from transformers import PreTrainedModel

TOKENS = 2048
LENGTHS = (16, 64, 256, 1024)
WIDTHS = {128: 16, 512: 8, 1024: 16}  # d -> heads


def peak_rss_during(fn: Callable[[], object]) -> tuple[float, float]:
    """(seconds, peak resident set size in MiB) of one call; VmHWM is reset first (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")), 0)
    return seconds, hwm / 1024


def olmo(layers: int, heads: int, width: int, seed: int = 0) -> OlmoForCausalLM:
    torch.manual_seed(seed)
    config = OlmoConfig(
        vocab_size=768,
        hidden_size=width,
        intermediate_size=3 * width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        clip_qkv=8.0,
        pad_token_id=1,
        eos_token_id=0,
        bos_token_id=None,
        max_position_embeddings=2048,
        attn_implementation="eager",
    )
    return OlmoForCausalLM(config).eval()


def goal_ratio(layers: int, heads: int) -> dict:
    model = olmo(layers, heads, 128)
    ids = torch.randint(2, 768, (160, 16))
    with torch.no_grad():
        forward = best_of(lambda: model(input_ids=ids, output_attentions=True))
    traced = best_of(lambda: trace(model, ids, threshold=0.01, return_attn=False, batch_size=32))
    return {
        "model": f"OLMo {layers} layers, d=128, {heads} heads, vocab 768, float32",
        "batch": "160 prompts x 16 tokens",
        "forward_eager_with_attentions_s": round(forward, 4),
        "trace_s": round(traced, 4),
        "trace_over_forward": round(traced / forward, 2),
        "_model": model,
        "_ids": ids,
    }


def scaling() -> tuple[list[dict], dict]:
    rows = []
    for width, heads in WIDTHS.items():
        model = olmo(2, heads, width)
        for length in LENGTHS:
            batch = TOKENS // length
            ids = torch.randint(2, 768, (batch, length))
            repeats = 2 if length <= 256 else 1
            with torch.no_grad():
                forward = best_of(lambda: model(input_ids=ids, output_attentions=True), repeats)
            traced = best_of(lambda: trace(model, ids, threshold=0.01, return_attn=False, batch_size=batch), repeats)
            _, peak = peak_rss_during(lambda: trace(model, ids, threshold=0.01, return_attn=False, batch_size=batch))
            rows.append(
                {
                    "d": width,
                    "heads": heads,
                    "T": length,
                    "prompts": batch,
                    "forward_s": round(forward, 4),
                    "trace_s": round(traced, 3),
                    "trace_over_forward": round(traced / forward, 1),
                    "peak_rss_mib": round(peak),
                    "plan_estimate_mib": round(chunk_bytes(batch, length, TraceShape.of(model.config), length) / 2**20),
                }
            )
            print(rows[-1], flush=True)
    exponents = {}
    for width in WIDTHS:
        points = [r for r in rows if r["d"] == width]
        exponents[f"d={width}"] = {
            key: round(_slope([math.log(r["T"]) for r in points], [math.log(r[key]) for r in points]), 2)
            for key in ("trace_s", "forward_s", "peak_rss_mib")
        }
    return rows, exponents


def _slope(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)


def bfloat16_decomposition() -> dict:
    try:
        from trajectory.config import load_pipeline
        from trajectory.facts import load_builtin
        from trajectory.pipeline.sources import open_source
        from trajectory.prompts import encode_probe_set
        from trajectory.suite.build import FULL, is_built

        if not is_built(FULL):
            raise FileNotFoundError
        source = open_source(load_pipeline("reference"), progress=False)
        model, tokenizer = source.load("main")
        encoded = encode_probe_set(tokenizer, load_builtin())
        ids, mask, where = encoded.input_ids, encoded.attention_mask, "the reference's main revision, 160 probe prompts"
    except (FileNotFoundError, ImportError):
        model, where = olmo(4, 16, 128), "random weights at the reference's shape, 160 x 16 tokens"
        ids = torch.randint(2, 768, (160, 16))
        mask = torch.ones_like(ids)
    f32 = trace(model, ids, mask, threshold=0.01, batch_size=32)
    bf16 = trace(model, ids, mask, threshold=0.01, batch_size=32, decomposition_dtype=torch.bfloat16)
    raw32 = trace(model, ids, mask, threshold=0.0, batch_size=32)
    raw16 = trace(model, ids, mask, threshold=0.0, batch_size=32, decomposition_dtype=torch.bfloat16)
    valid = mask.bool()
    heads_changed = (f32.heads != bf16.heads)[valid].float().mean().item()
    ffns_changed = (f32.ffns != bf16.ffns)[valid].float().mean().item()
    return {
        "on": where,
        "max_abs_difference_of_contributions": float((raw32.attn - raw16.attn).abs().max()),
        "head_map_entries_changed_pct": round(100 * heads_changed, 3),
        "ffn_map_entries_changed_pct": round(100 * ffns_changed, 3),
        "decision": "float32 stays the default" if heads_changed or ffns_changed else "maps identical",
    }


def compiled_decomposition(model: PreTrainedModel, ids: torch.Tensor) -> dict:
    from trajectory.ifr import contributions

    eager = contributions.attention_contributions
    eager_s = best_of(lambda: trace(model, ids, threshold=0.01, return_attn=False, batch_size=32))
    try:
        compiled = torch.compile(eager, dynamic=True)
        contributions.attention_contributions = compiled
        import trajectory.ifr.trace as trace_module

        trace_module.attention_contributions = compiled
        start = time.perf_counter()
        trace(model, ids, threshold=0.01, return_attn=False, batch_size=32)
        first = time.perf_counter() - start
        compiled_s = best_of(lambda: trace(model, ids, threshold=0.01, return_attn=False, batch_size=32))
        return {"eager_trace_s": round(eager_s, 4), "compiled_trace_s": round(compiled_s, 4), "first_call_with_compilation_s": round(first, 1)}
    except Exception as err:  # noqa: BLE001 - a benchmark reports what failed
        return {"eager_trace_s": round(eager_s, 4), "compile_failed": str(err).splitlines()[0][:200]}
    finally:
        contributions.attention_contributions = eager
        import trajectory.ifr.trace as trace_module

        trace_module.attention_contributions = eager


def main() -> None:
    reference = goal_ratio(4, 16)
    earlier = goal_ratio(6, 8)
    model, ids = reference.pop("_model"), reference.pop("_ids")
    earlier.pop("_model"), earlier.pop("_ids")
    few = 2
    literal = best_of(lambda: literal_reference(model, ids[:few], torch.ones_like(ids[:few]), 0.01), repeats=1) * 160 / few
    rows, exponents = scaling()
    result = {
        "command": "python benchmarks/ifr_cpu.py",
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "goal_at_T16_reference_shape": reference,
        "goal_at_T16_earlier_shape": earlier,
        "literal_reference_s_scaled_from_2_prompts": round(literal, 1),
        "speedup_over_literal_reference": round(literal / reference["trace_s"], 1),
        "scaling_tokens_fixed": {"tokens": TOKENS, "layers": 2, "rows": rows, "growth_exponents_in_T": exponents},
        "bfloat16_decomposition": bfloat16_decomposition(),
        "torch_compile": compiled_decomposition(model, ids),
    }
    out = Path(__file__).parent / "results" / "ifr_cpu.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
