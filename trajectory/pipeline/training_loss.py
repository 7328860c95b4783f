"""The training_loss table of a model: the losses its revisions publish in ``trainer_state.json`` (the Hugging Face
Trainer's ``log_history``, whose entries with a ``loss`` and a ``step`` are the training losses; the reference's
build writes the same). The newest revision on disk that has such a history gives the whole curve up to its step."""

from __future__ import annotations

import json

import polars as pl

from trajectory.hub.protocol import Source
from trajectory.hub.revisions import Revision
from trajectory.hub.source import TRAINER_STATE


def logged_losses(state: dict) -> list[tuple[int, float]]:
    """(step, loss) of a trainer_state.json's log_history, in step order: entries with a whole step and a finite loss
    (evaluation entries carry ``eval_loss`` instead and are left out; a step logged twice keeps its last loss)."""
    history = state.get("log_history") if isinstance(state, dict) else None
    losses: dict[int, float] = {}
    for entry in history if isinstance(history, list) else []:
        if not isinstance(entry, dict):
            continue
        step, loss = entry.get("step"), entry.get("loss")
        if isinstance(step, int) and not isinstance(step, bool) and isinstance(loss, (int, float)) and not isinstance(loss, bool):
            if loss == loss and abs(loss) != float("inf"):
                losses[step] = float(loss)
    return sorted(losses.items())


def published_losses(source: Source, model: str, revisions: list[Revision]) -> pl.DataFrame | None:
    """The training_loss rows of ``model`` from the newest of ``revisions`` (training order) that publishes a loss
    history; None where none does (a Hub model such as OLMo publishes none). An unreadable file is passed over."""
    for revision in reversed(revisions):
        path = source.side_file(revision.name, TRAINER_STATE)
        if path is None:
            continue
        try:
            losses = logged_losses(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
        if losses:
            return pl.DataFrame({"model": model, "step": [s for s, _ in losses], "loss": [v for _, v in losses]}, schema_overrides={"step": pl.Int64})
    return None
