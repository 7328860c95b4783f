"""The whole study on one device: every stage at OLMo-7B's shape, measured (not a test).

A random-weight OLMo-shaped trajectory of 3 revisions is written in the Hugging Face cache layout (revision
k+1 = revision k with small random changes in an early, a middle and the last layer, so the pair stages
see a weight difference; the safetensors shards that did not change are shared blobs, so 3 revisions of
OLMo-7B take about 1.3× one on disk). It is ingested with the `olmo-7b-0424` pipeline's settings and all
four stages on its 160 probe prompts (store.circuits on, as the ablation stage needs), one stage at a
time in this process, so that each stage's peak GPU memory and host RSS are its own: IFR and roles;
ablation with the reference's settings (3 draws, 4 facts per relation); component effects by attribution
patching (the pipeline's method); grafting; extractive structures. Then the ablation stage again, on a copy of
the store, with the settings the statistical tests need (99 draws: p can reach 0.01; all facts), and the
component-effects stage exhaustively (every head and FFN ablated alone on every fact) on the first revision
only. Per stage: seconds per revision (as the store records them),
peak GPU memory, host peak RSS.

The tokenizer is a byte-level BPE trained here on the probe and OCR texts (its ids lie below OLMo's
vocabulary), so nothing is downloaded.

    python benchmarks/study_gpu.py                          # OLMo-7B's shape on CUDA (one 80 GB GPU is the goal)
    python benchmarks/study_gpu.py --shape small --device cpu   # the same script at a scaled-down shape, on CPU
    # both write their entry into benchmarks/results/study_gpu.json (keyed by shape and device)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import torch
from transformers import OlmoConfig, OlmoForCausalLM

from trajectory.config import load_pipeline
from trajectory.extractive.ocr import load_ocr_probes
from trajectory.facts import load_builtin
from trajectory.hub.cache_layout import write_snapshot
from trajectory.pipeline.orchestrator import ingest
from trajectory.suite.build import train_tokenizer

if TYPE_CHECKING:
    from trajectory.config import PipelineConfig

RESULT = Path(__file__).parent / "results" / "study_gpu.json"
REPO = "bench/olmo-study-random"
REVISIONS = ["step1000-tokens4B", "step2000-tokens8B", "main"]
SHAPES = {
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32),
    "small": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8),
}
GB = 1024**3


class RssPeak(threading.Thread):
    """The process's peak resident memory since the last reset, sampled every 50 ms from /proc."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.stop = 0, threading.Event()

    @staticmethod
    def now() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, self.now())

    def reset(self) -> None:
        self.peak = self.now()


def tokenizer_folder(folder: Path) -> Path:
    """A byte-level BPE over the probe sentences and the OCR probes, saved as a fast HF tokenizer."""
    texts = [f.sentence for f in load_builtin()]
    texts += [f"{p.prompt} {p.answer}" for probe in load_ocr_probes("world") for p in (probe.fact, probe.implication)]
    tokenizer = train_tokenizer(texts, 2000)
    tokenizer.save_pretrained(folder)
    return folder


