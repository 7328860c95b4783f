"""A training run as a source, followed while it trains: the small reference written as a trainer writes
it (checkpoint-N folders, each marked complete last), a batch ingest of the folder, and `ingest --watch`
of the same run appearing one checkpoint at a time (one written slowly in pieces), row for row."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from polars.testing import assert_frame_equal
from test_ray_executor import _tables

from trajectory.config import load_pipeline
from trajectory.errors import TrajectoryError
from trajectory.hub.run_folder import TRAINER_MARK, RunFolderSource
from trajectory.pipeline.orchestrator import Watch, ingest
from trajectory.suite.build import SMALL, build_suite

STEPS = [8, 16, 24, 32, 40]
SLOW = "checkpoint-24"  # written in pieces, with pauses, before its mark
MODEL = "run/reference-small"


@pytest.fixture(scope="module")
def built_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("built") / "run"
    result = build_suite(SMALL, progress=False, run_folder=run)
    assert result.revisions == [f"checkpoint-{s}" for s in STEPS]
    return run


def run_config(run: Path):
    """The small reference's pipeline (every stage) over a run folder, under one model name."""
    return load_pipeline("reference-small").with_overrides(
        {"model.suite": None, "model.path": run, "model.repo": MODEL, "model.cache_dir": None, "model.offline": True}
    )


