"""The extractive stage of one revision k: its tables, as polars frames (vectorised, no row loops).

1. ``pretraining``: the update k -> k+1 (the next selected revision), scored on the role probe facts;
   rows per relation (mean over its facts) and, with ``per_fact``, per fact.
2. ``finetune``: the OCR experiment at k: finetune a copy on the new facts of the OCR probe set, rank
   facts and implications among their candidates before and after, and score the update k -> k
   finetuned on the implication prompts; rows per hop, keyed to the relation of the known fact the
   implication goes through (``via_relation``), so they join the roles.
Where the paper is silent: counterfactual partners are other facts of the same relation (the same
template); facts are scored one relation per batch at least (partners must share the batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import torch

from trajectory.config import ExtractiveSection
from trajectory.extractive.finetune import FinetuneRecipe, finetune
from trajectory.extractive.measure import UpdateScores, score_update
from trajectory.extractive.ocr import OCRProbe, load_ocr_probes
from trajectory.extractive.prompts import group_chunks
from trajectory.facts import ProbeSet
from trajectory.prompts import RewardBatch, RewardPrompt, candidate_ranks, encode_prompts, fact_prompts

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

SCORES = ("informative", "upstream", "downstream")


_DEFAULTS = ExtractiveSection()  # one default per setting: the pipeline's [extractive] section's


@dataclass(frozen=True)
class ExtractiveSettings:
    counterfactuals: int = _DEFAULTS.counterfactuals
    per_fact: bool = _DEFAULTS.per_fact
    batch_size: int = _DEFAULTS.batch_size  # prompts per scoring batch (whole relations)
    ocr: str | None = _DEFAULTS.ocr  # OCR probe set (``world``, ``reference``) or None for no OCR experiment
    recipe: FinetuneRecipe = field(default_factory=FinetuneRecipe)
    seed: int = 0


def score_prompts(
    before: PreTrainedModel,
    after: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[RewardPrompt],
    settings: ExtractiveSettings,
    device: torch.device | str,
) -> UpdateScores:
    """score_update over batches of whole groups, concatenated in the prompts' order."""
    parts, order = [], []
    for chunk in group_chunks(prompts, settings.batch_size):
        batch = encode_prompts(tokenizer, [prompts[i] for i in chunk], counterfactuals=settings.counterfactuals, seed=settings.seed)
        parts.append(score_update(before, after, batch.to(device)))
        order.extend(chunk)
    inverse = torch.argsort(torch.tensor(order))
    return UpdateScores(*(torch.cat([getattr(p, name) for p in parts])[inverse] for name in UpdateScores.__dataclass_fields__))


def score_frame(
    scores: UpdateScores, groups: list[str], relation_of_group: dict[str, str], keys: list[int] | None, hop_of_group: dict[str, str] | None = None
) -> pl.DataFrame:
    """Rows per group (mean over its prompts) and, with ``keys``, per prompt: kind, layer, head, scores."""
    names = sorted(set(groups))
    group_index = torch.tensor([names.index(g) for g in groups])

    def per_group(values: torch.Tensor) -> torch.Tensor:  # [B, ...] -> [G, ...] means over the defined values
        defined = ~torch.isnan(values)
        shape = (len(names), *values.shape[1:])
        total = torch.zeros(shape, dtype=torch.float64).index_add_(0, group_index, values.double().nan_to_num())
        count = torch.zeros(shape, dtype=torch.float64).index_add_(0, group_index, defined.double())
        return total / count  # NaN where no prompt of the group has the score

    blocks = []

    def emit(per_prompt: bool, label_groups: list[str], fact_ids: list[int]) -> None:
        rows = len(label_groups)
        pick = (lambda t: t.double()) if per_prompt else per_group
        heads = [pick(getattr(scores, f"{s}_heads")) for s in SCORES]  # [R, L, H]
        ffns = [pick(getattr(scores, f"{s}_ffns")) for s in SCORES]  # [R, L]
        _, layers, n_heads = heads[0].shape
        extra = {name: pick(getattr(scores, f"informative_{name}")) for name in ("embedding", "unembedding")}
        relation = np.array([relation_of_group[g] for g in label_groups], dtype=object)
        hop = None if hop_of_group is None else np.array([hop_of_group[g] for g in label_groups], dtype=object)
        fid = None if fact_ids is None else np.array(fact_ids, dtype=np.int32)

        def block(kind: str, n: int, layer: int, head: int | None, values: dict[str, np.ndarray | None]) -> None:
            blocks.append(
                pl.DataFrame(
                    {
                        "hop": None if hop is None else np.repeat(hop, n),
                        "relation": np.repeat(relation, n),
                        "fact_id": None if fid is None else np.repeat(fid, n),
                        "kind": [kind] * (rows * n),
                        "layer": layer,
                        "head": head,
                        **{s: values.get(s) for s in SCORES},
                    },
                    schema_overrides={
                        "hop": pl.Utf8,
                        "relation": pl.Utf8,
                        "fact_id": pl.Int32,
                        "layer": pl.Int32,
                        "head": pl.Int32,
                        **{s: pl.Float64 for s in SCORES},
                    },
                )
            )

        n = layers * n_heads
        block(
            "head",
            n,
            np.tile(np.repeat(np.arange(layers), n_heads), rows),
            np.tile(np.arange(n_heads), rows * layers),
            {s: h.reshape(-1).numpy() for s, h in zip(SCORES, heads)},
        )
        block("ffn", layers, np.tile(np.arange(layers), rows), None, {s: f.reshape(-1).numpy() for s, f in zip(SCORES, ffns)})
        for name, values in extra.items():
            block(name, 1, None, None, {"informative": values.numpy()})

    emit(False, names, None)
    if keys is not None:
        emit(True, groups, keys)
    # NaN (upstream of a prompt without counterfactuals) is stored as NULL, which SQL aggregates skip.
    return pl.concat(blocks, how="vertical_relaxed").with_columns(pl.col(*SCORES).fill_nan(None))


