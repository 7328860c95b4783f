"""The one orchestrator: run a pipeline's revisions end to end into the store.

Per revision: download (overlapping the previous revision's processing) → load → trace all prompts
once → for every analysis of the pipeline (one per τ, θ, FFN renormalisation): accuracy, role scores
and roles → write all of them in one transaction → (with ``grafting.enabled``) the grafting stage: the
revision as recipient, the next selected one as donor → (with ``extractive.enabled``) the extractive
stage: the update to the next selected revision and the OCR experiment → release the checkpoint
(trajectory.pipeline.revision). Each stage's rows of a revision are written in their own transaction,
by this process only. Each stage an analysis has stored for a revision is skipped on a re-run; a failing
revision is reported and the others go on.

Executors: in this process (the default), or one Ray task per revision (``executor = "ray"``,
trajectory.pipeline.ray_executor), whose results this process writes as they arrive.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from trajectory.config import (
    DEPRECATED_FFN_NAMES,
    FFN_RENORMALISATIONS,
    PipelineConfig,
    load_pipeline,
    optional_stages,
    parse_choices,
    parse_fractions,
)
from trajectory.errors import StoreWriteError, TrajectoryError
from trajectory.facts import ProbeSet, load_probe_set
from trajectory.hub.protocol import Source
from trajectory.hub.revisions import Revision, order_revisions, parse_revision
from trajectory.hub.run_folder import RunFolderSource
from trajectory.hub.source import find_duplicates
from trajectory.pipeline.frequency import frequency_frame, published_counts
from trajectory.pipeline.intervals import IntervalSettings, store_intervals
from trajectory.pipeline.ray_executor import run_on_ray
from trajectory.pipeline.revision import LoadedModels, RevisionJob, run_frame, run_job, with_stored_inputs
from trajectory.pipeline.sources import name_pattern, open_source, selected_revisions
from trajectory.pipeline.stages import PAIR_STAGES, chosen_pair_stage, enabled_stages
from trajectory.pipeline.training_loss import published_losses
from trajectory.store.analyses import Analysis, register
from trajectory.store.db import (
    check_store,
    finished_pairs,
    finished_revisions,
    forget_pairs,
    ingest_lock,
    reader,
    replace_frequency,
    replace_training_loss,
    transaction,
    writer,
)
from trajectory.store.query import run_sql

if TYPE_CHECKING:
    import polars as pl

    from trajectory.config import ExecutorSection

log = logging.getLogger(__name__)


def run_ingest(args: argparse.Namespace, progress: bool) -> int:
    overrides = {
        "model.device": args.device,
        "model.dtype": args.dtype,
        "ifr.batch_size": args.batch_size,
        "probe.facts": args.facts,
        **{f"{stage}.enabled": getattr(args, stage) for stage, _ in optional_stages()},
        "ifr.threshold": parse_fractions(args.tau, "--tau") if args.tau else None,
        "roles.theta": parse_fractions(args.theta, "--theta") if args.theta else None,
        "ifr.ffn_renormalisation": parse_choices(args.ffn_renormalisation, FFN_RENORMALISATIONS, "--ffn-renormalisation", DEPRECATED_FFN_NAMES)
        if args.ffn_renormalisation
        else None,
        "executor.kind": args.executor or ("ray" if args.address else None),  # an address means Ray
        "executor.address": args.address,
        "executor.gpus_per_task": args.gpus_per_task,
        "executor.cpus_per_task": args.cpus_per_task,
        "executor.memory_gb_per_task": args.memory_per_task,
        "executor.max_in_flight": args.max_in_flight,
        "executor.max_retries": args.max_retries,
        "executor.scratch": args.scratch,
    }
    config = load_pipeline(args.pipeline).with_overrides({key: value for key, value in overrides.items() if value is not None})
    if args.facts:
        config = replace(config, probe=replace(config.probe, name=None))  # the pipeline's probe.name named its own facts
    if args.run_path:  # the pipeline's settings over a training run's checkpoint folders instead of its model
        run = Path(args.run_path).expanduser()
        config = config.with_overrides(
            {
                "model.suite": None,
                "model.cache_dir": None,
                "model.path": run,
                "model.offline": True,
                "model.suite_seed": 0,
                "model.repo": args.model_name or f"run/{run.resolve().name}",
            }
        )
    elif args.model_name:
        raise TrajectoryError("--model-name names a run folder's model in the store: add --run-path")
    if args.seed is not None:
        config = config.with_seed(args.seed)
    pair = parse_pair(args.graft_pair) if args.graft_pair else None
    finish_file = Path(args.finish_file) if args.finish_file else None
    watch = Watch(args.until, args.idle_timeout, args.poll, finish_file) if args.watch else None
    if not args.watch and (args.until is not None or args.idle_timeout is not None or args.finish_file):
        raise TrajectoryError("--until, --idle-timeout and --finish-file end a watch: add --watch")
    return ingest(config, Path(args.db), spec=args.revisions, force=args.force, progress=progress, graft_pair=pair, watch=watch)


def parse_pair(text: str) -> tuple[str, str]:
    names = [part.strip() for part in text.split(",")]
    if len(names) != 2 or not all(names) or names[0] == names[1]:
        raise TrajectoryError(f"--graft-pair takes two different revisions, RECIPIENT,DONOR; got {text!r}")
    return names[0], names[1]


def pipeline_analyses(config: PipelineConfig, probes: ProbeSet) -> list[Analysis]:
    """One analysis per (τ, FFN renormalisation, θ) of the pipeline."""
    name = config.probe.name or probes.name
    return [Analysis(config.repo_id, probes.content_hash, name, tau, theta, ffn, config.model.dtype) for tau, ffn, theta in config.settings()]


@dataclass(frozen=True)
class Watch:
    """``ingest --watch``: follow a run while it trains. Stops after the checkpoint at step ``until`` (its pair
    stages done as a batch ingest would), after ``idle_s`` seconds without a new checkpoint, once ``finish_file``
    exists or on :data:`FINISH_SIGNAL` (as ``until`` the newest complete checkpoint would), or on Ctrl-C."""

    until: int | None = None
    idle_s: float | None = None
    poll_s: float = 5.0
    finish_file: Path | None = None  # a file another process creates to end the watch (no race with its start-up)


def ingest(
    config: PipelineConfig,
    db: Path,
    *,
    spec: str | None = None,
    force: bool = False,
    progress: bool = True,
    graft_pair: tuple[str, str] | None = None,
    watch: Watch | None = None,
) -> int:
    """Ingest the pipeline's revisions into its analyses (found or created in the store). Resume and
    ``force`` act within these analyses only; a revision is traced once for all of them. With
    ``graft_pair`` (recipient, donor), only the grafting stage runs, for that pair. With ``watch``, keep
    ingesting new checkpoints as they complete (:func:`_watch_loop`)."""
    if watch is not None and (graft_pair is not None or config.executor.kind == "ray"):
        raise TrajectoryError("--watch runs in this process, over consecutive revisions: not with --graft-pair or the Ray executor")
    probes = load_probe_set(config.probe.facts)
    analyses = pipeline_analyses(config, probes)
    check_store(db)  # a directory, a read-only file, a file that is no store: say so before any work
    if config.executor.kind != "ray":  # a Ray task picks its device on its node
        config.resolved_device()  # a device this machine lacks: say so now, not after the first download
    source = open_source(config, progress=progress)
    if graft_pair is not None:
        chosen = selected_revisions(config, source, ",".join(graft_pair))
        if len(chosen) != 2:
            raise TrajectoryError(f"--graft-pair: {', '.join(graft_pair)} are not two revisions of {config.repo_id} (see trajectory revisions)")
        recipient, donor = (next(r for r in chosen if r.name == name) for name in graft_pair)
    elif watch is None:
        chosen = selected_revisions(config, source, spec)
    with ingest_lock(db):
        with writer(db) as con, transaction(con):
            names = register(con, probes, config.probe.name or probes.name, analyses)
        if watch is not None:
            with _finish_signal() as finishing:
                return _watch_loop(config, db, source, spec, probes, analyses, names, force, progress, watch, finishing)
        _store_published(config, db, source, probes)
        if graft_pair is not None:
            return _graft_pair_locked(config, db, source, recipient, donor, probes, analyses, force, progress)
        executor = config.executor if config.executor.kind == "ray" else None
        return _ingest_locked(config, db, source, chosen, probes, analyses, names, force, progress, executor)


def _store_published(config: PipelineConfig, db: Path, source: Source, probes: ProbeSet) -> None:
    """What the revisions publish beside their weights: the facts' counts in the corpus and the training loss."""
    revisions = source.list_revisions()
    frequency = frequency_frame(config, probes, published_counts(source, revisions))
    if frequency is not None:
        replace_frequency(db, frequency)
    losses = published_losses(source, config.repo_id, revisions)
    if losses is not None:
        replace_training_loss(db, losses)


