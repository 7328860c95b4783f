"""Cost of the grafting stage on the reference (not a test): the default configurations (and A alone and B
alone) over the 160 probe prompts for one revision pair, as the stage runs them (shared prefixes in a KV
cache, one-token steps), against one plain forward of the 160 prompts and against the same grafts run as
full passes (every configuration a full forward, configurations along the batch).

    python benchmarks/grafting_cost.py        # writes benchmarks/results/grafting_cost.json
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch
from timing import best_of, middle_pair

from trajectory.facts import load_builtin
from trajectory.graft_names import GraftConfig, default_configs
from trajectory.grafting.configs import build_graft
from trajectory.grafting.graft import grafted
from trajectory.grafting.measure import left_aligned
from trajectory.grafting.stage import GraftingSettings, graft_pair
from trajectory.prompts import encode_prompts, fact_prompts

BATCH = 40  # prompts per chunk, as pipelines/reference.toml


def main() -> None:
    _, (recipient_name, recipient), (donor_name, donor), tokenizer = middle_pair()
    facts = load_builtin()
    prompts = left_aligned(encode_prompts(tokenizer, fact_prompts(facts), candidates=False))
    configs = [GraftConfig("none")] + default_configs()
    layers = recipient.config.num_hidden_layers
    valid = prompts.attention_mask.bool()
    last = torch.zeros_like(valid)
    last[:, -1] = True
    order = torch.argsort(valid.sum(1))

    @torch.no_grad()
    def plain() -> None:
        recipient(input_ids=prompts.input_ids, attention_mask=prompts.attention_mask, position_ids=prompts.position_ids)

    def stage() -> None:
        graft_pair(recipient, donor, tokenizer, facts, GraftingSettings(batch_size=BATCH), "cpu")

    @torch.no_grad()
    def full_passes() -> None:  # every configuration a full forward (plus B alone), configurations along the batch
        for chunk in order.split(BATCH):
            part = prompts.select(chunk)
            rows = len(configs)
            graft = build_graft(configs, part.subject, last[chunk][:, -part.input_ids.shape[1] :], part.attention_mask.bool(), layers)
            with grafted(recipient, donor, graft):
                recipient(
                    input_ids=part.input_ids.repeat(rows, 1),
                    attention_mask=part.attention_mask.repeat(rows, 1),
                    position_ids=part.position_ids.repeat(rows, 1),
                )
            donor(input_ids=part.input_ids, attention_mask=part.attention_mask, position_ids=part.position_ids)

    forward_s, stage_s, full_s = best_of(plain, repeats=5), best_of(stage, repeats=3), best_of(full_passes, repeats=2)
    measured = len(configs) + 1  # the grafts, A alone ('none') and B alone
    result = {
        "command": "python benchmarks/grafting_cost.py",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "pair": f"{recipient_name} -> {donor_name}",
        "prompts": len(facts),
        "graft_configurations": len(configs) - 1,
        "measured_per_fact": f"{measured} (the grafts, A alone, B alone)",
        "plain_forward_160_prompts_s": round(forward_s, 3),
        "stage_per_pair_s": round(stage_s, 2),
        "stage_per_configuration_over_forward": round(stage_s / measured / forward_s, 2),
        "stage_over_forward": round(stage_s / forward_s, 1),
        "full_passes_per_pair_s": round(full_s, 2),
        "full_passes_over_stage": round(full_s / stage_s, 2),
        "reference_pairs": 40,
        "reference_all_pairs_s": round(40 * stage_s),
        "note": "configurations sharing a prefix graft (every LT-only one with A alone; FE with FE+LT; the complements) "
        "share one prefix pass into a KV cache, each then runs its last token alone; the all-B prefix is B's own "
        "pass, which also gives B alone",
    }
    out = Path(__file__).parent / "results" / "grafting_cost.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
