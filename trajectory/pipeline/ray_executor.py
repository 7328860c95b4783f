"""The Ray executor: one Ray task per revision (download → load → trace → roles → the later stages,
trajectory.pipeline.revision), returning its rows through the object store. This process, the driver,
is the only writer of the store: it writes each finished revision's stages, each in its own
transaction, as the tasks end (``ray.wait``), in any order.

- Resources per task: GPUs (1 on a cluster with GPUs, else 0; a fraction shares a GPU, so that one
  revision downloads while another computes), CPUs, memory, and ``trajectory_disk_mb``, the megabytes
  its download writes, so that a node never downloads more than the budget it declares.
- Downloads: each task downloads into its own folder under the node's scratch folder and removes it at
  the end (folders of tasks whose process died are removed by the next task on the node); revisions
  already in the pipeline's cache are read in place and never touched.
- Faults: a task whose worker or node dies is retried by Ray (``max_retries``) and nothing of it is
  written before it ends; a revision that fails with an error is reported once and the others go on;
  an interrupted ingest resumes from what is stored.
- Without an address, a local cluster is started on the loopback interface only and stopped at the end.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import socket
import sys
import tempfile
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import polars as pl
from tqdm.auto import tqdm

from trajectory.config import ExecutorSection
from trajectory.errors import TrajectoryError
from trajectory.facts import ProbeSet
from trajectory.hub.protocol import Source
from trajectory.pipeline.revision import LoadedModels, RevisionJob, run_frame, run_job, with_stored_inputs
from trajectory.pipeline.sources import cache_source
from trajectory.pipeline.stages import StageWrite

if TYPE_CHECKING:
    from trajectory.config import PipelineConfig

log = logging.getLogger(__name__)
DISK_RESOURCE = "trajectory_disk_mb"
# Ray's single-machine mode (its default on macOS and Windows): the node's address is the loopback one, and
# every server of the cluster listens on it only. Read by Ray when it is imported.
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
TASK_FOLDER_PREFIX = "trajectory-task-"
INSTALL_HINT = "the Ray executor needs Ray: pip install -e '.[ray]' (or pip install ray)"


@dataclass(frozen=True)
class TaskContext:
    """What every task shares (put in the object store once)."""

    config: object  # PipelineConfig
    probes: ProbeSet
    run: pl.DataFrame  # the runs rows of this ingest
    scratch: str | None
    gpu_fraction: float


@dataclass
class TaskResult:
    revision: str
    writes: list[StageWrite]  # the stages computed, in order
    error: str | None  # a TrajectoryError that stopped the revision (the stages before it are in writes)


@dataclass(frozen=True)
class TaskPlan:
    """Resources of every task, and how many are submitted at once."""

    gpus: float
    cpus: float
    memory_bytes: int | None
    max_in_flight: int
    disk_budget_mb: float | None  # the largest node's; None: the cluster declares no disk resource
    max_retries: int

    def options(self, disk_mb: int) -> dict:
        resources = {DISK_RESOURCE: disk_mb} if self.disk_budget_mb is not None and disk_mb > 0 else {}
        options = dict(num_cpus=self.cpus, num_gpus=self.gpus, resources=resources, max_retries=self.max_retries, retry_exceptions=False)
        if self.memory_bytes:
            options["memory"] = self.memory_bytes
        return options


def plan_tasks(settings: ExecutorSection, total: dict[str, float], node_resources: list[dict[str, float]]) -> TaskPlan:
    """Task resources from the settings and the cluster's resources (``total``: the cluster's; ``node_resources``:
    each alive node's)."""
    gpus = settings.gpus_per_task if settings.gpus_per_task is not None else (1.0 if total.get("GPU", 0) >= 1 else 0.0)
    if gpus > 0 and total.get("GPU", 0) < gpus:
        raise TrajectoryError(f"--gpus-per-task {gpus:g}: the Ray cluster has {total.get('GPU', 0):g} GPUs; pass --gpus-per-task 0 for CPU")
    if settings.cpus_per_task > total.get("CPU", 0):
        raise TrajectoryError(f"--cpus-per-task {settings.cpus_per_task:g}: the Ray cluster has {total.get('CPU', 0):g} CPUs")
    slots = [n.get("CPU", 0) // settings.cpus_per_task if settings.cpus_per_task else math.inf for n in node_resources]
    if gpus > 0:
        slots = [min(s, n.get("GPU", 0) // gpus) for s, n in zip(slots, node_resources)]
    concurrent = int(sum(s for s in slots if s != math.inf)) or 1
    budgets = [n[DISK_RESOURCE] for n in node_resources if DISK_RESOURCE in n]
    memory = int(settings.memory_gb_per_task * 2**30) if settings.memory_gb_per_task else None
    return TaskPlan(
        gpus, settings.cpus_per_task, memory, settings.max_in_flight or concurrent, max(budgets) if budgets else None, settings.max_retries
    )


def disk_mb(source: Source, job: RevisionJob) -> int:
    """Megabytes the job's downloads write (its revision, and the next one for a pair stage), rounded up."""
    return math.ceil(sum(source.download_bytes(name) for name in job.downloads()) / 2**20)


def run_on_ray(
    config: PipelineConfig, db: Path, jobs: list[RevisionJob], probes: ProbeSet, analysis_ids: list[str], settings: ExecutorSection, progress: bool
) -> list[str]:
    """Run the jobs as Ray tasks; write each result as it arrives. Returns the failures, a line each."""

    with ray_cluster(settings, progress, scratch_budget_mb(settings.scratch)) as ray:
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        plan = plan_tasks(settings, ray.cluster_resources(), nodes)
        device = config.model.device if config.model.device != "auto" else ("cuda" if plan.gpus > 0 else "cpu")
        if device.startswith("cuda") and plan.gpus == 0:
            raise TrajectoryError(f"device {device} needs GPUs for the tasks: pass --gpus-per-task (the cluster has none, or 0 was asked)")
        if plan.disk_budget_mb is None:
            print(
                f"warning: the Ray cluster declares no {DISK_RESOURCE} resource: downloads are bounded by --max-in-flight "
                f"({plan.max_in_flight}) only (see docs/scaling.md)"
            )
        print(
            f"Ray: {len(nodes)} node(s), {plan.max_in_flight} revisions at a time, per task {plan.cpus:g} CPU, {plan.gpus:g} GPU"
            + (f", disk budget {plan.disk_budget_mb:,.0f} MB on the largest node" if plan.disk_budget_mb is not None else "")
        )
        run = run_frame(config, device, analysis_ids)
        context = ray.put(TaskContext(config, probes, run, settings.scratch, plan.gpus))
        task = ray.remote(revision_task)
        sizes = cache_source(config)
        queue, pending, failures = deque(jobs), {}, []
        bar = tqdm(total=len(jobs), desc="ingest", unit="rev", disable=not progress)
        try:
            while queue or pending:
                while queue and len(pending) < plan.max_in_flight:
                    job = queue.popleft()
                    try:
                        need = _disk_within_budget(sizes, job, plan)
                        job = with_stored_inputs(db, job)
                    except TrajectoryError as err:
                        _fail(failures, bar, job.revision.name, str(err))
                        continue
                    pending[task.options(**plan.options(need)).remote(context, job)] = job
                if not pending:
                    continue
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    job = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as err:  # retries spent on dead workers, or a bug in the task
                        _fail(failures, bar, job.revision.name, _ray_error_line(err))
                        continue
                    for write in result.writes:
                        bar.set_postfix_str(f"{write.revision}: write {write.stage}")
                        write.write(db)
                        bar.write(write.log_line())
                    if result.error:
                        _fail(failures, bar, job.revision.name, result.error, advance=False)
                    bar.update(1)
                    sys.stdout.flush()
        finally:
            bar.close()
            for ref in pending:  # an interrupted driver: stop what it will not write
                ray.cancel(ref, force=True)
    return failures


def _disk_within_budget(sizes: Source, job: RevisionJob, plan: TaskPlan) -> int:
    """The job's disk need in MB; one larger than every node's budget would wait forever: refused."""
    need = disk_mb(sizes, job)
    if plan.disk_budget_mb is not None and need > plan.disk_budget_mb:
        raise TrajectoryError(
            f"{job.revision.name} needs {need:,} MB of scratch; the largest node declares {plan.disk_budget_mb:,.0f} MB ({DISK_RESOURCE})"
        )
    return need


def _fail(failures: list[str], bar: tqdm, revision: str, message: str, advance: bool = True) -> None:
    failures.append(f"{revision}: {message}")
    bar.write(f"error: {revision}: {message}")
    if advance:
        bar.update(1)


def _ray_error_line(err: BaseException) -> str:
    cause = getattr(err, "cause", None)
    if cause is not None:
        err = cause
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1] if lines else ''}".rstrip(": ")


# -- the task ---------------------------------------------------------------------------------


class TaskLog:
    """The progress bar's stand-in inside a task: each stage change is one line of the worker's output,
    which Ray shows in the driver's log with the task's process id."""

    def __init__(self) -> None:
        self.last: str | None = None

    def set_postfix_str(self, text: str) -> None:
        if text != self.last:
            self.last = text
            print(text, flush=True)

    def write(self, text: str) -> None:
        print(text, flush=True)


def revision_task(context: TaskContext, job: RevisionJob) -> TaskResult:
    """One revision's stages on a worker; a TrajectoryError ends the revision and is returned, not raised
    (Ray retries only dead workers)."""
    config = context.config
    device = config.resolved_device()  # in the worker: CUDA only when Ray gave this task a GPU
    if device.startswith("cuda") and 0 < context.gpu_fraction < 1 and config.ifr.memory_gb is None:
        config = config.with_overrides({"ifr.memory_gb": _shared_gpu_budget_gb(device, context.gpu_fraction)})
    bar = TaskLog()
    writes: list[StageWrite] = []
    error = None
    try:
        with task_source(config, job.downloads(), context.scratch) as source:
            for name in job.downloads():
                bar.set_postfix_str(f"{name}: download")
                source.download(name)
            models = LoadedModels(source, device)
            for write in run_job(config, job, models, context.probes, context.run, device, bar, set()):
                writes.append(write)
    except TrajectoryError as err:
        error = str(err)
    return TaskResult(job.revision.name, writes, error)


def _shared_gpu_budget_gb(device: str, fraction: float) -> float:
    """The trace's memory budget on a GPU this task shares: its fraction of the device, less what it holds."""
    import torch

    total = torch.cuda.get_device_properties(torch.device(device)).total_memory
    return max(0.8 * fraction * total - torch.cuda.memory_allocated(torch.device(device)), 2**30) / 2**30


def scratch_root(scratch: str | None) -> Path:
    return Path(scratch or os.environ.get("TRAJECTORY_SCRATCH") or tempfile.gettempdir()).expanduser()


@contextmanager
def task_source(config: PipelineConfig, names: list[str], scratch: str | None) -> Iterator[Source]:
    """The source a task reads ``names`` from: the pipeline's cache when all of them are on disk there
    (read in place, never deleted), else a cache folder of its own under the node's scratch folder, removed
    when the task ends."""
    cached = cache_source(config)
    if all(cached.is_on_disk(name) for name in names):
        yield cached
        return
    root = scratch_root(scratch)
    _remove_orphans(root)
    folder = root / f"{TASK_FOLDER_PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        yield cache_source(config, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_orphans(root: Path) -> None:
    """Remove the download folders of this host's tasks whose process is gone (a worker killed mid-download)."""
    prefix = f"{TASK_FOLDER_PREFIX}{socket.gethostname()}-"
    for folder in root.glob(f"{prefix}*"):
        pid = folder.name[len(prefix) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the cluster ------------------------------------------------------------------------------


def scratch_budget_mb(scratch: str | None) -> int:
    """A local node's disk budget: 90 % of the scratch folder's free space."""
    root = scratch_root(scratch)
    root.mkdir(parents=True, exist_ok=True)
    return math.floor(0.9 * shutil.disk_usage(root).free / 2**20)


def import_ray(local: bool) -> ModuleType:
    """Ray, imported now (an optional dependency); ``local``: in its loopback-only mode."""
    if "ray" not in sys.modules:
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")  # stage lines of different revisions differ only in numbers
        if local:
            os.environ.setdefault(LOCAL_ONLY_ENV, "0")
    try:
        import ray
    except ImportError:
        raise TrajectoryError(INSTALL_HINT) from None
    return ray


@contextmanager
def ray_cluster(settings: ExecutorSection, progress: bool, disk_budget_mb: float) -> Iterator[None]:
    """Ray connected to ``settings.address``, or to a new local cluster listening on 127.0.0.1 only (with
    a disk budget of ``disk_budget_mb``), stopped at the end with all its processes."""
    local = settings.address is None
    # A cluster on this machine's loopback interface (one started in the same mode) is reached in that mode too.
    ray = import_ray(local or _is_loopback(settings.address.rsplit(":", 1)[0]))
    if ray.is_initialized():
        raise TrajectoryError("Ray is already initialised in this process; run the ingest in a fresh one")
    # A local cluster's notices (its token file, for one) are Ray's business; a remote one's warnings are the user's.
    kwargs = dict(include_dashboard=False, log_to_driver=progress, logging_level=logging.ERROR if local else logging.WARNING)
    try:
        if local:
            ray.init(address="local", resources={DISK_RESOURCE: disk_budget_mb}, **kwargs)
        else:
            ray.init(address=settings.address, **kwargs)
    except ConnectionError as err:
        raise TrajectoryError(f"cannot connect to the Ray cluster at {settings.address}: {err}") from None
    try:
        if local and not _is_loopback(ray.util.get_node_ip_address()):
            raise TrajectoryError(
                f"the local Ray cluster listens on {ray.util.get_node_ip_address()}, not 127.0.0.1 (Ray was "
                f"imported before trajectory could set {LOCAL_ONLY_ENV}=0); start the ingest in a fresh process"
            )
        yield ray
    finally:
        ray.shutdown()


def _is_loopback(address: str) -> bool:
    return address in ("127.0.0.1", "::1", "localhost")