FINISH_SIGNAL = getattr(signal, "SIGUSR1", None)  # a watch told to finish: what is complete now is the last (no Windows)


@contextmanager
def _finish_signal() -> Iterator[threading.Event]:
    """An event set by :data:`FINISH_SIGNAL` (sent by trajectory.integrations.trainer when training ends) while the
    watch runs, the previous handler restored after (only the main thread may install one)."""
    finishing = threading.Event()
    previous = None
    if FINISH_SIGNAL is not None and threading.current_thread() is threading.main_thread():
        previous = signal.signal(FINISH_SIGNAL, lambda signum, frame: finishing.set())
    try:
        yield finishing
    finally:
        if previous is not None:
            signal.signal(FINISH_SIGNAL, previous)


def _watch_loop(
    config: PipelineConfig,
    db: Path,
    source: Source,
    spec: str | None,
    probes: ProbeSet,
    analyses: list[Analysis],
    names: dict[str, str],
    force: bool,
    progress: bool,
    watch: Watch,
    finishing: threading.Event,
) -> int:
    """Ingest the complete checkpoints, then each new one as it completes. The pair stages of the newest
    revision wait for its successor (or for the end at ``until``), so that they are computed once, with
    it. The store is opened only to write a stage, so it stays queryable (and ``serve`` current).
    ``finishing`` (:func:`_finish_signal`) or the watch's finish file ends it as ``until`` the newest complete
    checkpoint would: the checkpoints complete by then, their pair stages, the intervals."""
    ingested: list[str] = []
    failed, waiting_for, last_new = 0, None, time.monotonic()
    run = run_frame(config, config.resolved_device(), [a.analysis_id for a in analyses])
    while True:
        # Read before listing: the checkpoints complete now are the last.
        finish = finishing.is_set() or (watch.finish_file is not None and watch.finish_file.exists())
        try:
            chosen = selected_revisions(config, source, spec)
        except TrajectoryError as err:  # nothing complete yet, or nothing the selection names yet
            if "selects nothing" not in str(err) and "no revisions" not in str(err):
                raise
            chosen = []
        reached = watch.until is not None and any(r.step is not None and r.step >= watch.until for r in chosen)
        if watch.until is not None:
            chosen = [r for r in chosen if r.step is None or r.step <= watch.until]
            # Every checkpoint up to `until` is complete once one at or beyond it is, and none up to it is still written.
            writing = [parse_revision(name, name_pattern(config)).step for name in source.pending()]
            reached = reached and not any(step is not None and step <= watch.until for step in writing)
        ended = finish or reached
        if chosen and ([r.name for r in chosen] != ingested or finish):
            _store_published(config, db, source, probes)
            failed |= _ingest_locked(
                config, db, source, chosen, probes, analyses, names, force and not ingested, progress, None, hold_last_pairs=not ended, run=run
            )
            ingested, waiting_for, last_new = [r.name for r in chosen], None, time.monotonic()
        if ended:
            print(
                "watch: told to finish; stopping after the checkpoints complete by then"
                if finish
                else f"watch: reached step {watch.until}; stopping",
                flush=True,
            )
            return failed
        if watch.idle_s is not None and time.monotonic() - last_new > watch.idle_s:
            print(
                f"watch: no new checkpoint for {watch.idle_s:g} s; stopping (the newest revision's pair stages wait for its "
                "successor: the next ingest does them)",
                flush=True,
            )
            return failed
        pending = source.pending()
        state = (ingested[-1] if ingested else None, tuple(pending))
        if state != waiting_for:  # one line per change of what it waits for
            waiting_for = state
            after = f"the checkpoint after {ingested[-1]}" if ingested else "the first complete checkpoint"
            writing = f"; being written: {', '.join(pending)}" if pending else ""
            print(f"watch: waiting for {after} in {source.location} ({len(ingested)} ingested{writing}; Ctrl-C stops)", flush=True)
        finishing.wait(watch.poll_s)


