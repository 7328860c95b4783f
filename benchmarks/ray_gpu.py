"""The Ray executor on one GPU, with a random-weight model of OLMo-7B's shape (not a test).

A bfloat16 OLMo-7B-shaped model with random weights (as in benchmarks/ifr_gpu.py) is saved once in the
Hugging Face cache layout and listed as REVISIONS revisions (refs to the same snapshot: nothing is
downloaded, each revision is loaded from disk as a real one would be after its download). The tokenizer is
the small reference's (its ids are below OLMo's vocabulary size). Then, as benchmarks/ray_executor.py does
on CPU, fresh ingests (IFR and roles, 160 prompts): in-process; Ray with one task at a time (one GPU
each); Ray with two tasks sharing the GPU (--gpus-per-task 0.5), so that one revision loads while the
other computes. Needs a CUDA GPU, Ray, and the tokenizer folder (see --tokenizer).

    python benchmarks/ray_gpu.py --tokenizer DIR    # writes benchmarks/results/ray_gpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from ray_executor import ingest, local_cluster, overhead_per_task
from transformers import OlmoConfig, OlmoForCausalLM

from trajectory.hub.cache_layout import write_snapshot
from trajectory.hub.source import repo_folder

REPO = "bench/olmo-7b-random"
REVISIONS = [f"step{1000 * (k + 1)}-tokens{4 * (k + 1)}B" for k in range(5)] + ["main"]


def build_revisions(cache: Path, tokenizer: Path) -> None:
    """The model saved once as REVISIONS[0]; the other revisions are refs to the same commit (kept from an earlier run)."""
    if all((repo_folder(cache, REPO) / "refs" / name).is_file() for name in REVISIONS):
        return
    config = OlmoConfig(
        vocab_size=50304,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        clip_qkv=8.0,
        pad_token_id=1,
        eos_token_id=0,
        bos_token_id=None,
    )
    with torch.device("cuda"):
        model = OlmoForCausalLM(config).to(torch.bfloat16).eval()
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        del model
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(tokenizer / name, Path(tmp) / name)
        files = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file()}
    commit = write_snapshot(cache, REPO, REVISIONS[0], files)
    for name in REVISIONS[1:]:
        (repo_folder(cache, REPO) / "refs" / name).write_text(commit)


PIPELINE = """name = "ray-gpu-benchmark"
[model]
repo = "{repo}"
cache_dir = "{cache}"
offline = true
dtype = "bfloat16"
device = "auto"
[ifr]
threshold = 0.01
batch_size = 32
"""
RUNS = {
    "in_process": [],
    "ray_1_gpu_per_task": ["--executor", "ray", "--gpus-per-task", "1"],
    "ray_half_gpu_per_task": ["--executor", "ray", "--gpus-per-task", "0.5", "--cpus-per-task", "4"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", type=Path, required=True, help="a folder with tokenizer.json and tokenizer_config.json")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    assert torch.cuda.is_available(), "this benchmark needs a CUDA GPU"
    work = Path(args.work or tempfile.mkdtemp())
    cache = work / "hub"
    build_revisions(cache, args.tokenizer)
    pipeline = work / "ray-gpu.toml"
    pipeline.write_text(PIPELINE.format(repo=REPO, cache=cache))
    ingest(work, "warm_up", ["-r", "main"], str(pipeline))  # the weights in the page cache: every run reads them warm
    runs = {name: ingest(work, name, extra, str(pipeline)) for name, extra in RUNS.items()}
    cluster = local_cluster()
    result = {
        "command": "python benchmarks/ray_gpu.py --tokenizer <small reference's tokenizer folder>",
        "gpu": torch.cuda.get_device_name(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "model": f"OLMo-7B-0424 shape, random init, bfloat16, {runs['in_process']['revisions']} revisions (one snapshot, loaded from disk each time)",
        "pipeline": "IFR and roles only, 160 prompts",
        "runs": runs,
        "local_cluster": cluster,
        "overhead_per_task": overhead_per_task(runs, cluster, "ray_1_gpu_per_task"),
        "half_gpu_over_in_process": round(runs["ray_half_gpu_per_task"]["wall_s"] / runs["in_process"]["wall_s"], 2),
        "half_gpu_over_one_gpu": round(runs["ray_half_gpu_per_task"]["wall_s"] / runs["ray_1_gpu_per_task"]["wall_s"], 2),
    }
    out = Path(os.environ.get("OUT", Path(__file__).parent / "results")) / "ray_gpu.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
