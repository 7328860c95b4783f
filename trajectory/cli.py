"""The one command-line entry point: ``trajectory <command>``.

Every command prints a one-line ``error: ...`` and exits non-zero on a problem the user can fix.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

from trajectory.config import SUITE_ARCHITECTURES, check_device_name, optional_stages
from trajectory.errors import TrajectoryError, describe_failure

DEFAULT_QUERY_TIMEOUT_S = 300.0
DEFAULT_REQUEST_TIMEOUT_S = 10.0  # serve: a client that sends less than it announced, or nothing, is dropped after this long


class _Parser(argparse.ArgumentParser):
    """argparse with its mistakes said the CLI's way: one ``error:`` line, exit 2 (the usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _number(low: float, high: float, *, low_open: bool = False, high_open: bool = False, what: str = "") -> Callable[[str], float]:
    """A finite float in [low, high] (open at an end where said): never nan, inf or 1e308 seconds of sleep."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            bounds = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be in {bounds}{what}, got {text}")
        return value

    return parse


def _seed(text: str) -> int:
    value = _at_least(0)(text)
    if value >= 2**63:
        raise argparse.ArgumentTypeError(f"must be below 2**63 (torch's seeds are 64-bit), got {value}")
    return value


def _port(text: str) -> int:
    value = _at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port, 0 to 65535 (0: any free one), got {value}")
    return value


def _device(text: str) -> str:
    try:
        check_device_name(text, "the device")
    except TrajectoryError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _pipeline_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", "-p", default=None, help="pipeline name in pipelines/ or a .toml path (default: reference)")


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="trajectory.duckdb", help="DuckDB file (default: ./trajectory.duckdb)")


def _analysis_arg(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--analysis",
        "-a",
        default=None,
        help=f"{what}: names or ids, comma-separated, or 'all' (default: each model's only or latest analysis; 'trajectory analyses' lists them)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trajectory", description="How factual-recall circuits form over pretraining checkpoints.")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    suite = commands.add_parser("suite", help="build the self-made reference trajectory (tiny OLMo or GPT-NeoX, 40 checkpoints + main)")
    suite_commands = suite.add_subparsers(dest="suite_command", required=True, metavar="ACTION")
    build = suite_commands.add_parser("build", help="pretrain the tiny model and save its checkpoints in the HF cache layout")
    build.add_argument("--small", action="store_true", help="the seconds-to-build test variant (--preset small)")
    build.add_argument(
        "--preset",
        choices=("full", "small", "v1", "v2"),
        default=None,
        help="full (default): the reference; small: seconds to build, for tests; v1, v2: the earlier references, "
        "whose circuits hold nearly every head (kept for comparison)",
    )
    build.add_argument(
        "--arch",
        choices=SUITE_ARCHITECTURES,
        default="olmo",
        help="olmo (default) or gpt-neox: the same reference as a parallel-residual Pythia-style model, named step{N}",
    )
    build.add_argument("--force", action="store_true", help="rebuild even if an identical build exists")
    build.add_argument("--seed", type=_seed, default=None, help="the seed of the corpus draws and the initial weights (default 0)")
    build.add_argument("--cache-dir", default=None, help="default: $TRAJECTORY_HOME/hub")
    build.add_argument(
        "--run-folder",
        default=None,
        metavar="DIR",
        help="write the checkpoints as a trainer does instead: DIR/checkpoint-N/, each marked complete last",
    )

    revisions = commands.add_parser("revisions", help="list the revisions a pipeline selects (name, step, tokens, on disk)")
    _pipeline_arg(revisions)
    revisions.add_argument("--revisions", "-r", default=None, help="selection spec replacing the pipeline's (all, names, 5000:200000:5000, -name)")

    ingest = commands.add_parser("ingest", help="trace, score and store every selected revision in DuckDB")
    _pipeline_arg(ingest)
    _db_arg(ingest)
    ingest.add_argument("--revisions", "-r", default=None, help="selection spec replacing the pipeline's")
    ingest.add_argument("--force", action="store_true", help="redo revisions already stored")
    ingest.add_argument("--device", default=None, type=_device, help="cpu, cuda, cuda:1 ... (default: the pipeline's)")
    ingest.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "bfloat16", "float16"],
        help="the weights' dtype (default: the pipeline's); contributions are computed in float32 whatever it is",
    )
    ingest.add_argument("--batch-size", type=_at_least(1), default=None, help="at most this many prompts per forward pass")
    ingest.add_argument(
        "--facts",
        default=None,
        help="probe set: a .tsv/.csv/.json file of relation, template, subject, object, or "
        "'paraphrases' (the 160 facts under three templates each) (default: the pipeline's)",
    )
    ingest.add_argument("--tau", default=None, help="IFR threshold τ, or several comma-separated (a sweep: one analysis each)")
    ingest.add_argument("--theta", default=None, help="role threshold θ, or several comma-separated")
    for stage, help_text in optional_stages():  # --extractive / --no-extractive, ...: one per stage a pipeline turns on or off
        ingest.add_argument(f"--{stage}", default=None, action=argparse.BooleanOptionalAction, help=help_text)
    ingest.add_argument(
        "--graft-pair",
        default=None,
        metavar="A,B",
        help="only graft: recipient revision A, donor revision B (any two revisions), into the pipeline's analyses",
    )
    ingest.add_argument(
        "--seed", type=_seed, default=None, help="the self-built reference trained from this seed: its own model, <repo>-seed<N>, built on first use"
    )
    ingest.add_argument(
        "--ffn-renormalisation",
        default=None,
        help="per_position (the definition and the study's code) or llm-tt (llm-transparency-tool's helper), or both comma-separated",
    )
    ingest.add_argument(
        "--run-path",
        default=None,
        metavar="DIR",
        help="a training run's folder of checkpoint folders instead of the pipeline's model (its other settings kept)",
    )
    ingest.add_argument("--model-name", default=None, metavar="NAME", help="the run's model name in the store (default: run/<folder name>)")
    watch = ingest.add_argument_group("watch", "follow a training run: ingest each checkpoint as soon as it is complete")
    watch.add_argument("--watch", action="store_true", help="keep running and ingest new checkpoints as they complete (Ctrl-C stops)")
    watch.add_argument(
        "--finish-file", default=None, metavar="FILE", help="finish the watch once this file exists, as --until the newest complete checkpoint would"
    )
    watch.add_argument("--until", type=_at_least(0), default=None, metavar="STEP", help="stop after the checkpoint at this step")
    watch.add_argument(
        "--idle-timeout",
        type=_number(0, 31_536_000, low_open=True, what=" seconds (a year at most)"),
        default=None,
        metavar="SECONDS",
        help="stop after this long without a new checkpoint",
    )
    watch.add_argument(
        "--poll",
        type=_number(0, 86_400, low_open=True, what=" seconds (a day at most)"),
        default=5.0,
        metavar="SECONDS",
        help="how often to look for new checkpoints (default 5)",
    )
    ray = ingest.add_argument_group("executor", "where the revisions run (pipeline table [executor]); Ray needs pip install -e '.[ray]'")
    ray.add_argument("--executor", default=None, choices=["in-process", "ray"], help="in this process (default), or one Ray task per revision")
    ray.add_argument("--address", default=None, help="a running Ray cluster (default: start a local one on 127.0.0.1, stopped at the end)")
    ray.add_argument(
        "--gpus-per-task",
        type=float,
        default=None,
        help="GPUs per revision (default: 1 on a cluster with GPUs, else 0; 0.5 shares a GPU between two)",
    )
    ray.add_argument("--cpus-per-task", type=float, default=None, help="CPUs per revision (default 1)")
    ray.add_argument("--memory-per-task", type=float, default=None, metavar="GB", help="memory Ray reserves per revision")
    ray.add_argument("--max-in-flight", type=_at_least(1), default=None, help="revisions submitted at once (bounds concurrent downloads)")
    ray.add_argument("--max-retries", type=_at_least(0), default=None, help="retries of a revision whose worker or node died (default 3)")
    ray.add_argument("--scratch", default=None, help="node-local folder for each task's downloads (default: $TRAJECTORY_SCRATCH or the temp folder)")

    analyses = commands.add_parser("analyses", help="list the analyses in a store (model, probe set, τ, θ, ...)")
    _db_arg(analyses)

    query = commands.add_parser("query", help="run a named query from sql/queries/ or an ad-hoc SELECT")
    _db_arg(query)
    query.add_argument("sql", nargs="?", help="query name (see --list) or SQL text")
    query.add_argument("--list", action="store_true", help="list the named queries")
    query.add_argument(
        "--format",
        "-f",
        default="table",
        choices=["table", "csv", "json", "parquet"],
        help="table (default; one analysis's key columns left out), csv, json or parquet (needs --output)",
    )
    query.add_argument("--output", "-o", default=None, help="write to this file (required for parquet)")
    query.add_argument("--force", action="store_true", help="replace the --output file if it exists")
    query.add_argument(
        "--timeout",
        type=_number(0, 31_536_000, what=" seconds (0: no limit)"),
        default=DEFAULT_QUERY_TIMEOUT_S,
        metavar="SECONDS",
        help=f"stop a query that runs longer (default {DEFAULT_QUERY_TIMEOUT_S:g}; 0: no limit)",
    )
    _analysis_arg(query, "the analyses the query sees")

    export = commands.add_parser("export", help="write every table of one analysis as Parquet (Hive-partitioned where large)")
    _db_arg(export)
    _analysis_arg(export, "the analysis to export")
    export.add_argument("--out", "-o", required=True, help="a new folder (with --tracker: TensorBoard's log folder, or the trackio / W&B project)")
    export.add_argument(
        "--tracker",
        choices=("tensorboard", "trackio", "wandb"),
        default=None,
        help="write the headline measures of every revision to this experiment tracker instead of Parquet",
    )

    dashboard = commands.add_parser("dashboard", help="write the plotly dashboards (self-contained HTML) from the store")
    _db_arg(dashboard)
    dashboard.add_argument("--out", "-o", default=None, help="output folder (default: $TRAJECTORY_HOME/dashboards/<db name>)")
    _analysis_arg(dashboard, "the analyses drawn (two or more of one model are also compared side by side)")
    _flows_arg(dashboard)

    findings = commands.add_parser("findings", help="what a store shows, as Markdown written from its own numbers")
    _db_arg(findings)
    _analysis_arg(findings, "the analysis described (one)")
    findings.add_argument("--out", "-o", default=None, help="write to this file (default: print)")
    findings.add_argument("--force", action="store_true", help="replace the --out file if it exists")

    routes = commands.add_parser("routes", help="one fact's route graph at a revision: a summary, or GraphML for networkx and others")
    _db_arg(routes)
    _analysis_arg(routes, "the analysis (one)")
    routes.add_argument("--fact", type=int, required=True, help="the fact's id (trajectory query \"SELECT * FROM facts\")")
    routes.add_argument("--revision", required=True, help="a stored revision's name (e.g. main)")
    routes.add_argument(
        "--threshold",
        type=_number(0, 1, high_open=True),
        default=None,
        help="drop edges at or below this weight, and what then no longer reaches the root (default: the analysis's τ)",
    )
    routes.add_argument("--graphml", default=None, help="write the graph to this GraphML file")
    routes.add_argument("--force", action="store_true", help="replace the --graphml file if it exists")

    serve = commands.add_parser("serve", help="serve the dashboards on localhost, rebuilt when the store changes")
    _db_arg(serve)
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=_port, default=8050, help="0 picks a free port (default: 8050)")
    serve.add_argument("--allow-remote", action="store_true", help="let --host name an address other machines reach (they can read the store)")
    serve.add_argument(
        "--request-timeout",
        type=_number(0, 3600, low_open=True, what=" seconds (an hour at most)"),
        default=DEFAULT_REQUEST_TIMEOUT_S,
        metavar="SECONDS",
        help=f"drop a client whose request has not arrived whole after this long (default {DEFAULT_REQUEST_TIMEOUT_S:g})",
    )
    _analysis_arg(serve, "the analyses drawn")
    _flows_arg(serve)

    return parser


def _flows_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--flows",
        default=None,
        type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
        help="revisions the role-flow Sankey connects, comma-separated names or first/middle/last (default: first,middle,last)",
    )


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a mistake already said in one line
        return int(done.code or 0)
    if hasattr(signal, "SIGPIPE") and args.command != "serve":
        # `trajectory query ... | head` ends quietly; serve keeps Python's default, where a client that goes away is
        # an error on its connection only, not the end of the server.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return _dispatch(args)
    except TrajectoryError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - every failure is one line; TRAJECTORY_DEBUG=1 shows the traceback
        if os.environ.get("TRAJECTORY_DEBUG"):
            raise
        print(f"error: {describe_failure(err)}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    progress = not args.quiet
    if args.command == "suite":
        from trajectory.commands import suite_build

        name = args.preset or ("small" if args.small else "full")
        return suite_build(name, args.arch, args.force, args.seed, args.cache_dir, progress, args.run_folder)
    if args.command == "revisions":
        from trajectory.commands import list_revisions

        return list_revisions(args.pipeline, args.revisions, progress)
    if args.command == "ingest":
        from trajectory.commands import ingest

        return ingest(args, progress)
    if args.command == "query":
        from trajectory.store.query import run_query_command

        return run_query_command(args)
    if args.command == "analyses":
        from trajectory.store.query import list_analyses_command

        return list_analyses_command(args)
    if args.command == "export":
        from trajectory.commands import export

        return export(args, progress)
    if args.command == "dashboard":
        from trajectory.commands import dashboard

        return dashboard(args, progress)
    if args.command == "findings":
        from trajectory.commands import findings

        return findings(args)
    if args.command == "routes":
        from trajectory.commands import routes

        return routes(args)
    if args.command == "serve":
        from trajectory.commands import serve

        return serve(args)
    raise AssertionError(args.command)