def _graft_pair_locked(
    config: PipelineConfig,
    db: Path,
    source: Source,
    recipient: Revision,
    donor: Revision,
    probes: ProbeSet,
    analyses: list[Analysis],
    force: bool,
    progress: bool,
) -> int:
    pair_stage = chosen_pair_stage()
    stage = f"{pair_stage.name}:{donor.name}"  # a chosen pair's mark, apart from the consecutive pair's
    ids = [a.analysis_id for a in analyses]
    done = {a: set() for a in ids} if force else finished_revisions(db, ids, stage)
    needed = [a for a in analyses if recipient.name not in done[a.analysis_id]]
    if not needed:
        print(f"the pair {recipient.name} -> {donor.name} is stored; --force redoes it")
        return 0
    models = LoadedModels(source, config.resolved_device())
    kept: list[str] = []
    try:
        with tqdm(total=1, desc="graft", unit="pair", disable=not progress) as bar:
            write = pair_stage.run_chosen_pair(config, models, recipient, donor, probes, needed, models.device, bar, stage)
            write.write(db)
            bar.write(f"stored {recipient.name} -> {donor.name} ({pair_stage.name}): {write.summary}")
            bar.update(1)
    finally:
        for name in (recipient.name, donor.name):
            _release(source, name, config.cache.keep_revisions, kept)
    return 0


