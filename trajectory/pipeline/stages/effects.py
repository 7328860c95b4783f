"""The component-effects stage (METHOD.md §9): every head's and FFN's single-component effect on every fact
(trajectory.pipeline.effects), on the model the IFR stage loaded; on one revision in ``effects.every`` and the
last. The same rows for every analysis."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING

from trajectory.config import PipelineConfig
from trajectory.facts import ProbeSet
from trajectory.hub.revisions import Revision
from trajectory.pipeline.effects import EffectsSettings, run_effects
from trajectory.pipeline.stages.base import Stage, StageContext, StageWrite, keyed_stage_write, one_in
from trajectory.store.analyses import Analysis

if TYPE_CHECKING:
    from tqdm.auto import tqdm

    from trajectory.pipeline.revision import LoadedModels

TABLES = ("component_effects", "effect_baselines", "stage_runs")  # each fact's effects and baselines, then its mark


def effects_settings(config: PipelineConfig) -> EffectsSettings:
    return EffectsSettings(config.effects.method, config.effects.mode, config.effects.kappa, config.effects.batch_size)


def effects_revision(
    config: PipelineConfig, models: LoadedModels, revision: Revision, probes: ProbeSet, analyses: list[Analysis], device: str, bar: tqdm
) -> StageWrite:
    """The component-effects stage of one revision (trajectory.pipeline.effects), the same rows for every analysis."""
    started = time.perf_counter()
    settings = effects_settings(config)
    bar.set_postfix_str(f"{revision.name}: effects")
    model, tokenizer = models.get(revision.name, config.model.dtype)
    tables, summary = run_effects(model, tokenizer, probes, settings, device)
    seconds = time.perf_counter() - started
    return keyed_stage_write(config, revision, analyses, tables, "effects", None, asdict(settings), seconds, TABLES, f"{summary} ({seconds:.1f} s)")


def _run(context: StageContext, analyses: list[Analysis]) -> StageWrite:
    return effects_revision(context.config, context.models, context.revision, context.probes, analyses, context.device, context.bar)


STAGE = Stage(
    "effects",
    "component effects",
    TABLES,
    pair=False,
    enabled=lambda config: config.effects.enabled,
    run=_run,
    on_revision=lambda config, ordinal, n: one_in(config.effects.every, ordinal, n),
    subset=lambda config: f" (one revision in {config.effects.every}, and the last)" if config.effects.every > 1 else "",
)