@pytest.fixture(scope="module")
def batch_store(built_run, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("batch") / "batch.duckdb"
    assert ingest(run_config(built_run), db, progress=False) == 0
    return db


def write_like_a_trainer(source: Path, run: Path, pause: float = 0.4) -> None:
    """Copy each checkpoint folder as a trainer would write it: files first (SLOW's weights in four
    pieces), its trainer_state.json last, the next checkpoint a while later."""
    run.mkdir(parents=True, exist_ok=True)
    for step in STEPS:
        name = f"checkpoint-{step}"
        out = run / name
        out.mkdir()
        for file in sorted((source / name).iterdir()):
            if file.name == TRAINER_MARK:
                continue
            data = file.read_bytes()
            pieces = 4 if name == SLOW and file.suffix == ".safetensors" else 1
            with open(out / file.name, "wb") as handle:
                for k in range(pieces):
                    handle.write(data[k * len(data) // pieces : (k + 1) * len(data) // pieces])
                    handle.flush()
                    time.sleep(pause if pieces > 1 else 0)
        (out / TRAINER_MARK).write_bytes((source / name / TRAINER_MARK).read_bytes())
        time.sleep(pause)


def test_the_reference_as_a_training_run_lists_complete_checkpoints_only(built_run, tmp_path):
    run = tmp_path / "partial"
    shutil.copytree(built_run, run)
    (run / "checkpoint-40" / TRAINER_MARK).unlink()  # still being written
    (run / "notes").mkdir()  # not a checkpoint
    source = RunFolderSource(run, MODEL, settle_s=3600)
    assert [r.name for r in source.list_revisions()] == [f"checkpoint-{s}" for s in STEPS[:-1]]
    assert [r.step for r in source.list_revisions()] == STEPS[:-1] and source.pending() == ["checkpoint-40"]
    assert RunFolderSource(run, MODEL, settle_s=0).pending() == []  # unchanged since: complete by its sizes
    with pytest.raises(TrajectoryError, match="not a complete checkpoint folder"):
        source.load("checkpoint-40")
    assert source.content_hash("checkpoint-8") == RunFolderSource(built_run, MODEL).content_hash("checkpoint-8")
    assert source.content_hash("checkpoint-8") != source.content_hash("checkpoint-16")
    missing = RunFolderSource(tmp_path / "not-yet", MODEL)  # a watch may start before the trainer makes its folder
    assert missing.pending() == []
    with pytest.raises(TrajectoryError, match="no such run folder"):
        missing.list_revisions()


@pytest.mark.slow
def test_a_watched_run_stores_each_checkpoint_once_and_equals_a_batch_ingest(built_run, batch_store, tmp_path, monkeypatch):
    run, db = tmp_path / "live", tmp_path / "watched.duckdb"
    seen_complete = []
    original = RunFolderSource.load

    def spy(self, revision, **kwargs):
        seen_complete.append((revision, (self.run / revision / TRAINER_MARK).is_file()))
        return original(self, revision, **kwargs)

    monkeypatch.setattr(RunFolderSource, "load", spy)
    writer = threading.Thread(target=write_like_a_trainer, args=(built_run, run))
    writer.start()
    try:
        assert ingest(run_config(run), db, progress=False, watch=Watch(until=40, poll_s=0.2)) == 0
    finally:
        writer.join()
    assert seen_complete and all(complete for _, complete in seen_complete), seen_complete  # never a partial folder
    con = duckdb.connect(str(db), read_only=True)
    once = con.sql("SELECT stage, count(*), count(DISTINCT revision) FROM stage_runs GROUP BY stage").fetchall()
    revisions = con.sql("SELECT count(*), count(DISTINCT revision) FROM revisions").fetchall()
    con.close()
    assert revisions == [(5, 5)] and sorted(once) == [(s, 5, 5) for s in ("ablation", "effects", "extractive", "grafting")]
    expected, actual = _tables(batch_store), _tables(db)
    assert set(expected) == set(actual)
    for name, frame in expected.items():
        assert_frame_equal(frame, actual[name], check_exact=False, rel_tol=1e-5, abs_tol=1e-6)


@pytest.mark.slow
def test_ctrl_c_during_a_watch_leaves_whole_revisions_and_the_next_watch_resumes(built_run, batch_store, tmp_path):
    run, db = tmp_path / "run", tmp_path / "stopped.duckdb"
    shutil.copytree(built_run, run)
    pipeline = tmp_path / "run.toml"
    pipeline.write_text(
        load_pipeline("reference-small")
        .path.read_text()
        .replace('repo = "trajectory/olmo-tiny-facts-small"', f'repo = "{MODEL}"\npath = "{run}"')
        .replace('suite = "small"\n', "")
    )
    command = [sys.executable, "-m", "trajectory", "-q", "ingest", "-p", str(pipeline), "--db", str(db), "--watch", "--poll", "0.2"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    watch = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    try:
        stored = 0
        for line in watch.stdout:  # stop it in the middle of the run, between a revision's stages
            stored += line.startswith("stored ")
            if stored == 6:
                watch.send_signal(signal.SIGINT)
                break
        assert watch.wait(timeout=60) == 130
    finally:
        watch.kill()
    con = duckdb.connect(str(db), read_only=True)
    per_revision = con.sql("SELECT revision, count(*) FROM roles GROUP BY revision").fetchall()
    con.close()
    assert 1 <= len(per_revision) < 5 and {n for _, n in per_revision} == {100}  # whole revisions only
    assert not db.with_name(db.name + ".ingest.lock").exists()
    done = subprocess.run([*command, "--until", "40"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "watch: reached step 40; stopping" in done.stdout
    expected, actual = _tables(batch_store), _tables(db)
    for name, frame in expected.items():
        if name != "runs":  # two ingests: two runs
            assert_frame_equal(frame, actual[name], check_exact=False, rel_tol=1e-5, abs_tol=1e-6)


def test_a_run_folder_that_changes_keeps_each_revisions_identity(built_run, tmp_path, capsys):
    """Issue #39 item 1: ordinals follow steps, never arrival order; checkpoints rotated away keep their rows and
    place (said once) and no pair is grafted across the gap; a checkpoint rewritten in place after its ingest is
    refused by name (--force re-ingests it); a step beyond 64 bits is left out with a line."""
    config = run_config(tmp_path / "run").with_overrides({"ablation.enabled": False, "effects.enabled": False, "extractive.enabled": False})
    run, db = tmp_path / "run", tmp_path / "s.duckdb"
    run.mkdir()

    def arrive(step: int) -> None:
        shutil.copytree(built_run / f"checkpoint-{step}", run / f"checkpoint-{step}")

    def ordinals() -> dict[str, int]:
        return dict(duckdb.connect(str(db), read_only=True).execute("SELECT revision, ordinal FROM revisions").fetchall())

    def pairs() -> set[tuple[str, str]]:
        rows = duckdb.connect(str(db), read_only=True).execute("SELECT DISTINCT revision, donor_revision FROM grafts").fetchall()
        return set(rows)

    for step in (8, 24):
        arrive(step)
    assert ingest(config, db, progress=False) == 0
    assert ordinals() == {"checkpoint-8": 0, "checkpoint-24": 1}
    arrive(16)  # late: it takes its place by step, and 24 moves up
    assert ingest(config, db, progress=False) == 0
    assert ordinals() == {"checkpoint-8": 0, "checkpoint-16": 1, "checkpoint-24": 2}
    shutil.rmtree(run / "checkpoint-8")  # rotated away (save_total_limit), and a newer one written
    shutil.rmtree(run / "checkpoint-16")
    arrive(32)
    (run / "checkpoint-99999999999999999999").mkdir()
    capsys.readouterr()
    assert ingest(config, db, progress=False) == 0
    out, err = capsys.readouterr()
    assert "2 stored revisions are no longer in the source (their rows are kept): checkpoint-8, checkpoint-16" in out
    assert "checkpoint-99999999999999999999 left out: its step is beyond 2^63 - 1" in err
    assert ordinals() == {"checkpoint-8": 0, "checkpoint-16": 1, "checkpoint-24": 2, "checkpoint-32": 3}
    assert ("checkpoint-24", "checkpoint-32") in pairs() and all(donor != "checkpoint-24" or a != "checkpoint-8" for a, donor in pairs())
    weights = run / "checkpoint-24" / "model.safetensors"  # rewritten in place after its ingest: other weights
    weights.write_bytes((built_run / "checkpoint-40" / "model.safetensors").read_bytes())
    with pytest.raises(TrajectoryError, match="the weights of checkpoint-24 changed since its ingest"):
        ingest(config, db, progress=False)
    assert ingest(config, db, spec="checkpoint-24,checkpoint-32", force=True, progress=False) == 0

    def grafts_into(recipient: str) -> list[tuple]:
        con = duckdb.connect(str(db), read_only=True)
        return sorted(con.execute("SELECT * EXCLUDE (analysis_id) FROM grafts WHERE revision = ?", [recipient]).fetchall(), key=repr)

    before = grafts_into("checkpoint-24")
    weights = run / "checkpoint-32" / "model.safetensors"  # its successor rewritten: --force on it alone redoes 24 -> 32
    weights.write_bytes((built_run / "checkpoint-40" / "model.safetensors").read_bytes())
    assert ingest(config, db, spec="checkpoint-32", force=True, progress=False) == 0
    after = grafts_into("checkpoint-24")
    assert len(after) == len(before) and after != before
    assert ingest(config, db, progress=False) == 0  # nothing changed since: no refusal