def _ingest_locked(
    config: PipelineConfig,
    db: Path,
    source: Source,
    chosen: list[Revision],
    probes: ProbeSet,
    analyses: list[Analysis],
    names: dict[str, str],
    force: bool,
    progress: bool,
    executor: ExecutorSection | None,
    hold_last_pairs: bool = False,
    run: pl.DataFrame | None = None,
) -> int:
    """The chosen revisions' missing stages. ``hold_last_pairs``: the last revision's pair stages wait (its
    successor is still to come: a watched run). ``run``: the runs rows to store (one watch is one run)."""
    listed = source.list_revisions()
    stored = _stored_revisions(db, config.repo_id)
    timeline = _timeline(config, db, listed, stored, run_folder=isinstance(source, RunFolderSource))
    all_names = [r.name for r in timeline]
    _check_unchanged(stored, source, chosen, force)
    ids = [a.analysis_id for a in analyses]
    stages = enabled_stages(config)
    # A pair stage pairs consecutive steps: the chosen revisions and those stored before, in step order (a selection
    # narrower than the store's keeps its stored pairs). A revision whose successor is stored but gone from the source
    # (a rotated checkpoint) keeps its pair undone, said once.
    on_disk = {r.name for r in listed} | ({r.name for r in timeline} if not isinstance(source, RunFolderSource) else set())
    sequence = [r for r in timeline if r.name in {c.name for c in chosen} or r.name in stored]
    following = {a.name: b for a, b in zip(sequence, sequence[1:])}
    unpaired = {name for name, successor in following.items() if successor.name not in on_disk}
    for name in sorted(unpaired, key=all_names.index):
        if name in on_disk:
            print(f"the pair {name} -> {following[name].name} is not computed: {following[name].name} is no longer in {source.location}")
    following = {name: successor for name, successor in following.items() if name not in unpaired}
    done = {}
    for s in stages:
        if force:
            done[s.name] = {a: set() for a in ids}
        elif s.pair:  # done with the revision that follows it now: a checkpoint that arrived since (or late) redoes the pair
            paired = finished_pairs(db, ids, s.name)
            done[s.name] = {
                a: {r for r, to in paired[a].items() if to == (following[r].name if r in following else None) or r in unpaired} for a in ids
            }
            stale = [(a, r, to) for a in ids for r, to in paired[a].items() if to is not None and r not in done[s.name][a]]
            forget_pairs(db, s.name, s.tables, stale)  # the old successor's rows go; a pair the user grafted by name stays
        else:
            done[s.name] = finished_revisions(db, ids, s.name)
    # A watched run's last revision is not known while it trains: a stage on one revision in N then takes every
    # N-th only, never "the last" (which would be each newest one), so that the watch stores what a batch would.
    n = None if hold_last_pairs else len(all_names)
    jobs = [
        RevisionJob(
            r,
            all_names.index(r.name),
            following.get(r.name),
            {
                s.name: tuple(a for a in analyses if r.name not in done[s.name][a.analysis_id] and s.on_revision(config, all_names.index(r.name), n))
                for s in stages
            },
            n_revisions=n,
        )
        for r in chosen
    ]
    if force:  # a revision redone whole redoes the pair that ends at it too, from its stored predecessor
        chosen_names = {r.name for r in chosen}
        for before, after in zip(sequence, sequence[1:]):
            if after.name in chosen_names and before.name not in chosen_names and before.name in following and before.name in on_disk:
                needed = {
                    s.name: tuple(a for a in analyses if s.on_revision(config, all_names.index(before.name), n)) if s.pair else () for s in stages
                }
                jobs.append(RevisionJob(before, all_names.index(before.name), after, needed, n_revisions=n))
        jobs.sort(key=lambda job: job.ordinal)
    if hold_last_pairs and jobs:
        last = jobs[-1]
        jobs[-1] = replace(last, needed={stage: () if stage in PAIR_STAGES else needed for stage, needed in last.needed.items()})
    jobs = [
        replace(job, needed={stage: () if stage in PAIR_STAGES else needed for stage, needed in job.needed.items()})
        if job.revision.name in unpaired
        else job
        for job in jobs
    ]
    jobs = [job for job in jobs if any(job.needed.values())]
    for analysis_id in ids:
        stored = ", ".join(f"{sum(r.name in done[s.name][analysis_id] for r in chosen)} {s.name}{s.subset(config)}" for s in stages)
        print(f"analysis {names[analysis_id]} ({analysis_id}): of {len(chosen)} selected revisions, stored: {stored}")
    print(
        f"{config.name}: {len(jobs)} revisions to ingest into {db}"
        + (f" for {len(ids)} analyses" if len(ids) > 1 else "")
        + (f" (stages: {', '.join(s.title for s in stages)})" if len(stages) > 1 else "")
        + (" on Ray" if executor is not None else "")
    )
    settings = IntervalSettings(config.intervals.resamples, config.intervals.role_resamples, config.intervals.level)
    if not jobs:
        # Nothing to ingest; an ingest that stopped in its intervals (a crash, Ctrl-C) left some without: those now.
        missing = [a for a in ids if not _has_intervals(db, a)]
        for analysis_id in missing:
            store_intervals(db, analysis_id, settings)
        if missing:
            print(f"intervals and tests of {len(missing)} {'analysis' if len(missing) == 1 else 'analyses'} stored (they were missing)", flush=True)
        return 0
    if executor is not None:
        failures = run_on_ray(config, db, jobs, probes, ids, executor, progress)
    else:
        failures = _run_in_process(config, db, source, jobs, probes, ids, progress, run)
    _report_duplicates(db, config.repo_id)
    for analysis_id in ids:  # every stored estimate gets its interval once, here, not per query or page
        store_intervals(db, analysis_id, settings)
    print(
        f"intervals and tests of {len(ids)} {'analysis' if len(ids) == 1 else 'analyses'} stored "
        f"({settings.resamples} resamples over facts within relations, {settings.role_resamples} for roles)",
        flush=True,
    )
    if failures:
        print(f"error: {len(failures)} of {len(jobs)} revisions failed; the others are stored. Re-run to retry.", file=sys.stderr)
        return 1
    return 0


