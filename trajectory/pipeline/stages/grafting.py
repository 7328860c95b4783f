"""The grafting stage (trajectory.grafting): dynamic weight grafting of a pair, recipient = the revision, donor =
the next selected one, in the pipeline's dtype (the pair the IFR stage loaded). The last revision is marked done
with no rows."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING

import polars as pl

from trajectory.config import PipelineConfig
from trajectory.facts import ProbeSet
from trajectory.grafting.stage import GraftingSettings, graft_pair
from trajectory.hub.revisions import Revision
from trajectory.pipeline.stages.base import Stage, StageContext, StageWrite, keyed_stage_write
from trajectory.store.analyses import Analysis

if TYPE_CHECKING:
    from tqdm.auto import tqdm

    from trajectory.pipeline.revision import LoadedModels

TABLES = ("grafts", "stage_runs")  # one revision pair's rows (A = revision, B = donor_revision), then its mark


def grafting_settings(config: PipelineConfig) -> GraftingSettings:
    if config.grafting.configs is None:
        return GraftingSettings(batch_size=config.grafting.batch_size)
    return GraftingSettings(config.grafting.configs, config.grafting.batch_size)


def grafting_revision(
    config: PipelineConfig,
    models: LoadedModels,
    revision: Revision,
    donor: Revision | None,
    probes: ProbeSet,
    analyses: list[Analysis],
    device: str,
    bar: tqdm,
    stage: str = "grafting",
) -> StageWrite:
    """The grafting stage of the pair (revision, donor); the last revision (no donor) is marked done with no rows."""
    started = time.perf_counter()
    settings = grafting_settings(config)
    tables: dict[str, pl.DataFrame] = {}
    summary = "no next revision to graft from"
    if donor is not None:
        bar.set_postfix_str(f"{revision.name}: grafting")
        recipient, tokenizer = models.get(revision.name, config.model.dtype)
        frame, summary = graft_pair(recipient, models.get(donor.name, config.model.dtype)[0], tokenizer, probes, settings, device)
        tables["grafts"] = frame.with_columns(pl.lit(donor.name).alias("donor_revision"))
    seconds = time.perf_counter() - started
    return keyed_stage_write(config, revision, analyses, tables, stage, donor, asdict(settings), seconds, TABLES, f"{summary} ({seconds:.1f} s)")


def _run(context: StageContext, analyses: list[Analysis]) -> StageWrite:
    return grafting_revision(
        context.config, context.models, context.revision, context.job.following, context.probes, analyses, context.device, context.bar
    )


STAGE = Stage(
    "grafting", "weight grafting", TABLES, pair=True, enabled=lambda config: config.grafting.enabled, run=_run, run_chosen_pair=grafting_revision
)
