"""The Ray executor: task resources, per-task download folders, and the small reference ingested for real
through a 2-CPU local Ray cluster — a worker killed mid-task by its pid, a broken revision reported once
while the others go on, the store equal row for row to the in-process one, every server on the loopback
interface, and no process left behind.

The Ray tests need the ``ray`` extra; they are skipped without it, unless TRAJECTORY_REQUIRE_RAY=1 (CI),
where a missing Ray is a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from trajectory.config import ExecutorSection
from trajectory.errors import TrajectoryError
from trajectory.pipeline import ray_executor
from trajectory.pipeline.ray_executor import DISK_RESOURCE, disk_mb, plan_tasks, task_source
from trajectory.store.db import INTERVAL_TABLES

# Columns that say when and how long, not what: they differ between any two ingests.
VOLATILE = {"run_id", "started_at", "seconds", "ingested_at", "finished_at", "applied_at", "created_at"}


# -- task resources ---------------------------------------------------------------------------


def test_tasks_take_a_whole_gpu_on_a_gpu_cluster_and_none_on_a_cpu_one():
    gpu_node = {"CPU": 16.0, "GPU": 2.0, DISK_RESOURCE: 50_000.0}
    plan = plan_tasks(ExecutorSection(), {"CPU": 32.0, "GPU": 4.0}, [gpu_node, gpu_node])
    assert (plan.gpus, plan.cpus, plan.max_in_flight, plan.disk_budget_mb) == (1.0, 1.0, 4, 50_000.0)
    assert plan.options(30_000) == dict(num_cpus=1.0, num_gpus=1.0, resources={DISK_RESOURCE: 30_000}, max_retries=3, retry_exceptions=False)
    shared = plan_tasks(
        ExecutorSection(gpus_per_task=0.5, cpus_per_task=2, memory_gb_per_task=40, max_retries=1), {"CPU": 32.0, "GPU": 4.0}, [gpu_node, gpu_node]
    )
    assert shared.max_in_flight == 8 and shared.options(0) == dict(
        num_cpus=2, num_gpus=0.5, resources={}, max_retries=1, retry_exceptions=False, memory=40 * 2**30
    )
    cpu = plan_tasks(ExecutorSection(cpus_per_task=2), {"CPU": 5.0}, [{"CPU": 3.0}, {"CPU": 2.0}])
    assert (cpu.gpus, cpu.max_in_flight, cpu.disk_budget_mb) == (0.0, 2, None)
    assert cpu.options(10)["resources"] == {}  # no disk resource declared: none asked for
    assert plan_tasks(ExecutorSection(max_in_flight=3), {"CPU": 2.0}, [{"CPU": 2.0}]).max_in_flight == 3
    with pytest.raises(TrajectoryError, match="has 0 GPUs"):
        plan_tasks(ExecutorSection(gpus_per_task=1), {"CPU": 2.0}, [{"CPU": 2.0}])
    with pytest.raises(TrajectoryError, match="has 2 CPUs"):
        plan_tasks(ExecutorSection(cpus_per_task=4), {"CPU": 2.0}, [{"CPU": 2.0}])


def test_a_task_asks_for_the_megabytes_of_what_it_downloads():
    from trajectory.hub.revisions import Revision
    from trajectory.pipeline.revision import RevisionJob

    class Sizes:  # a source that knows the Hub's sizes
        def download_bytes(self, name: str) -> int:
            return {"a": 3 * 2**20 + 1, "b": 2**20}[name]

    a, b = Revision("a", 1, None), Revision("b", 2, None)
    assert disk_mb(Sizes(), RevisionJob(a, 0, b, {"ifr": ("x",), "grafting": ()})) == 4  # its own revision only
    assert disk_mb(Sizes(), RevisionJob(a, 0, b, {"ifr": (), "grafting": ("x",)})) == 5  # and the donor for the pair
    assert disk_mb(Sizes(), RevisionJob(a, 0, None, {"grafting": ("x",)})) == 4  # the last revision has none
    plan = plan_tasks(ExecutorSection(), {"CPU": 2.0}, [{"CPU": 2.0, DISK_RESOURCE: 4.0}])
    assert ray_executor._disk_within_budget(Sizes(), RevisionJob(a, 0, None, {"ifr": ("x",)}), plan) == 4
    with pytest.raises(TrajectoryError, match="a needs 5 MB of scratch; the largest node declares 4 MB"):
        ray_executor._disk_within_budget(Sizes(), RevisionJob(a, 0, b, {"grafting": ("x",)}), plan)  # would wait forever


# -- download folders -------------------------------------------------------------------------


def test_cached_revisions_are_read_in_place_and_downloads_go_to_a_folder_removed_at_the_end(small_suite, tmp_path):
    from trajectory.config import load_pipeline

    config = load_pipeline("reference-small")
    names = small_suite.revisions[:2]
    with task_source(config, names, str(tmp_path)) as source:
        assert source.cache_dir == config.model.cache_dir and all(source.is_on_disk(n) for n in names)
    assert list(tmp_path.iterdir()) == []  # nothing made for cached revisions
    # An orphan: the folder of a task on this host whose process is gone.
    orphan = tmp_path / f"trajectory-task-{socket.gethostname()}-{_dead_pid()}-deadbeef"
    (orphan / "blobs").mkdir(parents=True)
    missing = ["step999999"]  # not in the cache: the task gets a folder of its own
    with pytest.raises(RuntimeError, match="mid-task"):
        with task_source(config, missing, str(tmp_path)) as source:
            folder = Path(source.cache_dir)
            assert folder.parent == tmp_path and folder.name.startswith(f"trajectory-task-{socket.gethostname()}-{os.getpid()}-")
            shutil.copytree(small_suite.cache_dir, folder, dirs_exist_ok=True)  # what a download would write
            assert not orphan.exists()  # swept when the task started
            raise RuntimeError("the task fails mid-task")
    assert list(tmp_path.iterdir()) == []  # removed even so
    assert all(config.model.cache_dir.joinpath(p).exists() for p in os.listdir(config.model.cache_dir))  # the cache untouched


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_missing_ray_is_one_line_that_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(TrajectoryError, match=re.escape("pip install -e '.[ray]'")):
        ray_executor.import_ray(local=True)


# -- the ablation stage's inputs, stored or just computed ------------------------------------------


def test_ablation_inputs_computed_from_the_ifr_rows_equal_those_read_back_from_the_store(small_suite, tmp_path):
    """A Ray task feeds its ablation stage the IFR rows it has just computed; the in-process path, on a
    resume, the stored ones. Both readings are the same SQL and must agree row for row."""
    from trajectory.config import load_pipeline
    from trajectory.facts import load_probe_set
    from trajectory.pipeline.orchestrator import pipeline_analyses
    from trajectory.pipeline.revision import LoadedModels, run_frame
    from trajectory.pipeline.sources import open_source, selected_revisions
    from trajectory.pipeline.stages.ablation import ablation_inputs, computed_ablation_inputs
    from trajectory.pipeline.stages.ifr import ifr_revision
    from trajectory.store.analyses import register
    from trajectory.store.db import transaction, writer

    config = load_pipeline("reference-small")
    probes = load_probe_set(config.probe.facts)
    analyses = pipeline_analyses(config, probes)
    source = open_source(config, progress=False)
    revision = selected_revisions(config, source, "main")[0]
    db = tmp_path / "a.duckdb"
    with writer(db) as con, transaction(con):
        register(con, probes, probes.name, analyses)
    ids = [a.analysis_id for a in analyses]
    write = ifr_revision(config, LoadedModels(source, "cpu"), revision, 4, probes, analyses, run_frame(config, "cpu", ids), "cpu", _NoBar(), set())
    computed = computed_ablation_inputs(write)
    write.write(db)
    stored = ablation_inputs(db, revision.name, ids)
    assert set(computed) == set(stored) == set(ids)
    for a in ids:  # each analysis's per-root circuit rows
        mine, theirs = computed[a], stored[a]
        assert mine.height > 0
        assert_frame_equal(mine.sort(mine.columns), theirs.sort(theirs.columns))


class _NoBar:
    def set_postfix_str(self, text: str) -> None:
        pass

    def write(self, text: str) -> None:
        pass


# -- the real thing: a local Ray cluster --------------------------------------------------------


def _require_ray() -> None:
    if importlib.util.find_spec("ray") is None:
        if os.environ.get("TRAJECTORY_REQUIRE_RAY") == "1":
            pytest.fail("ray is required (TRAJECTORY_REQUIRE_RAY=1): pip install -e '.[ray]'")
        pytest.skip("ray not installed (pip install -e '.[ray]')")


def _descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process under ``root`` (Ray's servers and workers, for the driver)."""
    parent, command = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            parent[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        for child, up in parent.items():
            if up == pid and child not in found:
                found[child] = command.get(child, "")
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


RAY_SERVERS = re.compile(r'users:\(\("(gcs_server|raylet|ray::[^"]*|python[^"]*)",pid=(\d+),')


class ClusterWatch(threading.Thread):
    """While the ingest runs: record Ray's processes (this process's descendants) and the sockets that Ray's
    servers listen on, and kill (SIGKILL) the first worker seen running a revision task."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[int, str] = {}
        self.killed: tuple[int, str] | None = None
        self.listening: dict[str, str] = {}  # ss line -> the process's name
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll()
            except Exception as err:  # a failed poll must fail the test, not end the watch silently
                self.errors.append(repr(err))
            time.sleep(0.1)

    def poll(self) -> None:
        processes = _descendants(os.getpid())
        self.seen.update(processes)
        if self.killed is None:
            for pid, command in processes.items():
                if command.startswith("ray::revision_task"):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                        self.killed = (pid, command)
                    break
        for line in subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout.splitlines():
            match = RAY_SERVERS.search(line)
            pid = int(match[2]) if match else 0
            if match and (not match[1].startswith("python") or pid in processes or pid == os.getpid()):  # the driver is this process
                self.listening[line] = match[1]
                if pid != os.getpid():
                    self.seen.setdefault(pid, match[1])


BROKEN = "step8-tokens3K"  # its weights replaced by bytes that are no checkpoint: its task fails, the others go on


@pytest.mark.slow
def test_the_small_reference_through_ray_equals_the_in_process_store_with_a_worker_killed(small_store, small_suite, tmp_path, capsys):
    _require_ray()
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is needed to check the listening sockets")
    from trajectory.config import load_pipeline
    from trajectory.hub.source import RevisionSource, repo_folder
    from trajectory.pipeline.orchestrator import ingest

    config = load_pipeline("reference-small")
    cache = tmp_path / "hub"  # a copy of the suite's cache with one revision broken
    shutil.copytree(repo_folder(small_suite.cache_dir, config.repo_id), repo_folder(cache, config.repo_id), symlinks=True)
    weights = RevisionSource(config.repo_id, cache_dir=cache, offline=True).snapshot_dir(BROKEN) / "model.safetensors"
    weights.unlink()
    weights.write_bytes(b"not a checkpoint")
    config = config.with_overrides(
        {"model.cache_dir": cache, "executor.kind": "ray", "executor.max_retries": 1, "executor.scratch": str(tmp_path / "scratch")}
    )
    db = tmp_path / "ray.duckdb"
    watch = ClusterWatch()
    watch.start()
    try:
        assert ingest(config, db, progress=False) == 1  # one revision failed
    finally:
        watch.stop.set()
        watch.join()
    out, err = capsys.readouterr()
    assert "on Ray" in out and "1 of 5 revisions failed" in err
    # The broken revision is reported once, with what failed; the others are stored.
    reports = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(reports) == 1 and reports[0].startswith(f"error: {BROKEN}: cannot load"), reports
    # A worker was killed mid-task and its revision retried: the rest of the store is complete, nothing doubled.
    assert watch.killed is not None, "no revision task was seen running"
    _assert_same_store(small_store, db, without=BROKEN)
    assert not watch.errors, watch.errors
    # Every server of the local cluster listened on the loopback interface only.
    assert {"gcs_server", "raylet"} <= set(watch.listening.values()), watch.listening
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in watch.listening}
    assert addresses <= {"127.0.0.1", "[::ffff:127.0.0.1]", "[::1]"}, watch.listening
    # The cluster is gone: none of its processes is left.
    left = {pid: command for pid, command in watch.seen.items() if _alive(pid)}
    assert not left, left
    assert not list((tmp_path / "scratch").glob("trajectory-task-*"))


def _assert_same_store(expected_db: Path, actual_db: Path, without: str) -> None:
    """Every table row for row but the rows of revision ``without`` (none stored), and for when and how
    long: the same keys, texts and integers; floats to float32 rounding (a Ray worker sums with another
    thread count than this process). The driver's own rows (fact_frequency) cover every revision."""
    expected, actual = _tables(expected_db), _tables(actual_db)
    assert set(expected) == set(actual)
    for name, frame in expected.items():
        if name in INTERVAL_TABLES:  # summaries over all revisions: the Ray store lacks one, so they differ by design
            assert actual[name].height == 0 if name == "template_roles" else actual[name].height, name  # one template each
            continue
        if "revision" in frame.columns and name != "fact_frequency":
            assert without not in actual[name]["revision"].to_list(), name
            frame = frame.filter(pl.col("revision") != without)
        assert frame.shape == actual[name].shape, name
        try:
            assert_frame_equal(frame, actual[name], check_exact=False, rel_tol=1e-5, abs_tol=1e-6)
        except AssertionError as err:
            raise AssertionError(f"table {name}: {err}") from None


def _tables(db: Path) -> dict[str, pl.DataFrame]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        tables = {}
        for name in names:
            frame = pl.from_arrow(con.sql(f"SELECT * FROM {name}").to_arrow_table())
            frame = frame.drop([c for c in frame.columns if c in VOLATILE])
            tables[name] = frame.sort(frame.columns, nulls_last=True) if frame.height else frame
        return tables
    finally:
        con.close()


def test_disk_budget_of_a_local_cluster_is_whole_megabytes(tmp_path):
    budget = ray_executor.scratch_budget_mb(str(tmp_path))
    assert isinstance(budget, int) and 0 < budget <= math.ceil(shutil.disk_usage(tmp_path).free / 2**20)


def test_a_pipeline_declares_its_executor_and_bad_values_name_the_key(tmp_path):
    from trajectory.config import load_pipeline

    good = tmp_path / "ray.toml"
    good.write_text(
        '[model]\nrepo = "a/b"\n[executor]\nkind = "ray"\naddress = "10.0.0.1:6379"\ngpus_per_task = 0.5\n'
        'cpus_per_task = 4\nmax_in_flight = 8\nmax_retries = 2\nscratch = "/scratch/me"\n'
    )
    settings = load_pipeline(good).executor
    assert settings == ExecutorSection("ray", "10.0.0.1:6379", 0.5, 4, None, 8, 2, "/scratch/me")
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nrepo = "a/b"\n[executor]\nkind = "slurm"\n')
    with pytest.raises(TrajectoryError, match="executor.kind must be one of in-process, ray"):
        load_pipeline(bad)
    bad.write_text('[model]\nrepo = "a/b"\n[executor]\nmax_in_flight = 0\n')
    with pytest.raises(TrajectoryError, match="executor.max_in_flight must be positive"):
        load_pipeline(bad)