def _run_in_process(
    config: PipelineConfig,
    db: Path,
    source: Source,
    jobs: list[RevisionJob],
    probes: ProbeSet,
    ids: list[str],
    progress: bool,
    run: pl.DataFrame | None = None,
) -> list[str]:
    """Each job in turn, the next revision's download overlapping the current one's work; each stage written as it ends."""
    device = config.resolved_device()
    run = run if run is not None else run_frame(config, device, ids)
    to_process = {job.revision.name for job in jobs}
    models = LoadedModels(source, device)
    said: set[str] = set()  # log lines said once per ingest
    failures: list[str] = []
    kept: list[str] = []
    bar = tqdm(total=len(jobs), desc="ingest", unit="rev", disable=not progress)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as pool:
        # One worker: the next download starts when this one ends, and overlaps the work of the current revision.
        pending: Future | None = pool.submit(source.download, jobs[0].revision.name)
        for index, job in enumerate(jobs):
            revision = job.revision
            bar.set_postfix_str(f"{revision.name}: download")
            download, pending = pending, None
            models.downloads = {}
            if index + 1 < len(jobs):
                pending = pool.submit(source.download, jobs[index + 1].revision.name)
                models.downloads[jobs[index + 1].revision.name] = pending  # a pair stage waits for it, never races it
            try:
                download.result()
                for write in run_job(config, with_stored_inputs(db, job), models, probes, run, device, bar, said):
                    bar.set_postfix_str(f"{revision.name}: write")
                    write.write(db)
                    bar.write(write.log_line())
                sys.stdout.flush()
            except StoreWriteError:
                raise  # the store cannot take more: every further revision would fail the same way
            except TrajectoryError as err:
                failures.append(f"{revision.name}: {err}")
                bar.write(f"error: {revision.name}: {err}")
            finally:
                after = job.following
                models.release_except(after)
                _release(source, revision.name, config.cache.keep_revisions, kept)
                if after is not None and after.name not in to_process:  # downloaded only as this pair's W′
                    _release(source, after.name, config.cache.keep_revisions, kept)
            bar.update(1)
    bar.close()
    return failures


