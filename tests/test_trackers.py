"""`trajectory export --tracker trackio|wandb` (issue #40 item 3): each tracker's own store, read back without the
tracker (trackio's SQLite project file; W&B's offline run file, a LevelDB-style log of protobuf records), holds the
stored measures at their revisions' steps. Each export runs in its own process, as a user's would."""

from __future__ import annotations

import glob
import json
import os
import sqlite3
import struct
import subprocess
import sys

import pytest
from synthetic_store import write_synthetic_store

from trajectory.integrations.trackers import STEP_METRIC, revision_measures
from trajectory.store.query import run_sql

pytestmark = pytest.mark.slow


def _expected(db) -> dict[int, dict[str, float]]:
    analysis = run_sql(db, "SELECT analysis_id FROM analyses").item()
    per_step: dict[int, dict[str, float]] = {}
    for _, step, metric, value in revision_measures(db, analysis).iter_rows():
        per_step.setdefault(step, {})[metric] = value
    return per_step


def _export(db, tracker: str, env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "trajectory", "export", "--db", str(db), "--tracker", tracker, "--out", "trajectory-test"]
    subprocess.run(command, check=True, env={**os.environ, **env}, capture_output=True, timeout=300)


def test_export_to_trackio_logs_every_measure_at_its_step(tmp_path):
    pytest.importorskip("trackio")
    db = write_synthetic_store(tmp_path / "s.duckdb")
    _export(db, "trackio", {"TRACKIO_DIR": str(tmp_path / "trackio")})
    con = sqlite3.connect(tmp_path / "trackio" / "trajectory-test.db")
    logged = {step: json.loads(metrics) for step, metrics in con.execute("SELECT step, metrics FROM metrics")}
    con.close()
    expected = _expected(db)
    assert logged.keys() == expected.keys() and len(expected) >= 2
    for step, values in expected.items():
        assert logged[step] == pytest.approx(values)


def _wandb_records(path: str):
    """The records of a W&B run file: a 7-byte file header, then 32 KiB blocks of records, each a 7-byte header
    (checksum, length, type: 1 whole, 2 first, 3 middle, 4 last piece) and its bytes."""
    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    block, position, pending = 32768, 7, b""
    while position + 7 <= len(data):
        left = block - position % block
        if left < 7:
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if kind == 0:  # the block's padding
            position += left
            continue
        piece = data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind == 1:
            yield piece
        elif kind == 2:
            pending = piece
        elif kind == 3:
            pending += piece
        else:
            yield pending + piece
            pending = b""


def test_export_to_wandb_offline_logs_every_measure_at_its_step(tmp_path):
    pytest.importorskip("wandb")
    from wandb.proto import wandb_internal_pb2

    db = write_synthetic_store(tmp_path / "s.duckdb")
    _export(db, "wandb", {"WANDB_DIR": str(tmp_path), "WANDB_MODE": "offline", "WANDB_SILENT": "true"})
    (path,) = glob.glob(str(tmp_path / "wandb" / "offline-run-*" / "run-*.wandb"))
    logged = {}
    for raw in _wandb_records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            logged[row[STEP_METRIC]] = {k: v for k, v in row.items() if k.startswith("trajectory/") and k != STEP_METRIC}
    expected = _expected(db)
    assert logged.keys() == expected.keys() and len(expected) >= 2
    for step, values in expected.items():
        assert logged[step] == pytest.approx(values)
