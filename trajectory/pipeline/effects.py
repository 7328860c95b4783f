"""The component-effects stage of one revision (METHOD.md §9): every head and FFN ablated alone on every probe
fact (``exhaustive``), and/or its effect estimated by attribution patching (``atp``), beside each component's
IFR importance at the last prompt token (the threshold-free ranking, trajectory.topk). Frames out; the store
is the caller's. The effects do not depend on an analysis's τ or θ: the same rows are keyed to each analysis,
and the views apply each analysis's θ and the stage's κ (stage_runs.settings) to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import torch

from trajectory.ablation.hooks import mean_replacement, zero_replacement
from trajectory.ablation.measure import MIN_EFFECT, run_rows
from trajectory.config import EffectsSection
from trajectory.effects import (
    attribution_patching,
    component_layout,
    single_component_masks,
)
from trajectory.facts import ProbeSet
from trajectory.ifr import trace
from trajectory.masks import Ablation
from trajectory.models.architectures import architecture_of
from trajectory.prompts import (
    RewardBatch,
    encode_probe_set,
    encode_prompts,
    fact_prompts,
)
from trajectory.topk.importance import component_importance

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


_DEFAULTS = EffectsSection()  # one default per setting: the pipeline's [effects] section's


@dataclass(frozen=True)
class EffectsSettings:
    method: str = _DEFAULTS.method  # exhaustive ablation, attribution patching, or both (their agreement is then stored)
    mode: str = _DEFAULTS.mode  # the replacement, as the ablation stage's: the probe prompts' mean, or zero
    kappa: float = _DEFAULTS.kappa  # causal circuit: components whose ablation costs >= kappa of the fact's clean-minus-none gap
    rows_per_pass: int = _DEFAULTS.batch_size  # (configuration, prompt) rows per forward pass of the exhaustive effects


@dataclass
class ComponentEffects:
    """Per prompt b and component c (trajectory.effects.single's flat order): the stage's measurements.

    reward_clean, reward_none [B] float64; rank_clean, rank_none [B] int64 (nothing / every component ablated);
    importance [B, C] (IFR, at the last prompt token); delta [B, C] float64 and rank [B, C] int64 with c
    ablated alone (None unless exhaustive); atp [B, C] float64 (None unless attribution patching)."""

    reward_clean: torch.Tensor
    reward_none: torch.Tensor
    rank_clean: torch.Tensor
    rank_none: torch.Tensor
    importance: torch.Tensor
    delta: torch.Tensor | None
    rank: torch.Tensor | None
    atp: torch.Tensor | None


def measure_effects(model: PreTrainedModel, batch: RewardBatch, settings: EffectsSettings) -> ComponentEffects:
    """Every component's effect on every prompt of ``batch`` (prompts cut at t*), all configurations batched:
    configuration 0 ablates nothing, 1 everything, 2 + c component c alone, each on every prompt."""
    n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    n_prompts = batch.input_ids.shape[0]
    replacement = mean_replacement(model, batch.input_ids, batch.attention_mask) if settings.mode == "mean" else zero_replacement(model)
    contributions = trace(
        model, batch.input_ids, batch.attention_mask, threshold=0.0, return_attn=True, batch_size=max(1, settings.rows_per_pass // 4)
    )
    head_importance, ffn_importance = component_importance(
        contributions.attn,
        contributions.attn_residual,
        contributions.ffn,
        contributions.ffn_residual,
        batch.position.cpu(),
        architecture_of(model).parallel,
    )
    del contributions
    exhaustive = settings.method in ("exhaustive", "both")
    single_heads, single_ffns = single_component_masks(n_layers, n_heads)
    if not exhaustive:
        single_heads, single_ffns = single_heads[:0], single_ffns[:0]
    nothing_h, nothing_f = torch.zeros(1, n_layers, n_heads, dtype=torch.bool), torch.zeros(1, n_layers, dtype=torch.bool)
    ablation = Ablation(torch.cat([nothing_h, ~nothing_h, single_heads]), torch.cat([nothing_f, ~nothing_f, single_ffns]))
    rows = torch.arange(len(ablation) * n_prompts)
    outcome = run_rows(model, batch, ablation, replacement, rows // n_prompts, rows % n_prompts, settings.rows_per_pass)
    rewards = outcome.reward.reshape(len(ablation), n_prompts).double()
    ranks = outcome.answer_rank.reshape(len(ablation), n_prompts)
    atp = None
    if settings.method in ("atp", "both"):
        atp_heads, atp_ffns = attribution_patching(model, batch, replacement.head_z, replacement.ffn, max(1, settings.rows_per_pass // 4))
        atp = torch.cat([atp_heads.flatten(1), atp_ffns], 1).double()
    return ComponentEffects(
        rewards[0],
        rewards[1],
        ranks[0],
        ranks[1],
        torch.cat([head_importance.flatten(1), ffn_importance], dim=1).double(),
        (rewards[2:] - rewards[0]).T.contiguous() if exhaustive else None,
        ranks[2:].T.contiguous() if exhaustive else None,
        atp,
    )


def run_effects(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, probes: ProbeSet, settings: EffectsSettings, device: torch.device | str
) -> tuple[dict[str, pl.DataFrame], str]:
    """Tables ``component_effects`` (one row per fact and component) and ``effect_baselines`` (one per fact),
    without their keys, and a line for the log."""
    facts = encode_probe_set(tokenizer, probes).facts  # the facts the IFR stage traced
    batch = encode_prompts(tokenizer, fact_prompts(facts)).to(device)
    fact_ids = np.array([f.fact_id for f in facts], dtype=np.int32)
    n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    n_components = n_layers * n_heads + n_layers
    effects = measure_effects(model, batch, settings)
    kind, layer, head = component_layout(n_layers, n_heads)
    flat = lambda values: None if values is None else values.reshape(-1).numpy()
    frame = pl.DataFrame(
        {
            "fact_id": np.repeat(fact_ids, n_components),
            "kind": np.tile(kind, len(fact_ids)),
            "layer": np.tile(layer, len(fact_ids)),
            "head": np.tile(head, len(fact_ids)),
            "importance": flat(effects.importance),
            "delta_reward": flat(effects.delta),
            "answer_rank": None if effects.rank is None else flat(effects.rank).astype(np.int32),
            "atp": flat(effects.atp),
        },
        schema_overrides={"kind": pl.Utf8, "delta_reward": pl.Float64, "answer_rank": pl.Int32, "atp": pl.Float64},
    ).with_columns(pl.col("head").fill_nan(None).cast(pl.Int32))
    baselines = pl.DataFrame(
        {
            "fact_id": fact_ids,
            "reward_clean": effects.reward_clean.numpy(),
            "reward_none": effects.reward_none.numpy(),
            "answer_rank_clean": effects.rank_clean.numpy().astype(np.int32),
            "answer_rank_none": effects.rank_none.numpy().astype(np.int32),
        }
    )
    gap = effects.reward_clean - effects.reward_none
    measured = gap >= MIN_EFFECT
    line = f"{int(measured.sum())} of {len(fact_ids)} facts measurable"
    if effects.delta is not None and bool(measured.any()):
        in_circuit = (-effects.delta[measured] >= settings.kappa * gap[measured, None]).double().sum(1)
        line += f", causal circuit median {float(in_circuit.median()):.0f} of {n_components} components"
    line += f" ({'+'.join(m for m in ('exhaustive', 'atp') if settings.method in (m, 'both'))})"
    return {"component_effects": frame, "effect_baselines": baselines}, line
