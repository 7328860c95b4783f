"""The grafting stage of one revision pair: recipient A = revision k, donor B = the next selected
revision (or a pair the user chose), on the probe facts; the ``grafts`` rows as a polars frame.

Per fact: the rank of its first answer token under A alone (config ``A``), B alone (``B``) and each
graft configuration, and whether the fact was learned between A and B (wrong at A, right at B).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from trajectory.config import GraftingSection
from trajectory.facts import ProbeSet
from trajectory.graft_names import GraftConfig, default_configs
from trajectory.grafting.measure import left_aligned, ranks_in_chunks
from trajectory.prompts import encode_prompts, fact_prompts

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class GraftingSettings:
    configs: tuple[str, ...] = tuple(c.name for c in default_configs())
    batch_size: int = GraftingSection().batch_size  # prompts per chunk (each runs every configuration: configurations × batch_size rows)


def graft_pair(
    recipient: PreTrainedModel,
    donor: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    facts: ProbeSet,
    settings: GraftingSettings,
    device: torch.device | str,
) -> tuple[pl.DataFrame, str]:
    """(the pair's grafts rows without their keys, a line for the log)."""
    prompts = fact_prompts(facts)
    batch = left_aligned(encode_prompts(tokenizer, prompts, candidates=False)).to(device)
    configs = [GraftConfig("none")] + [GraftConfig.parse(name) for name in settings.configs]
    ranks, donor_ranks = ranks_in_chunks(recipient, donor, batch, configs, settings.batch_size)
    recipient_ranks = ranks[0]
    learned = ((recipient_ranks > 0) & (donor_ranks == 0)).numpy()
    all_ranks = np.concatenate([recipient_ranks[None].numpy(), donor_ranks[None].numpy(), ranks[1:].numpy()])  # [2 + C, B]
    n = len(prompts)
    described = [("A", None, None, None), ("B", None, None, None)] + [(c.name, c.positions, c.layers, c.component) for c in configs[1:]]
    frame = pl.DataFrame(
        {
            **{column: [d[i] for d in described for _ in range(n)] for i, column in enumerate(("config", "positions", "layers", "component"))},
            "fact_id": np.tile([p.key for p in prompts], len(described)),
            "relation": np.tile([p.group for p in prompts], len(described)),
            "answer_rank": all_ranks.reshape(-1),
            "learned": np.tile(learned, len(described)),
        },
        schema_overrides={"positions": pl.Utf8, "layers": pl.Utf8, "component": pl.Utf8, "fact_id": pl.Int32, "answer_rank": pl.Int32},
    ).with_columns(top1=pl.col("answer_rank") == 0, top5=pl.col("answer_rank") < 5)
    recovered = {name: int((ranks[i + 1][learned] == 0).sum()) for i, name in enumerate(settings.configs) if name in ("FE", "LT", "FE+LT")}
    summary = (
        f"top-1 A {float((recipient_ranks == 0).float().mean()):.2f}, B {float((donor_ranks == 0).float().mean()):.2f}; "
        f"{int(learned.sum())} learned" + "".join(f", {k} recovers {v}" for k, v in recovered.items())
    )
    return frame, summary
