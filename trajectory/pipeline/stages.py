"""The per-revision stages after the IFR stage, each over a revision and the next selected one, each
computed once and written for every analysis that lacks it in one transaction, its stage_runs row last.

- ``grafting_revision``: dynamic weight grafting, recipient = the revision, donor = the next one
  (trajectory.grafting), in the pipeline's dtype (the pair the IFR stage loaded).
- ``extractive_revision``: extractive structures of the update to the next revision and the OCR
  experiment (trajectory.extractive), in float32 whatever the pipeline's dtype.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from trajectory.extractive.stage import run_stage
from trajectory.facts import ProbeSet
from trajectory.grafting.stage import graft_pair
from trajectory.hub.revisions import Revision
from trajectory.store.analyses import Analysis
from trajectory.store.db import EXTRACTIVE_TABLES, GRAFTING_TABLES, write_revision


def grafting_revision(config, models, revision: Revision, donor: Revision | None, probes: ProbeSet, analyses: list[Analysis],
                      db: Path, device: str, bar, stage: str = "grafting") -> str:
    """The grafting stage of the pair (revision, donor); the last revision (no donor) is marked done with no rows."""
    started = time.perf_counter()
    settings = config.grafting_settings()
    tables: dict[str, pl.DataFrame] = {}
    summary = "no next revision to graft from"
    if donor is not None:
        bar.set_postfix_str(f"{revision.name}: grafting")
        recipient, tokenizer = models.get(revision.name, config.dtype)
        frame, summary = graft_pair(recipient, models.get(donor.name, config.dtype)[0], tokenizer, probes, settings, device)
        tables["grafts"] = frame.with_columns(pl.lit(donor.name).alias("donor_revision"))
    seconds = time.perf_counter() - started
    _write_stage(config, revision, analyses, db, tables, stage, donor, asdict(settings), seconds, GRAFTING_TABLES, bar)
    return f"{summary} ({seconds:.1f} s)"


def extractive_revision(config, models, revision: Revision, following: Revision | None, probes: ProbeSet,
                        analyses: list[Analysis], db: Path, device: str, bar) -> str:
    """The extractive stage of one revision (trajectory.extractive.stage). W and W′ are float32 whatever
    the analysis dtype."""
    started = time.perf_counter()
    settings = config.extractive_settings()
    bar.set_postfix_str(f"{revision.name}: extractive")
    models.keep_only("float32")
    before, tokenizer = models.get(revision.name, "float32")
    load_after = (lambda: models.get(following.name, "float32")[0]) if following is not None else None
    tables, summary = run_stage(before, load_after, tokenizer, probes, settings, device)
    seconds = time.perf_counter() - started
    if "extractive_scores" in tables:  # W′: the next revision for the pair, the finetuned revision itself for OCR
        pair_to = following.name if following is not None else revision.name
        tables["extractive_scores"] = tables["extractive_scores"].with_columns(
            pl.when(pl.col("measure") == "pretraining").then(pl.lit(pair_to)).otherwise(pl.lit(revision.name)).alias("to_revision"))
    _write_stage(config, revision, analyses, db, tables, "extractive", following, asdict(settings), seconds, EXTRACTIVE_TABLES, bar)
    return f"{summary} ({seconds:.1f} s)"


def _write_stage(config, revision: Revision, analyses: list[Analysis], db: Path, tables: dict[str, pl.DataFrame], stage: str,
                 to_revision: Revision | None, settings: dict, seconds: float, table_names: tuple[str, ...], bar) -> None:
    """The stage's tables and its stage_runs row, keyed to every analysis, in one transaction."""
    tables["stage_runs"] = pl.DataFrame({"stage": [stage], "to_revision": [to_revision.name if to_revision else None],
                                         "settings": [json.dumps(settings)], "seconds": [seconds],
                                         "finished_at": [datetime.now(timezone.utc).replace(tzinfo=None)]},
                                        schema_overrides={"to_revision": pl.Utf8})
    keys = (pl.lit(config.repo_id).alias("model"), pl.lit(revision.name).alias("revision"))
    frames = {a.analysis_id: {name: frame.with_columns(pl.lit(a.analysis_id).alias("analysis_id"), *keys)
                              for name, frame in tables.items()} for a in analyses}
    bar.set_postfix_str(f"{revision.name}: write")
    write_revision(db, revision.name, frames, {}, table_names)
