"""Cost of batched dynamic weight grafting on the reference (not a test): the 18 default configurations
over the 160 probe prompts for one revision pair, against one plain forward of the 160 prompts (padded,
as the IFR trace and the extractive scores run them) and against one forward per configuration.

    python benchmarks/grafting_cost.py        # writes benchmarks/results/grafting_cost.json
"""

import json
import platform
from pathlib import Path

import torch
from timing import best_of, middle_pair

from trajectory.extractive.prompts import encode_rewards
from trajectory.extractive.stage import fact_prompts
from trajectory.facts import load_builtin
from trajectory.grafting.configs import build_graft, default_configs
from trajectory.grafting.graft import grafted

CHUNK = 40  # prompts of similar length per batched forward (× configurations rows)


def main() -> None:
    _, (recipient_name, recipient), (donor_name, donor), tokenizer = middle_pair()
    batch = encode_rewards(tokenizer, fact_prompts(load_builtin()), counterfactuals=1)
    valid = batch.attention_mask.bool()
    positions = torch.arange(valid.shape[1])[None]
    subject = (positions >= batch.subject_start[:, None]) & (positions < batch.subject_end[:, None])
    last = torch.zeros_like(valid)
    last[torch.arange(len(valid)), batch.position] = True
    configs = default_configs()
    order = torch.argsort(valid.sum(1))
    layers = recipient.config.num_hidden_layers

    @torch.no_grad()
    def plain():
        recipient(input_ids=batch.input_ids, attention_mask=batch.attention_mask)

    @torch.no_grad()
    def all_configs():
        for chunk in order.split(CHUNK):
            length = int(valid[chunk].sum(1).max())
            cut = (slice(None), slice(0, length))
            graft = build_graft(configs, subject[chunk][cut], last[chunk][cut], valid[chunk][cut], layers)
            with grafted(recipient, donor, graft):
                recipient(input_ids=batch.input_ids[chunk][cut].repeat(len(configs), 1),
                          attention_mask=batch.attention_mask[chunk][cut].repeat(len(configs), 1))

    forward_s, grafts_s = best_of(plain), best_of(all_configs, repeats=2)
    result = {
        "command": "python benchmarks/grafting_cost.py",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "pair": f"{recipient_name} -> {donor_name}", "prompts": len(valid), "configurations": len(configs),
        "plain_forward_160_prompts_s": round(forward_s, 3),
        "all_configurations_s": round(grafts_s, 2),
        "per_configuration_s": round(grafts_s / len(configs), 3),
        "per_configuration_over_forward": round(grafts_s / len(configs) / forward_s, 2),
        "reference_40_pairs_s": round(40 * grafts_s),
        "note": "13 of the 18 configurations graft only the last prompt token; with the recipient's prefix in a KV "
                "cache they would need one token each, not a full pass",
    }
    out = Path(__file__).parent / "results" / "grafting_cost.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
