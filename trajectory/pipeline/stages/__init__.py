"""The ingest's stages, one module each (trajectory.pipeline.stages.base says what a stage declares). STAGES is
their order on a revision: ablation and effects on the IFR stage's model (ablation on its rows), grafting before
the extractive stage, whose float32 copies would otherwise replace the loaded pair of another dtype. The
orchestrator, the per-revision job and the Ray executor iterate over STAGES and never name a stage (a pair the user
names runs through the stage's run_chosen_pair); adding one touches its module, this list, its config section (whose
FLAG_HELP makes the ingest's --<stage> flags), its SQL and its docs."""

from __future__ import annotations

from trajectory.config import PipelineConfig
from trajectory.pipeline.stages import ablation, effects, extractive, grafting, ifr
from trajectory.pipeline.stages.base import Stage, StageContext, StageWrite

STAGES: tuple[Stage, ...] = (ifr.STAGE, ablation.STAGE, effects.STAGE, grafting.STAGE, extractive.STAGE)
PAIR_STAGES = tuple(s.name for s in STAGES if s.pair)


def enabled_stages(config: PipelineConfig) -> tuple[Stage, ...]:
    """The pipeline's stages, in the order they run on a revision (the IFR stage always)."""
    return tuple(s for s in STAGES if s.enabled(config))


def stage_named(name: str) -> Stage:
    return next(s for s in STAGES if s.name == name)


def chosen_pair_stage() -> Stage:
    """The stage that runs on a pair the user names (``ingest --graft-pair``)."""
    return next(s for s in STAGES if s.run_chosen_pair is not None)


__all__ = ["PAIR_STAGES", "STAGES", "Stage", "StageContext", "StageWrite", "chosen_pair_stage", "enabled_stages", "stage_named"]
