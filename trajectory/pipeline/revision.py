"""One revision's work, wherever it runs (in the ingest's process, or as a Ray task): the stages of
trajectory.pipeline.stages in their order, each for the analyses that lack it, each returned as a
:class:`StageWrite` for the caller to write in its own transaction; nothing here writes the store.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import torch

from trajectory.config import PipelineConfig
from trajectory.errors import TrajectoryError
from trajectory.facts import ProbeSet
from trajectory.hub.protocol import Source
from trajectory.hub.revisions import Revision
from trajectory.models.architectures import context_length
from trajectory.pipeline.stages import PAIR_STAGES, STAGES, StageContext, StageWrite
from trajectory.prompts import beyond_context
from trajectory.store.analyses import Analysis

if TYPE_CHECKING:
    from tqdm.auto import tqdm
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class RevisionJob:
    """What one revision still needs: per stage, the analyses that lack it."""

    revision: Revision
    ordinal: int  # the revision's index among all of the repository's revisions
    following: Revision | None  # the next selected revision (donor, W′), None for the last
    needed: dict[str, tuple[Analysis, ...]]  # stage -> analyses
    n_revisions: int | None = None  # the repository's revisions (a stage on a subset places the ordinal); None: still training
    stored_inputs: dict[str, Any] = field(default_factory=dict)  # stage -> what it reads of stored rows (Stage.stored_inputs)

    def downloads(self) -> list[str]:
        """The revisions this job loads: its own, and the next one when a pair stage runs."""
        pair = self.following is not None and any(self.needed.get(stage) for stage in PAIR_STAGES)
        return [self.revision.name] + ([self.following.name] if pair else [])


class LoadedModels:
    """Loaded revisions, so that a revision loaded as the "after" of one pair is not loaded again as the
    "before" of the next. Holds at most the ones in use. ``downloads``: revisions whose download is under
    way elsewhere (the ingest's prefetch), waited for instead of started again."""

    def __init__(self, source: Source, device: str) -> None:
        self.source, self.device = source, device
        self.loaded: dict[tuple[str, str], tuple] = {}
        self.downloads: dict[str, Future] = {}

    def get(self, name: str, dtype: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        key = (name, dtype)
        if key not in self.loaded:
            pending = self.downloads.get(name)
            if pending is not None:
                pending.result()
            else:
                self.source.download(name)  # a no-op when it is on disk
            self.loaded[key] = self.source.load(name, dtype=dtype, device=self.device)
        return self.loaded[key]

    def keep_only(self, dtype: str) -> None:
        """Drop the loaded copies of other dtypes (a 7B model's bfloat16 copy before its float32 pair)."""
        self.loaded = {k: v for k, v in self.loaded.items() if k[1] == dtype}

    def release_except(self, revision: Revision | None) -> None:
        keep = revision.name if revision is not None else None
        self.loaded = {k: v for k, v in self.loaded.items() if k[0] == keep}


def run_job(
    config: PipelineConfig, job: RevisionJob, models: LoadedModels, probes: ProbeSet, run: pl.DataFrame, device: str, bar: tqdm, said: set[str]
) -> Iterator[StageWrite]:
    """The job's stages in order, each yielded as soon as it is computed (the caller writes it before the
    next one starts); a stage reads the writes of the stages before it in this job, or (job.stored_inputs) their
    stored rows."""
    model, tokenizer = models.get(job.revision.name, config.model.dtype)
    limit = context_length(model.config)
    too_long = beyond_context(tokenizer, probes, limit)
    if too_long:  # refused in every stage, named once per ingest
        for fact, length in too_long:
            line = (
                f"fact {fact.fact_id} ({fact.relation}, {fact.subject[:40]!r}) left out: its sentence is {length} tokens, "
                f"longer than the model's context of {limit}"
            )
            if line not in said:
                said.add(line)
                bar.write(f"warning: {line}")
        probes = probes.without({fact.fact_id for fact, _ in too_long})
        if not len(probes):
            raise TrajectoryError("every probe fact is longer than the model's context")
    del model
    stages = StageContext(config, job, models, probes, run, device, bar, said)
    for stage in STAGES:
        if job.needed.get(stage.name):
            write = stage.run(stages, list(job.needed[stage.name]))
            stages.earlier[stage.name] = write
            yield write


def with_stored_inputs(db: Path, job: RevisionJob) -> RevisionJob:
    """The job with what its stages read of stored rows (Stage.stored_inputs: e.g. the ablation stage's circuits),
    for the analyses whose earlier stages are not redone in this job (a stage redone here hands its rows over)."""
    redone = {a.analysis_id for a in job.needed.get("ifr", ())}
    stored = {}
    for stage in STAGES:
        from_store = [a.analysis_id for a in job.needed.get(stage.name, ()) if a.analysis_id not in redone]
        if stage.stored_inputs is not None and from_store:
            stored[stage.name] = stage.stored_inputs(db, job.revision.name, from_store)
    return replace(job, stored_inputs=stored) if stored else job


def run_frame(config: PipelineConfig, device: str, analysis_ids: list[str]) -> pl.DataFrame:
    import duckdb
    import transformers

    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "duckdb": duckdb.__version__, "polars": pl.__version__}
    n = len(analysis_ids)
    return pl.DataFrame(
        {
            "run_id": [uuid.uuid4().hex[:12]] * n,
            "analysis_id": analysis_ids,
            "pipeline": [config.name] * n,
            "device": [device] * n,
            "versions": [json.dumps(versions)] * n,
            "started_at": [datetime.now(timezone.utc).replace(tzinfo=None)] * n,
        }
    )
