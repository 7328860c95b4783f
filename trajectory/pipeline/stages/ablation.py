"""The ablation stage (issues #16, #36; trajectory.ablation): causal checks of the revision's circuits and role
sets, on the model the IFR stage loaded, from that stage's per-root circuit rows of the revision (as stored, or
as just computed in the same job). The role-causality test's draws run on one revision in
``ablation.test_every`` and the last."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import polars as pl

from trajectory.ablation.stage import AblationSettings, run_stage as run_ablation_stage
from trajectory.config import PipelineConfig
from trajectory.errors import TrajectoryError
from trajectory.facts import ProbeSet
from trajectory.hub.revisions import Revision
from trajectory.paths import SQL_DIR
from trajectory.pipeline.stages.base import Stage, StageContext, StageWrite, one_in, stage_write
from trajectory.store.analyses import Analysis
from trajectory.store.db import insert_frame, memory_store, reader

TABLES = ("ablations", "stage_runs")  # the revision's ablated rows, then its mark
AblationInputs = dict[str, pl.DataFrame]  # analysis_id -> per-root circuit rows of one revision


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
    return stage_write(config, revision, by_analysis, "ablation", None, asdict(settings), seconds, TABLES,
                        f"{summary} ({seconds:.1f} s)")


def _run(context: StageContext, analyses: list[Analysis]) -> StageWrite:
    ifr = context.earlier.get("ifr")
    inputs = {**context.job.stored_inputs.get("ablation", {}), **(computed_ablation_inputs(ifr) if ifr is not None else {})}
    role_test = one_in(context.config.ablation_test_every, context.job.ordinal, context.job.n_revisions)
    return ablation_revision(context.config, context.models, context.revision, context.probes, analyses, inputs, context.device,
                             context.bar, role_test)


STAGE = Stage("ablation", "ablation", TABLES, pair=False, enabled=lambda config: config.ablation, run=_run,
              stored_inputs=ablation_inputs)
