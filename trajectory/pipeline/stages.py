"""The per-revision stages after the IFR stage, each over a revision (and the next selected one), each
computed once for every analysis that lacks it and returned as one :class:`StageWrite` (its stage_runs
row last), which the caller writes in one transaction.

- ``ablation_revision``: causal checks of the revision's circuits and roles (trajectory.ablation), on the
  model the IFR stage loaded, from that stage's circuits and roles rows of the revision (as stored, or as
  just computed: :func:`ablation_inputs`, :func:`computed_ablation_inputs`).
- ``effects_revision``: every head's and FFN's single-component effect on every fact (trajectory.pipeline.effects),
  on the model the IFR stage loaded.
- ``grafting_revision``: dynamic weight grafting, recipient = the revision, donor = the next one
  (trajectory.grafting), in the pipeline's dtype (the pair the IFR stage loaded).
- ``extractive_revision``: extractive structures of the update to the next revision and the OCR
  experiment (trajectory.extractive), in float32 whatever the pipeline's dtype.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from trajectory.ablation.stage import AblationSettings, run_stage as run_ablation_stage
from trajectory.config import PipelineConfig
from trajectory.pipeline.effects import EffectsSettings, run_effects
from trajectory.errors import TrajectoryError
from trajectory.extractive.finetune import FinetuneRecipe
from trajectory.extractive.stage import ExtractiveSettings, run_stage
from trajectory.facts import ProbeSet
from trajectory.grafting.stage import GraftingSettings, graft_pair
from trajectory.hub.revisions import Revision
from trajectory.paths import SQL_DIR
from trajectory.store.analyses import Analysis
from trajectory.store.db import (ABLATION_TABLES, EFFECTS_TABLES, EXTRACTIVE_TABLES, GRAFTING_TABLES, insert_frame, memory_store, reader,
                                write_revision)

AblationInputs = dict[str, pl.DataFrame]  # analysis_id -> per-root circuit rows of one revision


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


def ablation_inputs(db: Path, revision: str, analysis_ids: list[str]) -> AblationInputs:
    """analysis_id -> per-root circuit rows of the revision, as the IFR stage stored them."""
    if not analysis_ids:
        return {}
    with reader(db) as con:
        return _ablation_inputs(con, revision, analysis_ids)


def computed_ablation_inputs(ifr: StageWrite) -> AblationInputs:
    """The same rows from an IFR stage's frames not yet stored: the same SQL over an in-memory store, so
    that columns and types are the stored ones."""
    with memory_store() as con:
        for tables in ifr.frames.values():
            if "circuits" in tables and tables["circuits"].height:
                insert_frame(con, "circuits", tables["circuits"])
        return _ablation_inputs(con, ifr.revision, list(ifr.frames))


def _ablation_inputs(con, revision: str, analysis_ids: list[str]) -> AblationInputs:
    params = {"revision": revision, "analyses": analysis_ids}
    circuits = pl.from_arrow(con.sql((SQL_DIR / "stages" / "ablation_circuits.sql").read_text(), params=params).to_arrow_table())
    return {a: circuits.filter(pl.col("analysis_id") == a) for a in analysis_ids}


def ablation_settings(config: PipelineConfig, role_test: bool = False) -> AblationSettings:
    """``role_test``: the revision is one of those the role-causality test runs on (config.ablation_test_every)."""
    return AblationSettings(mode=config.ablation_mode, draws=config.ablation_draws, facts_per_relation=config.ablation_facts_per_relation,
                            seed=config.ablation_seed, test_draws=config.ablation_test_draws if role_test else 0,
                            rows_per_pass=config.ablation_batch_size, topk=config.ablation_topk)


def effects_settings(config: PipelineConfig) -> EffectsSettings:
    return EffectsSettings(config.effects_method, config.effects_mode, config.effects_kappa, config.effects_batch_size)


def grafting_settings(config: PipelineConfig) -> GraftingSettings:
    if config.graft_configs is None:
        return GraftingSettings(batch_size=config.grafting_batch_size)
    return GraftingSettings(config.graft_configs, config.grafting_batch_size)


def extractive_settings(config: PipelineConfig) -> ExtractiveSettings:
    recipe = FinetuneRecipe(config.finetune_optimizer, config.finetune_learning_rate, config.finetune_epochs,
                            config.finetune_batch_size, config.finetune_train)
    return ExtractiveSettings(config.extractive_counterfactuals, config.extractive_per_fact, config.extractive_batch_size,
                              None if config.ocr_probe == "none" else config.ocr_probe, recipe)


def ablation_revision(config, models, revision: Revision, probes: ProbeSet, analyses: list[Analysis], inputs: AblationInputs,
                      device: str, bar, role_test: bool = False) -> StageWrite:
    """The ablation stage of one revision, for every analysis in ``analyses``, from their per-root circuit rows;
    ``role_test``: with the role-causality test's draws."""
    started = time.perf_counter()
    settings = ablation_settings(config, role_test)
    bar.set_postfix_str(f"{revision.name}: ablation")
    inputs = {a.analysis_id: inputs.get(a.analysis_id, pl.DataFrame()) for a in analyses}
    for a, circuit_rows in inputs.items():
        if circuit_rows.is_empty():  # ingested with store.circuits = false: no circuit to keep
            raise TrajectoryError(f"{revision.name}: analysis {a} has no stored circuits for the ablation stage; "
                                  "re-run the IFR stage with store.circuits = true (trajectory ingest --force)")
    model, tokenizer = models.get(revision.name, config.dtype)
    thetas = {a.analysis_id: a.theta for a in analyses}
    frames, summary = run_ablation_stage(model, tokenizer, probes, inputs, thetas, settings, device)
    seconds = time.perf_counter() - started
    keys = (pl.lit(config.repo_id).alias("model"), pl.lit(revision.name).alias("revision"))
    by_analysis = {a: {"ablations": frame.with_columns(pl.lit(a).alias("analysis_id"), *keys)} for a, frame in frames.items()}
    return _stage_write(config, revision, by_analysis, "ablation", None, asdict(settings), seconds, ABLATION_TABLES,
                        f"{summary} ({seconds:.1f} s)")


