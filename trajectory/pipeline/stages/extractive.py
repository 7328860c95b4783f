"""The extractive stage (trajectory.extractive): extractive structures of the update to the next selected revision
and the OCR experiment, in float32 whatever the pipeline's dtype (after grafting, whose pair of another dtype
the float32 copies would otherwise replace)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING

import polars as pl

from trajectory.config import PipelineConfig
from trajectory.extractive.finetune import FinetuneRecipe
from trajectory.extractive.stage import ExtractiveSettings, run_stage
from trajectory.facts import ProbeSet
from trajectory.hub.revisions import Revision
from trajectory.pipeline.stages.base import Stage, StageContext, StageWrite, keyed_stage_write
from trajectory.store.analyses import Analysis

if TYPE_CHECKING:
    from tqdm.auto import tqdm

    from trajectory.pipeline.revision import LoadedModels

TABLES = ("extractive_scores", "ocr", "stage_runs")  # the pair's scores and the OCR rows, then its mark


def extractive_settings(config: PipelineConfig) -> ExtractiveSettings:
    recipe = FinetuneRecipe(
        config.extractive.finetune.optimizer,
        config.extractive.finetune.learning_rate,
        config.extractive.finetune.epochs,
        config.extractive.finetune.batch_size,
        config.extractive.finetune.train,
    )
    return ExtractiveSettings(
        config.extractive.counterfactuals,
        config.extractive.per_fact,
        config.extractive.batch_size,
        None if config.extractive.ocr == "none" else config.extractive.ocr,
        recipe,
    )


def extractive_revision(
    config: PipelineConfig,
    models: LoadedModels,
    revision: Revision,
    following: Revision | None,
    probes: ProbeSet,
    analyses: list[Analysis],
    device: str,
    bar: tqdm,
) -> StageWrite:
    """The extractive stage of one revision (trajectory.extractive.stage). W and W′ are float32 whatever
    the analysis dtype."""
    started = time.perf_counter()
    settings = extractive_settings(config)
    bar.set_postfix_str(f"{revision.name}: extractive")
    models.keep_only("float32")
    before, tokenizer = models.get(revision.name, "float32")
    load_after = (lambda: models.get(following.name, "float32")[0]) if following is not None else None
    tables, summary = run_stage(before, load_after, tokenizer, probes, settings, device)
    seconds = time.perf_counter() - started
    if "extractive_scores" in tables:  # W′: the next revision for the pair, the finetuned revision itself for OCR
        pair_to = following.name if following is not None else revision.name
        tables["extractive_scores"] = tables["extractive_scores"].with_columns(
            pl.when(pl.col("measure") == "pretraining").then(pl.lit(pair_to)).otherwise(pl.lit(revision.name)).alias("to_revision")
        )
    return keyed_stage_write(
        config, revision, analyses, tables, "extractive", following, asdict(settings), seconds, TABLES, f"{summary} ({seconds:.1f} s)"
    )


def _run(context: StageContext, analyses: list[Analysis]) -> StageWrite:
    return extractive_revision(
        context.config, context.models, context.revision, context.job.following, context.probes, analyses, context.device, context.bar
    )


STAGE = Stage("extractive", "extractive structures", TABLES, pair=True, enabled=lambda config: config.extractive.enabled, run=_run)
