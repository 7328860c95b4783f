"""The Trainer callback (issue #40): a few steps of scripts/pretrain_with_trainer.py on the small preset, the
callback on. The store its watch fills while training equals a batch ingest of the same checkpoints, row for row,
and the scalars it wrote to TensorBoard are the stored measures at each checkpoint's step."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trajectory.cli import main
from trajectory.integrations.trackers import revision_measures
from trajectory.store.query import run_sql

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """Trained in two runs, as people do: 8 steps, then resumed from its checkpoint to 12 with save_total_limit 2,
    so the Trainer deletes checkpoint-4 once checkpoint-12 is saved. checkpoint-4 is copied aside before (as
    ``trained.parent / "rotated"``) for the batch ingest the watched store is compared with."""
    pytest.importorskip("tensorboard")
    folder = tmp_path_factory.mktemp("trainer")
    run = folder / "run"
    script = _module(ROOT / "scripts" / "pretrain_with_trainer.py")
    common = ["--out", str(run), "--preset", "small", "--save-steps", "4", "--pipeline", str(_pipeline(folder)), "--report-to", "tensorboard"]
    script.main([*common, "--steps", "8"])
    shutil.copytree(run / "checkpoint-4", folder / "rotated" / "checkpoint-4")
    script.main([*common, "--steps", "12", "--resume", "--save-total-limit", "2"])
    return run


def _pipeline(folder: Path) -> Path:
    """The small reference's pipeline with IFR and one pair stage (grafting): the watch's other stages are tested
    against a batch ingest in tests/test_watch.py; here the callback's plumbing, in seconds."""
    text = (ROOT / "pipelines" / "reference-small.toml").read_text()
    for table in ("ablation", "effects", "extractive"):
        text = text.replace(f"[{table}]\nenabled = true", f"[{table}]\nenabled = false")
    path = folder / "callback.toml"
    path.write_text(text)
    return path


def test_the_watch_beside_training_stores_what_a_batch_ingest_stores(trained, tmp_path):
    """Across a resumed run and a checkpoint the Trainer rotated away: the same rows as a batch ingest of all three."""
    assert sorted(p.name for p in trained.glob("checkpoint-*")) == ["checkpoint-12", "checkpoint-8"]  # 4 rotated away
    store = trained / "trajectory.duckdb"
    assert store.is_file() and not store.with_name(store.name + ".ingest.lock").exists()  # the watch has ended
    log = (trained / "trajectory-ingest.log").read_text()
    assert log.count("told to finish") == 2  # one watch per training run
    assert log.count("no longer in the source") == 1  # the rotated checkpoint said once; its rows kept
    whole = tmp_path / "run"  # the same run with its rotated checkpoint back, for the batch ingest
    shutil.copytree(trained, whole, ignore=shutil.ignore_patterns("trajectory*", "runs"))
    shutil.copytree(trained.parent / "rotated" / "checkpoint-4", whole / "checkpoint-4")
    batch = tmp_path / "batch.duckdb"
    assert (
        main(
            [
                "-q",
                "ingest",
                "-p",
                str(trained.parent / "callback.toml"),
                "--run-path",
                str(whole),
                "--model-name",
                f"run/{trained.name}",
                "--db",
                str(batch),
            ]
        )
        == 0
    )
    compare = _module(ROOT / "benchmarks" / "compare_stores.py")
    import duckdb

    with duckdb.connect(str(store), read_only=True) as watched, duckdb.connect(str(batch), read_only=True) as batched:
        names = compare.relations(watched)
        assert names == compare.relations(batched)
        for name, kind in names.items():
            if kind == "table" and name not in ("runs", "schema_version"):  # runs: one per ingest, the watch's is one too
                assert compare.canonical_rows(watched, name) == compare.canonical_rows(batched, name), name
    revisions = run_sql(store, "SELECT revision, step FROM revisions ORDER BY ordinal").rows()
    assert revisions == [("checkpoint-4", 4), ("checkpoint-8", 8), ("checkpoint-12", 12)]
    stages = dict(run_sql(store, "SELECT stage, count(*) FROM stage_runs GROUP BY stage").rows())
    assert stages == {"grafting": 3}  # the last one's pair stage too (nothing after it to graft from)
    losses = run_sql(store, "SELECT step FROM training_loss ORDER BY step")["step"].to_list()
    assert losses and losses[-1] <= 12  # the Trainer's log_history, stored


def test_the_trackers_get_the_stored_measures_at_each_checkpoints_step(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store = trained / "trajectory.duckdb"
    analysis = run_sql(store, "SELECT analysis_id FROM analyses").item()
    stored = revision_measures(store, analysis)
    assert {"trajectory/top1/all", "trajectory/active/head", "trajectory/roles/head/general"} <= set(stored["metric"])
    events = EventAccumulator(str(trained / "runs" / "trajectory"))
    events.Reload()
    logged = {(tag, e.step): e.value for tag in events.Tags()["scalars"] for e in events.Scalars(tag)}
    expected = {(metric, step): value for _, step, metric, value in stored.iter_rows()}
    assert logged.keys() == expected.keys()
    assert all(logged[k] == pytest.approx(expected[k], rel=1e-6, abs=1e-7) for k in expected)  # float32 in the event file


def test_export_writes_the_same_measures_to_tensorboard_after_the_fact(trained, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store = trained / "trajectory.duckdb"
    out = tmp_path / "tb"
    assert main(["export", "--db", str(store), "--tracker", "tensorboard", "--out", str(out)]) == 0
    events = EventAccumulator(str(out))
    events.Reload()
    analysis = run_sql(store, "SELECT analysis_id FROM analyses").item()
    stored = revision_measures(store, analysis)
    assert sum(len(events.Scalars(tag)) for tag in events.Tags()["scalars"]) == stored.height


def test_a_watch_told_to_finish_ends_as_until_would(tmp_path):
    """The finish signal on a watch with nothing new: it stops at once, with a line, exit 0."""
    run = tmp_path / "empty-run"
    run.mkdir()
    env = dict(os.environ)
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trajectory",
            "-q",
            "ingest",
            "-p",
            "reference-small",
            "--run-path",
            str(run),
            "--db",
            str(tmp_path / "w.duckdb"),
            "--watch",
            "--poll",
            "0.2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(200):  # until it says it waits
            line = watcher.stdout.readline()
            if "watch: waiting" in line:
                break
        from trajectory.pipeline.orchestrator import FINISH_SIGNAL

        watcher.send_signal(FINISH_SIGNAL)
        out, _ = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0 and "told to finish" in out