def _has_intervals(db: Path, analysis_id: str) -> bool:
    """False where the analysis has stored revisions but no intervals (every stored revision has its top-1's)."""
    with reader(db) as con:
        ((n_revisions, n_intervals),) = con.execute(
            "SELECT (SELECT count(*) FROM revisions WHERE analysis_id = ?), (SELECT count(*) FROM intervals WHERE analysis_id = ?)",
            [analysis_id, analysis_id],
        ).fetchall()
    return n_revisions == 0 or n_intervals > 0


def _timeline(config: PipelineConfig, db: Path, listed: list[Revision], stored: dict[str, StoredRevision], run_folder: bool) -> list[Revision]:
    """The model's revisions in step order: those the source lists and those stored before that it no longer lists
    (a checkpoint rotated away keeps its rows and its place). A stored revision's ordinal follows its step, so a
    checkpoint that arrives late (16 after 24) takes its place and those after it move up, in the store too. A Hub
    repository lists every revision it has (an offline cache may hold fewer): only a run folder's are taken as gone."""
    pattern = name_pattern(config)
    on_disk = {r.name for r in listed}
    gone = sorted((name for name in stored if name not in on_disk), key=lambda name: stored[name].ordinal) if run_folder else []
    if gone:
        print(f"{len(gone)} stored revisions are no longer in the source (their rows are kept): {', '.join(gone[:8])}{' …' if len(gone) > 8 else ''}")
    timeline = order_revisions([*listed, *(parse_revision(name, pattern) for name in gone)], pattern)
    moved = [(k, name) for k, name in enumerate(r.name for r in timeline) if name in stored and stored[name].ordinal != k]
    if moved:
        with writer(db) as con, transaction(con):
            con.executemany("UPDATE revisions SET ordinal = ? WHERE model = ? AND revision = ?", [(k, config.repo_id, name) for k, name in moved])
    return timeline