def effects_revision(config, models, revision: Revision, probes: ProbeSet, analyses: list[Analysis], device: str, bar) -> StageWrite:
    """The component-effects stage of one revision (trajectory.pipeline.effects), the same rows for every analysis."""
    started = time.perf_counter()
    settings = effects_settings(config)
    bar.set_postfix_str(f"{revision.name}: effects")
    model, tokenizer = models.get(revision.name, config.dtype)
    tables, summary = run_effects(model, tokenizer, probes, settings, device)
    seconds = time.perf_counter() - started
    return _keyed_stage_write(config, revision, analyses, tables, "effects", None, asdict(settings), seconds, EFFECTS_TABLES,
                              f"{summary} ({seconds:.1f} s)")


def grafting_revision(config, models, revision: Revision, donor: Revision | None, probes: ProbeSet, analyses: list[Analysis],
                      device: str, bar, stage: str = "grafting") -> StageWrite:
    """The grafting stage of the pair (revision, donor); the last revision (no donor) is marked done with no rows."""
    started = time.perf_counter()
    settings = grafting_settings(config)
    tables: dict[str, pl.DataFrame] = {}
    summary = "no next revision to graft from"
    if donor is not None:
        bar.set_postfix_str(f"{revision.name}: grafting")
        recipient, tokenizer = models.get(revision.name, config.dtype)
        frame, summary = graft_pair(recipient, models.get(donor.name, config.dtype)[0], tokenizer, probes, settings, device)
        tables["grafts"] = frame.with_columns(pl.lit(donor.name).alias("donor_revision"))
    seconds = time.perf_counter() - started
    return _keyed_stage_write(config, revision, analyses, tables, stage, donor, asdict(settings), seconds, GRAFTING_TABLES,
                              f"{summary} ({seconds:.1f} s)")


def extractive_revision(config, models, revision: Revision, following: Revision | None, probes: ProbeSet,
                        analyses: list[Analysis], device: str, bar) -> StageWrite:
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
            pl.when(pl.col("measure") == "pretraining").then(pl.lit(pair_to)).otherwise(pl.lit(revision.name)).alias("to_revision"))
    return _keyed_stage_write(config, revision, analyses, tables, "extractive", following, asdict(settings), seconds,
                              EXTRACTIVE_TABLES, f"{summary} ({seconds:.1f} s)")


def _keyed_stage_write(config, revision: Revision, analyses: list[Analysis], tables: dict[str, pl.DataFrame], stage: str,
                       to_revision: Revision | None, settings: dict, seconds: float, table_names: tuple[str, ...],
                       summary: str) -> StageWrite:
    """The stage's tables (the same for every analysis) and its stage_runs row, keyed to every analysis."""
    keys = (pl.lit(config.repo_id).alias("model"), pl.lit(revision.name).alias("revision"))
    frames = {a.analysis_id: {name: frame.with_columns(pl.lit(a.analysis_id).alias("analysis_id"), *keys)
                              for name, frame in tables.items()} for a in analyses}
    return _stage_write(config, revision, frames, stage, to_revision, settings, seconds, table_names, summary)


def _stage_write(config, revision: Revision, frames: dict[str, dict[str, pl.DataFrame]], stage: str, to_revision: Revision | None,
                 settings: dict, seconds: float, table_names: tuple[str, ...], summary: str) -> StageWrite:
    """Each analysis's keyed tables of the stage and its stage_runs row."""
    run = pl.DataFrame({"stage": [stage], "to_revision": [to_revision.name if to_revision else None],
                        "settings": [json.dumps(settings)], "seconds": [seconds],
                        "finished_at": [datetime.now(timezone.utc).replace(tzinfo=None)]},
                       schema_overrides={"to_revision": pl.Utf8})
    keys = (pl.lit(config.repo_id).alias("model"), pl.lit(revision.name).alias("revision"))
    for analysis_id, tables in frames.items():
        tables["stage_runs"] = run.with_columns(pl.lit(analysis_id).alias("analysis_id"), *keys)
    return StageWrite(stage, revision.name, frames, {}, table_names, summary)