def between_revisions(
    before: PreTrainedModel,
    after: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    facts: ProbeSet,
    settings: ExtractiveSettings,
    device: torch.device | str,
) -> pl.DataFrame:
    prompts = fact_prompts(facts)
    scores = score_prompts(before, after, tokenizer, prompts, settings, device)
    relations = {p.group: p.group for p in prompts}
    keys = [p.key for p in prompts] if settings.per_fact else None
    return score_frame(scores, [p.group for p in prompts], relations, keys).with_columns(pl.lit("pretraining").alias("measure"))


@torch.no_grad()
def _ranks(model: PreTrainedModel, batch: RewardBatch) -> torch.Tensor:
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    at = logits[torch.arange(len(batch.answer)), batch.position].float()
    return candidate_ranks(at, batch.answer, batch.candidates, batch.candidate_mask).cpu()


def out_of_context(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, probes: list[OCRProbe], settings: ExtractiveSettings, device: torch.device | str
) -> tuple[pl.DataFrame, pl.DataFrame, list[float]]:
    """(ocr rows per probe, finetune score rows per hop, finetuning losses per epoch)."""
    facts = [p.fact for p in probes]
    implications = [p.implication for p in probes]
    fact_batch = encode_prompts(tokenizer, facts, counterfactuals=settings.counterfactuals, seed=settings.seed).to(device)
    implication_batch = encode_prompts(tokenizer, implications, counterfactuals=settings.counterfactuals, seed=settings.seed).to(device)
    before = (_ranks(model, fact_batch), _ranks(model, implication_batch))
    tuned, losses = finetune(model, tokenizer, facts, settings.recipe)
    after = (_ranks(tuned, fact_batch), _ranks(tuned, implication_batch))
    ocr = pl.DataFrame(
        {
            "probe_id": [p.probe_id for p in probes],
            "hop": [p.hop for p in probes],
            "via_relation": [p.via_relation for p in probes],
            "fact_rank": after[0].numpy(),
            "implication_rank": after[1].numpy(),
            "fact_rank_before": before[0].numpy(),
            "implication_rank_before": before[1].numpy(),
            "n_fact_candidates": fact_batch.candidate_mask.sum(1).cpu().numpy(),
            "n_candidates": implication_batch.candidate_mask.sum(1).cpu().numpy(),
        },
        schema_overrides={
            c: pl.Int32
            for c in ("probe_id", "fact_rank", "implication_rank", "fact_rank_before", "implication_rank_before", "n_fact_candidates", "n_candidates")
        },
    )
    scores = score_prompts(model, tuned, tokenizer, implications, settings, device)
    via = {p.hop: p.via_relation for p in probes}
    frame = score_frame(scores, [p.hop for p in probes], via, None, hop_of_group={h: h for h in via})
    del tuned
    return ocr, frame.with_columns(pl.lit("finetune").alias("measure")), losses


def run_stage(
    before: PreTrainedModel,
    load_after: Callable[[], PreTrainedModel] | None,
    tokenizer: PreTrainedTokenizerBase,
    facts: ProbeSet,
    settings: ExtractiveSettings,
    device: torch.device | str,
) -> tuple[dict[str, pl.DataFrame], str]:
    """The stage's frames for one revision and a log line. ``load_after()`` gives W′, the next revision
    (None: the last revision, OCR only); it is called after the OCR experiment, so that the finetuning
    and W′ never take memory at the same time."""
    frames: list[pl.DataFrame] = []
    parts = []
    ocr = None
    if settings.ocr is not None:
        probes = load_ocr_probes(settings.ocr, settings.seed)
        ocr, finetune_frame, losses = out_of_context(before, tokenizer, probes, settings, device)
        frames.append(finetune_frame)
        means = ocr.group_by("hop").agg(pl.col("implication_rank").mean(), ((pl.col("n_candidates") - 1) / 2).mean().alias("chance")).sort("hop")
        parts.append(
            "OCR implication rank "
            + ", ".join(f"{h} {r:.1f} (chance {c:.1f})" for h, r, c in means.iter_rows())
            + f", finetune loss {losses[0]:.2f} -> {losses[-1]:.2f}"
        )
    if load_after is not None:
        frames.insert(0, between_revisions(before, load_after(), tokenizer, facts, settings, device))
        parts.insert(0, "pair scored")
    out = {"extractive_scores": pl.concat(frames, how="diagonal_relaxed") if frames else None, "ocr": ocr}
    return {k: v for k, v in out.items() if v is not None}, "; ".join(parts) or "nothing to score"
