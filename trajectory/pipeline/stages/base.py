"""What every stage is: a :class:`Stage` declares its name, the tables it writes, whether it takes the next
selected revision too (a pair stage), when a pipeline runs it and on which revisions, what it reads from the
store, and its run function; a run returns one :class:`StageWrite` (its stage_runs row, or the IFR stage's
revisions row, last), which the caller writes in one transaction. Nothing here opens the store to write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from trajectory.config import PipelineConfig
from trajectory.facts import ProbeSet
from trajectory.hub.revisions import Revision
from trajectory.store.analyses import Analysis
from trajectory.store.db import write_revision

if TYPE_CHECKING:
    from trajectory.pipeline.revision import LoadedModels, RevisionJob


@dataclass
class StageWrite:
    """One stage's rows of one revision for some analyses, to be written in one transaction
    (trajectory.store.db.write_revision), and a line for the log."""

    stage: str  # "ifr", "ablation", "effects", "grafting" (or "grafting:<donor>"), "extractive"
    revision: str
    frames: dict[str, dict[str, pl.DataFrame]]  # analysis_id -> table -> rows
    shared: dict[str, pl.DataFrame]  # model-level tables (prompts, runs), inserted where new
    tables: tuple[str, ...]  # the stage's tables, its mark last
    summary: str

    def log_line(self) -> str:
        return f"stored {self.revision}" + ("" if self.stage == "ifr" else f" ({self.stage})") + f": {self.summary}"

    def write(self, db: Path) -> None:
        """The rows into the store, in one transaction."""
        write_revision(db, self.revision, self.frames, self.shared, self.tables)


@dataclass
class StageContext:
    """What a stage's run gets for one revision: the job, the loaded models, the probes, the run row, where
    to compute, the progress bar, the log lines said once per ingest, and the writes of this job's earlier
    stages (by stage name)."""

    config: PipelineConfig
    job: RevisionJob
    models: LoadedModels
    probes: ProbeSet
    run: pl.DataFrame
    device: str
    bar: Any
    said: set[str]
    earlier: dict[str, StageWrite] = field(default_factory=dict)

    @property
    def revision(self) -> Revision:
        return self.job.revision


def every_revision(config: PipelineConfig, ordinal: int, n_revisions: int | None) -> bool:
    return True


def one_in(every: int, ordinal: int, n_revisions: int | None) -> bool:
    """Every ``every``-th revision of the model's ``n_revisions`` from the first, and the last (the final revision
    every IoU is taken against); ``n_revisions`` None (a run still training): every ``every``-th only."""
    return ordinal % every == 0 or (n_revisions is not None and ordinal == n_revisions - 1)


@dataclass(frozen=True)
class Stage:
    """A stage of the ingest. ``run(context, analyses)`` computes its rows for the analyses that lack them;
    ``enabled(config)``: whether the pipeline runs it; ``on_revision(config, ordinal, n_revisions)``: whether it
    runs on the revision at ``ordinal`` (a subset, e.g. the effects stage's one in N); ``subset(config)``: how
    the log words that subset ('' for every revision); ``stored_inputs(db, revision, analysis_ids)``: what it
    reads of an earlier stage's stored rows when that stage is not redone in the same job (None: nothing)."""

    name: str
    title: str  # in the log's list of stages
    tables: tuple[str, ...]  # its mark last: the revisions row (IFR) or its stage_runs row
    pair: bool  # takes the next selected revision too (donor, W′); the last revision has none
    enabled: Callable[[PipelineConfig], bool]
    run: Callable[[StageContext, list[Analysis]], StageWrite]
    on_revision: Callable[[PipelineConfig, int, int | None], bool] = every_revision
    subset: Callable[[PipelineConfig], str] = lambda config: ""
    stored_inputs: Callable[[Path, str, list[str]], Any] | None = None
    # A pair stage that also runs on a pair the user names (``ingest --graft-pair A,B``): (config, models, recipient,
    # donor, probes, analyses, device, bar, mark) -> its write, stored under the mark ``<name>:<donor>``.
    run_chosen_pair: Callable[..., StageWrite] | None = None


def stage_write(
    config: PipelineConfig,
    revision: Revision,
    frames: dict[str, dict[str, pl.DataFrame]],
    stage: str,
    to_revision: Revision | None,
    settings: dict,
    seconds: float,
    table_names: tuple[str, ...],
    summary: str,
) -> StageWrite:
    """Each analysis's keyed tables of the stage and its stage_runs row."""
    run = pl.DataFrame(
        {
            "stage": [stage],
            "to_revision": [to_revision.name if to_revision else None],
            "settings": [json.dumps(settings)],
            "seconds": [seconds],
            "finished_at": [datetime.now(timezone.utc).replace(tzinfo=None)],
        },
        schema_overrides={"to_revision": pl.Utf8},
    )
    keys = (pl.lit(config.repo_id).alias("model"), pl.lit(revision.name).alias("revision"))
    for analysis_id, tables in frames.items():
        tables["stage_runs"] = run.with_columns(pl.lit(analysis_id).alias("analysis_id"), *keys)
    return StageWrite(stage, revision.name, frames, {}, table_names, summary)


def keyed_stage_write(
    config: PipelineConfig,
    revision: Revision,
    analyses: list[Analysis],
    tables: dict[str, pl.DataFrame],
    stage: str,
    to_revision: Revision | None,
    settings: dict,
    seconds: float,
    table_names: tuple[str, ...],
    summary: str,
) -> StageWrite:
    """The stage's tables (the same for every analysis) and its stage_runs row, keyed to every analysis."""
    keys = (pl.lit(config.repo_id).alias("model"), pl.lit(revision.name).alias("revision"))
    frames = {
        a.analysis_id: {name: frame.with_columns(pl.lit(a.analysis_id).alias("analysis_id"), *keys) for name, frame in tables.items()}
        for a in analyses
    }
    return stage_write(config, revision, frames, stage, to_revision, settings, seconds, table_names, summary)
