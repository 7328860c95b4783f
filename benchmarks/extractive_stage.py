"""Cost of the extractive stage per revision on the reference (measured), and what it needs on OLMo-7B
(computed from parameter counts; not a test).

Measured in one run on the built reference trajectory, at a middle revision: one plain forward pass over
the 160 probe prompts, the IFR trace, the pretraining-pair scores (k -> k+1) and the OCR experiment
(finetuning + ranks + scores), each the best of 3.

    python benchmarks/extractive_stage.py      # writes benchmarks/results/extractive_stage.json
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch
from timing import best_of, middle_pair

from trajectory.extractive.ocr import load_ocr_probes
from trajectory.extractive.stage import between_revisions, out_of_context
from trajectory.facts import load_builtin
from trajectory.ifr import trace
from trajectory.pipeline.stages.extractive import extractive_settings
from trajectory.prompts import encode_probe_set

RESULTS = Path(__file__).parent / "results" / "extractive_stage.json"

# OLMo-7B-0424 (config.json of allenai/OLMo-7B-0424-hf): 32 layers, d 4096, MLP 11008, vocab 50304.
OLMO_7B = {"layers": 32, "d_model": 4096, "d_mlp": 11008, "vocab": 50304}


def olmo_7b_needs(prompts: int = 160, tokens: int = 16, batch: int = 20, ocr_facts: int = 40, epochs: int = 8) -> dict:
    c = OLMO_7B
    per_layer_attention = 4 * c["d_model"] ** 2
    per_layer_mlp = 3 * c["d_model"] * c["d_mlp"]
    linear = c["layers"] * (per_layer_attention + per_layer_mlp)
    total = linear + 2 * c["vocab"] * c["d_model"]
    # Passes per prompt (METHOD.md §6): fwd+bwd at W (3 forward-equivalents), fwd+bwd at W′ (3), hybrid fwd (1).
    flop_pair = 7 * 2 * total * prompts * tokens
    # Finetuning (fwd+bwd, 3 forward-equivalents) of ocr_facts × ~10 tokens × epochs, scoring 40 implications (7).
    flop_ocr = 3 * 2 * total * ocr_facts * 10 * epochs + 7 * 2 * total * ocr_facts * 12
    # Per batch the taps keep, per layer and token, the inputs and output gradients of 7 linear maps (float32).
    taps_per_token = c["layers"] * (4 * c["d_model"] * 2 + 3 * c["d_model"] + 2 * c["d_mlp"] * 2 + c["d_model"]) * 4
    late = linear // 4  # the last quarter of the layers (the paper's "late", 24-31 of 32)
    w = total * 4
    memory = {
        "W_float32": round(w / 1e9, 1),
        "pair_phase_W_and_W_prime_plus_taps_of_20_prompts": round((2 * w + 3 * taps_per_token * batch * tokens) / 1e9, 1),
        "ocr_phase_train_late_quarter_adam": round((w + late * 16) / 1e9, 1),
        "ocr_phase_train_all_layers_adam": round((w + linear * 16) / 1e9, 1),
        "ocr_phase_train_all_layers_sgd": round((w + linear * 8) / 1e9, 1),
    }
    return {
        "parameters": total,
        "attention_mlp_parameters": linear,
        "pair_flop": flop_pair,
        "ocr_flop": flop_ocr,
        # float32 weights (the scores need them): TF32 matmuls, H100 SXM dense peak 495 TFLOP/s.
        "pair_seconds_at_40pct_of_h100_tf32_peak": round(flop_pair / (0.4 * 495e12), 2),
        "ocr_seconds_at_40pct_of_h100_tf32_peak": round(flop_ocr / (0.4 * 495e12), 2),
        "memory_gb": memory,
        "fits_one_80gb_gpu": f"yes with the 7B pipeline's settings: the OCR finetuning (train = late, Adam) runs before "
        f"W' is loaded, with only the trained weights copied ({memory['ocr_phase_train_late_quarter_adam']} GB); "
        f"the pair phase holds W and W' in float32 plus the taps of {batch} prompts "
        f"({memory['pair_phase_W_and_W_prime_plus_taps_of_20_prompts']} GB). Training all layers with Adam "
        f"does not fit ({memory['ocr_phase_train_all_layers_adam']} GB).",
    }


def main() -> None:
    config, (before_name, before), (after_name, after), tokenizer = middle_pair()
    facts = load_builtin()
    settings = extractive_settings(config)
    encoded = encode_probe_set(tokenizer, facts)
    probes = load_ocr_probes(settings.ocr, settings.seed)

    @torch.no_grad()
    def forward() -> None:
        before(input_ids=encoded.input_ids, attention_mask=encoded.attention_mask)

    figures = {
        "forward_s": best_of(forward),
        "ifr_trace_s": best_of(lambda: trace(before, encoded.input_ids, encoded.attention_mask, return_attn=False, batch_size=config.ifr.batch_size)),
        "pretraining_pair_s": best_of(lambda: between_revisions(before, after, tokenizer, facts, settings, "cpu")),
        "ocr_experiment_s": best_of(lambda: out_of_context(before, tokenizer, probes, settings, "cpu")),
    }
    figures = {k: round(v, 3) for k, v in figures.items()}
    stage = figures["pretraining_pair_s"] + figures["ocr_experiment_s"]
    result = {
        "command": "python benchmarks/extractive_stage.py",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "reference": f"revision {before_name} -> {after_name}, 160 probe prompts, {len(probes)} OCR probes, finetune {settings.recipe.epochs} epochs",
        **figures,
        "stage_s_per_revision": round(stage, 2),
        "stage_over_forward": round(stage / figures["forward_s"], 1),
        "stage_over_ifr_trace": round(stage / figures["ifr_trace_s"], 2),
        "olmo_7b_from_parameter_counts": olmo_7b_needs(),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
