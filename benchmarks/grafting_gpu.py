"""Grafting on a CUDA GPU (not a test): exactness on CUDA, then the cost per revision pair on two randomly
initialised models of OLMo-7B's shape in bfloat16, 160 prompts × 16 tokens, the default configurations.

1. The tiny OLMo pair of tests/test_grafting.py on CUDA (float32): every configuration's last-token
   logits against the literal token-by-token weight swap run on the CPU.
2. OLMo-7B shape: ``ranks_in_chunks`` (what the stage runs) against one plain forward of the 160 prompts,
   and the peak GPU memory with both models loaded. Needs a CUDA GPU.

    python benchmarks/grafting_gpu.py        # writes benchmarks/results/grafting_gpu.json
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import OlmoConfig, OlmoForCausalLM

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from test_grafting import CONFIGS, left_prompts, literal_logits, prompts, tiny  # noqa: E402

from trajectory.graft_names import GraftConfig, default_configs  # noqa: E402
from trajectory.grafting.measure import GraftPrompts, last_token_logits, ranks_in_chunks  # noqa: E402


def exact_on_cuda() -> float:
    recipient, donor = tiny(0), tiny(1)
    ids, valid, subject, last = prompts()
    expected = torch.stack([torch.stack([literal_logits(recipient, donor, c, ids, valid, subject, last, b)[-1] for b in range(3)]) for c in CONFIGS])
    got, _ = last_token_logits(recipient.cuda(), donor.cuda(), left_prompts().to("cuda"), CONFIGS)
    return float((got.cpu() - expected).abs().max())


def timed(run: Callable[[], object]) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    run()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def olmo_7b(seed: int) -> OlmoForCausalLM:
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
    torch.manual_seed(seed)
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            return OlmoForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(torch.float32)


def main() -> None:
    assert torch.cuda.is_available(), "this benchmark needs a CUDA GPU"
    max_error = exact_on_cuda()
    recipient, donor = olmo_7b(0), olmo_7b(1)
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(10, 17, (160,), generator=g)  # the probe prompts' spread, left-padded to 16
    mask = (torch.arange(16)[None] >= 16 - lengths[:, None]).long()
    ids = torch.randint(2, 50000, (160, 16), generator=g) * mask
    start = 16 - lengths + torch.randint(0, 3, (160,), generator=g)
    subject = (torch.arange(16)[None] >= start[:, None]) & (torch.arange(16)[None] < (start + 3)[:, None])
    batch = GraftPrompts(ids, mask, subject, torch.randint(2, 50000, (160,), generator=g)).to("cuda")
    configs = [GraftConfig("none")] + default_configs()

    def plain() -> None:
        with torch.no_grad():
            recipient(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids)

    plain()
    ranks_in_chunks(recipient, donor, batch.select(torch.arange(32, device="cuda")), configs, 32)  # warm-up
    forward_s = min(timed(plain) for _ in range(5))
    torch.cuda.reset_peak_memory_stats()
    pair_s = min(timed(lambda: ranks_in_chunks(recipient, donor, batch, configs, 32)) for _ in range(3))
    peak_32 = torch.cuda.max_memory_allocated() / 2**30
    torch.cuda.reset_peak_memory_stats()
    one_chunk_s = min(timed(lambda: ranks_in_chunks(recipient, donor, batch, configs, 160)) for _ in range(3))
    result = {
        "command": "python benchmarks/grafting_gpu.py",
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "tiny_pair_on_cuda_max_abs_error_vs_literal_cpu": max_error,
        "model": "OLMo-7B shape, random weights, bfloat16, recipient and donor on the GPU",
        "prompts": "160 × 10–16 tokens (left-padded to 16), chunks of 32",
        "configurations": f"{len(configs) - 1} default grafts + A alone + B alone",
        "plain_forward_160_prompts_s": round(forward_s, 3),
        "pair_s": round(pair_s, 3),
        "pair_over_forward": round(pair_s / forward_s, 1),
        "per_configuration_over_forward": round(pair_s / forward_s / (len(configs) + 1), 2),
        "peak_gpu_memory_gb": round(peak_32, 1),
        "pairs_40_s": round(40 * pair_s, 1),
        "one_chunk_of_160": {
            "pair_s": round(one_chunk_s, 3),
            "pair_over_forward": round(one_chunk_s / forward_s, 1),
            "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 1),
        },
    }
    out = Path(__file__).parent / "results" / "grafting_gpu.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
