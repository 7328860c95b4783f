"""Knowledge circuits in the training loop: a ``transformers.TrainerCallback`` that ingests each checkpoint while
the model trains and writes the headline measures to the trackers the Trainer reports to.

    from trajectory.integrations import TrajectoryCallback
    trainer = Trainer(..., callbacks=[TrajectoryCallback(pipeline="reference")])

At the start of training it starts ``trajectory ingest --watch`` over the Trainer's ``output_dir`` (a separate
process, on ``device`` if named; its lines go to ``<output_dir>/trajectory-ingest.log``): the Trainer's checkpoints
are complete once their ``trainer_state.json`` is written, and each is ingested as it appears, into the same store
and analysis as a watch started by hand. Nothing runs in the training step: a background thread reads the store
every ``poll_s`` seconds and logs each newly stored revision's measures (trajectory.integrations.trackers) at that
checkpoint's global step. When training ends the watch is told to finish (a file it looks for) (the checkpoints complete by then, the
last one's pair stages, the intervals) and, with ``wait_at_end``, waited for. A crash or Ctrl-C leaves whole revisions
only (each stage is one transaction); a rerun of the watch, or of training resumed from a checkpoint, resumes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from transformers import TrainerCallback

from trajectory.integrations.trackers import TRACKERS, TrackerWriter, open_tracker, revision_measures

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

log = logging.getLogger(__name__)
LOG_FILE = "trajectory-ingest.log"


class TrajectoryCallback(TrainerCallback):
    """``pipeline``: its probe set and stages (its model is replaced by the run's checkpoints); ``db``: the store
    (default ``<output_dir>/trajectory.duckdb``); ``model_name``: the run's name in the store (default
    ``run/<output_dir's name>``); ``trackers``: where the measures go (default: those of the Trainer's ``report_to``
    that trajectory knows: tensorboard, trackio, wandb)."""

    def __init__(
        self,
        pipeline: str | Path = "reference",
        db: str | Path | None = None,
        *,
        model_name: str | None = None,
        device: str | None = None,
        poll_s: float = 2.0,
        trackers: tuple[str, ...] | None = None,
        wait_at_end: bool = True,
    ):
        self.pipeline, self.db_path, self.model_name, self.device = str(pipeline), db, model_name, device
        self.poll_s, self.trackers, self.wait_at_end = poll_s, trackers, wait_at_end
        self.process: subprocess.Popen | None = None
        self.writers: list[TrackerWriter] = []
        self.logged: set[tuple[str, str]] = set()  # (revision, metric): a later stage's measures come later
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self.process is not None:
            return
        self.run = Path(args.output_dir).resolve()
        self.run.mkdir(parents=True, exist_ok=True)
        self.db = Path(self.db_path or self.run / "trajectory.duckdb").resolve()
        self.model = self.model_name or f"run/{self.run.name}"
        # Told to finish by a file, not a signal: a signal sent before the watch has installed its handler would kill it.
        self.finish_file = self.db.with_name(self.db.name + ".finish")
        self.finish_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "trajectory",
            "-q",
            "ingest",
            "-p",
            self.pipeline,
            "--db",
            str(self.db),
            "--run-path",
            str(self.run),
            "--model-name",
            self.model,
            "--watch",
            "--poll",
            str(self.poll_s),
            "--finish-file",
            str(self.finish_file),
        ]
        if self.device:
            command += ["--device", self.device]
        with open(self.run / LOG_FILE, "a") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )  # a Ctrl-C in the terminal reaches training, which ends it
        wanted = self.trackers if self.trackers is not None else tuple(t for t in (args.report_to or []) if t in TRACKERS)
        for kind in wanted:
            # TensorBoard: beside the Trainer's own run folder (output_dir/runs/<time>_<host>, or $TENSORBOARD_LOGGING_DIR)
            where = Path(os.environ.get("TENSORBOARD_LOGGING_DIR") or self.run / "runs" / "trajectory") if kind == "tensorboard" else None
            self.writers.append(open_tracker(kind, where))
        self.thread = threading.Thread(target=self._follow, name="trajectory-trackers", daemon=True)
        self.thread.start()

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self.process is None:
            return
        self._finish()

    def _finish(self) -> None:
        process, self.process = self.process, None
        self.finish_file.touch()
        if self.wait_at_end:
            code = process.wait()
            self.finish_file.unlink(missing_ok=True)
            if code:
                log.warning("trajectory ingest --watch ended with exit %d; see %s", code, self.run / LOG_FILE)
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        self._log_new()  # whatever the watch stored after the thread's last look
        for writer in self.writers:
            writer.close()

    def _follow(self) -> None:
        while not self.stop.wait(self.poll_s):
            self._log_new()

    def _log_new(self) -> None:
        """The measures stored since the last look, to every tracker (a busy or missing store: later). Called by the
        thread only, then once by ``_finish`` after joining it: never twice at once."""
        if not self.writers or not self.db.exists():
            return
        try:
            analysis = self._analysis()
            if analysis is None:
                return
            measures = revision_measures(self.db, analysis)
        except Exception as err:  # noqa: BLE001 - the store may be busy being written: look again later
            log.debug("trackers: store not readable now (%s)", err)
            return
        fresh = [(r, m) not in self.logged for r, m in zip(measures["revision"], measures["metric"])]
        new = measures.filter(pl.Series(fresh, dtype=pl.Boolean))
        if new.is_empty():
            return
        for writer in self.writers:
            writer.write(new)
        self.logged.update(zip(new["revision"], new["metric"]))

    def _analysis(self) -> str | None:
        from trajectory.store.db import reader

        with reader(self.db) as con:
            rows = con.execute("SELECT analysis_id FROM analyses WHERE model = ? ORDER BY created_at LIMIT 1", [self.model]).fetchall()
        return rows[0][0] if rows else None