def build_trajectory(cache: Path, shape: str, device: str) -> None:
    """REVISIONS in the cache layout; unchanged shards are shared blobs."""
    config = OlmoConfig(vocab_size=50304, clip_qkv=8.0, pad_token_id=1, eos_token_id=0, bos_token_id=None, **SHAPES[shape])
    torch.manual_seed(0)
    with torch.device(device):
        model = OlmoForCausalLM(config).to(torch.bfloat16).eval()
    layers = model.model.layers
    changed = sorted({0, len(layers) // 2, len(layers) - 1})
    with tempfile.TemporaryDirectory() as tmp:
        tokens = tokenizer_folder(Path(tmp) / "tokenizer")
        for index, name in enumerate(REVISIONS):
            if index:  # small random changes: 1e-2 of each weight's own scale
                with torch.no_grad():
                    for layer in changed:
                        for weight in layers[layer].parameters():
                            weight.add_(torch.randn_like(weight) * weight.float().std().to(weight.dtype) * 1e-2)
            out = Path(tmp) / name
            model.save_pretrained(out, max_shard_size="1GB")
            for file in tokens.iterdir():
                shutil.copy(file, out / file.name)
            write_snapshot(cache, REPO, name, {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()})
            shutil.rmtree(out)
    del model


def per_revision_seconds(db: Path, stage: str) -> float:
    con = duckdb.connect(str(db), read_only=True)
    try:
        sql = "SELECT avg(seconds) FROM revisions" if stage == "ifr" else f"SELECT avg(seconds) FROM stage_runs WHERE stage = '{stage}'"
        return round(con.sql(sql).fetchall()[0][0], 2)
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), default="7b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--work", type=Path, default=None, help="folder for the cache and the stores (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="study-gpu-"))
    cache, db = work / "hub", work / "study.duckdb"
    cuda = args.device.startswith("cuda")
    started = time.perf_counter()
    build_trajectory(cache, args.shape, args.device)
    build_s = time.perf_counter() - started
    if cuda:
        torch.cuda.empty_cache()
    disk_gb = sum(f.stat().st_size for f in (cache).rglob("*") if f.is_file() and not f.is_symlink()) / GB

    base = load_pipeline("olmo-7b-0424").with_overrides(
        {
            "model.repo": REPO,
            "model.cache_dir": cache,
            "model.offline": True,
            "revisions.select": "all",
            "revisions.exclude": [],
            "model.device": args.device,
            "store.circuits": True,
            "ablation.draws": 3,
            "ablation.facts_per_relation": 4,
        }
    )
    off = {"ablation.enabled": False, "effects.enabled": False, "grafting.enabled": False, "extractive.enabled": False}
    runs = [
        ("ifr", base, db, {}),
        ("ablation", base, db, {"ablation.enabled": True}),
        ("effects", base, db, {"effects.enabled": True}),
        ("grafting", base, db, {"grafting.enabled": True}),
        ("extractive", base, db, {"extractive.enabled": True}),
    ]
    rss = RssPeak()
    rss.start()
    stages = {}
    for stage, config, store, on in runs:
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        rss.reset()
        begun = time.perf_counter()
        assert ingest(config.with_overrides(off | on), store, progress=False) == 0, stage
        stages[stage] = {
            "seconds_per_revision": per_revision_seconds(store, stage),
            "wall_s": round(time.perf_counter() - begun, 1),
            "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / GB, 1) if cuda else None,
            "peak_rss_gb": round(rss.peak / GB, 2),
        }
        print(stage, stages[stage], flush=True)

    def again(name: str, stage: str, tables: tuple[str, ...], config: PipelineConfig, spec: str | None = None) -> None:
        """A stage measured again with other settings, on a copy of the store holding the IFR rows only for it."""
        store = work / f"study-{name}.duckdb"
        con = duckdb.connect(str(db))
        con.execute("; ".join(f"DELETE FROM {t}" for t in tables) + f"; DELETE FROM stage_runs WHERE stage = '{stage}'")
        con.close()
        shutil.copy(db, store)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        rss.reset()
        begun = time.perf_counter()
        assert ingest(config, store, spec=spec, progress=False) == 0, name
        stages[name] = {
            "seconds_per_revision": per_revision_seconds(store, stage),
            "wall_s": round(time.perf_counter() - begun, 1),
            "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / GB, 1) if cuda else None,
            "peak_rss_gb": round(rss.peak / GB, 2),
        }
        print(name, stages[name], flush=True)

    # The ablation stage with the tests' settings; the component effects exhaustively, on the first revision.
    again(
        "ablation_99_draws_all_facts",
        "ablation",
        ("ablations",),
        base.with_overrides(off | {"ablation.draws": 99, "ablation.facts_per_relation": 0, "ablation.enabled": True}),
    )
    again(
        "effects_exhaustive_one_revision",
        "effects",
        ("component_effects", "effect_baselines"),
        base.with_overrides(off | {"effects.method": "exhaustive", "effects.enabled": True}),
        spec=REVISIONS[0],
    )
    rss.stop.set()
    every_stage = ("ifr", "ablation", "effects", "grafting", "extractive")
    entry = {
        "command": f"python benchmarks/study_gpu.py --shape {args.shape} --device {args.device}",
        "device": torch.cuda.get_device_name() if cuda else f"{os.cpu_count()} CPU cores, {platform.machine()}",
        "torch": torch.__version__,
        "model": {"shape": args.shape, **SHAPES[args.shape], "vocab_size": 50304, "dtype": "bfloat16", "revisions": len(REVISIONS)},
        "pipeline": "olmo-7b-0424 settings, store.circuits on, every stage, 160 probe prompts",
        "build_s": round(build_s, 1),
        "cache_disk_gb": round(disk_gb, 1),
        "stages": stages,
        "all_stages_seconds_per_revision": round(sum(stages[s]["seconds_per_revision"] for s in every_stage), 2),
        "peak_gpu_gb_max": max((stages[s]["peak_gpu_gb"] or 0) for s in stages) if cuda else None,
    }
    results = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    results[f"{args.shape}/{'cuda' if cuda else 'cpu'}"] = entry
    RESULT.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(entry, indent=1))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
