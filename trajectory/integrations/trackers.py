"""The headline measures of a store's revisions (sql/trackers/measures.sql: top-1 by relation type, active heads and
FFNs, components per role, each role set's IoU with the previous revision, faithfulness, the causal agreement where
measured) written to experiment trackers at each revision's training step, under ``trajectory/...``.

TensorBoard (event files; ``tensorboard`` installed), trackio (its local project store; ``trackio`` installed) and
W&B (``wandb``; offline unless you log in), each only where asked for. A run's loss and trajectory's measures then
sit side by side in the tracker the run already reports to.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from trajectory.errors import TrajectoryError
from trajectory.paths import SQL_DIR

TRACKERS = ("tensorboard", "trackio", "wandb")
STEP_METRIC = "trajectory/step"  # W&B: the measures' own x axis (a run's steps cannot go back)


def revision_measures(db: Path, analysis_id: str, revisions: Iterable[str] | None = None) -> pl.DataFrame:
    """(revision, step, metric, value) of the analysis's revisions with a known step (all, or ``revisions``)."""
    from trajectory.store.db import reader, scope

    with reader(Path(db)) as con:
        scope(con, [analysis_id])
        frame = pl.from_arrow(con.sql((SQL_DIR / "trackers" / "measures.sql").read_text()).to_arrow_table())
    if revisions is not None:
        frame = frame.filter(pl.col("revision").is_in(list(revisions)))
    return frame


class TrackerWriter:
    """Writes measures to one tracker; ``close`` flushes. Built by :func:`open_tracker`."""

    def write(self, measures: pl.DataFrame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class TensorBoardWriter(TrackerWriter):
    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise TrajectoryError("the TensorBoard tracker needs the tensorboard package: pip install tensorboard") from None
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def write(self, measures: pl.DataFrame) -> None:
        for _, step, metric, value in measures.iter_rows():
            self.writer.add_scalar(metric, value, global_step=step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class TrackioWriter(TrackerWriter):
    """Logs into trackio's current run (the Trainer's, when it reports to trackio), else into a run it starts."""

    def __init__(self, project: str | None):
        try:
            import trackio
        except ImportError:
            raise TrajectoryError("the trackio tracker needs the trackio package: pip install trackio") from None
        self.trackio = trackio
        self.owned = project is not None
        if self.owned:
            trackio.init(project=project)

    def write(self, measures: pl.DataFrame) -> None:
        for step, part in measures.group_by("step", maintain_order=True):
            self.trackio.log(dict(zip(part["metric"], part["value"])), step=int(step[0]))

    def close(self) -> None:
        if self.owned:
            self.trackio.finish()


class WandbWriter(TrackerWriter):
    """Logs into W&B's current run (the Trainer's, when it reports to wandb), with :data:`STEP_METRIC` as the
    measures' x axis, since a W&B run's own step only moves forward."""

    def __init__(self, project: str | None):
        try:
            import wandb
        except ImportError:
            raise TrajectoryError("the wandb tracker needs the wandb package: pip install wandb") from None
        self.wandb = wandb
        self.owned = wandb.run is None
        if self.owned:
            wandb.init(project=project or "trajectory", mode="offline")
        wandb.define_metric(STEP_METRIC)
        wandb.define_metric("trajectory/*", step_metric=STEP_METRIC)

    def write(self, measures: pl.DataFrame) -> None:
        for step, part in measures.group_by("step", maintain_order=True):
            self.wandb.log({STEP_METRIC: int(step[0]), **dict(zip(part["metric"], part["value"]))})

    def close(self) -> None:
        if self.owned:
            self.wandb.finish()


def open_tracker(kind: str, where: Path | str | None) -> TrackerWriter:
    """``tensorboard``: event files in the folder ``where``; ``trackio`` / ``wandb``: the current run, else a run of
    the project ``where``."""
    if kind == "tensorboard":
        if where is None:
            raise TrajectoryError("the TensorBoard tracker writes into a folder: name one")
        return TensorBoardWriter(Path(where))
    if kind == "trackio":
        return TrackioWriter(None if where is None else str(where))
    if kind == "wandb":
        return WandbWriter(None if where is None else str(where))
    raise TrajectoryError(f"unknown tracker {kind!r} (known: {', '.join(TRACKERS)})")


def export_to_tracker(db: Path, analysis_id: str, kind: str, where: Path | str) -> int:
    """Every stored revision's measures of the analysis written to a tracker; the number of (revision, metric) rows."""
    measures = revision_measures(db, analysis_id)
    writer = open_tracker(kind, where)
    try:
        writer.write(measures)
    finally:
        writer.close()
    return measures.height