@dataclass(frozen=True)
class StoredRevision:
    ordinal: int
    content_hash: str | None
    read_at: float  # when its weights were read (seconds since the epoch), at the latest


def _stored_revisions(db: Path, model: str) -> dict[str, StoredRevision]:
    """The model's stored revisions (any analysis), read once per ingest for their order and their weights' identity."""
    if not Path(db).is_file():
        return {}
    with reader(db) as con:
        rows = con.execute(
            # When its weights were read: before the IFR stage ended (ingested_at) by its seconds, and a minute's margin.
            "SELECT revision, min(ordinal), any_value(content_hash), max(epoch(ingested_at) - coalesce(seconds, 0) - 60) "
            "FROM revisions WHERE model = ? GROUP BY revision",
            [model],
        ).fetchall()
    return {name: StoredRevision(ordinal, digest, read_at) for name, ordinal, digest, read_at in rows}


def _check_unchanged(stored: dict[str, StoredRevision], source: Source, chosen: list[Revision], force: bool) -> None:
    """A run's checkpoint rewritten in place after its ingest (other weights, same name) is refused by name: its stored
    rows are of the old weights. Only checkpoints whose weight files changed since their ingest are hashed again."""
    if force or not isinstance(source, RunFolderSource):
        return
    changed = []
    for revision in chosen:
        known = stored.get(revision.name)
        if known is None or known.content_hash is None:
            continue
        if source.newest_weight_change(revision.name) > known.read_at and source.content_hash(revision.name) != known.content_hash:
            changed.append(revision.name)
    if changed:
        names = ", ".join(changed)
        raise TrajectoryError(
            f"the weights of {names} changed since {'its' if len(changed) == 1 else 'their'} ingest (other content hash): the stored rows "
            f"are of the old weights; re-ingest with --force --revisions {','.join(changed)} (the pairs touching them are redone too), "
            "or restore the old weights"
        )


def _release(source: Source, name: str, keep: int, kept: list[str]) -> None:
    """Keep the last ``keep`` downloaded revisions; release older ones (never user-cached ones)."""
    if source.was_cached_before(name):
        return
    kept.append(name)
    while len(kept) > keep:
        source.release(kept.pop(0))


def _report_duplicates(db: Path, model: str) -> None:
    rows = run_sql(
        db,
        f"""
        SELECT revision, any_value(content_hash) AS content_hash FROM revisions
        WHERE model = '{model.replace("'", "''")}' GROUP BY revision ORDER BY min(ordinal)""",
    )
    for group in find_duplicates(dict(zip(rows["revision"].to_list(), rows["content_hash"].to_list()))):
        print(f"warning: identical weights in {model}: {', '.join(group)} (a re-uploaded or duplicated checkpoint)")
