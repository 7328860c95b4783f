"""What each CLI command does, printed for a person. Logic lives in the layers it calls."""

from __future__ import annotations

import argparse
from pathlib import Path

from trajectory.errors import TrajectoryError


def suite_build(name: str, arch: str, force: bool, seed: int | None, cache_dir: str | None, progress: bool, run_folder: str | None = None) -> int:
    from trajectory.suite.build import build_suite, built_digest, digest_line, probe_accuracy_summary
    from trajectory.suite.recipe import preset, seeded

    config = seeded(preset(name, arch), seed)
    run = Path(run_folder).expanduser() if run_folder else None
    result = build_suite(config, Path(cache_dir) if cache_dir else None, force=force, progress=progress, run_folder=run)
    took = f"built in {result.seconds:.0f} s" if result.seconds else "already built"
    print(f"{result.repo_id}: {len(result.revisions)} revisions in {run or result.cache_dir} ({took})")
    if run is None and (digest := built_digest(config, result.cache_dir)):
        print(digest_line(config, digest))
    print(probe_accuracy_summary(result))
    return 0


def list_revisions(pipeline: str | None, spec: str | None, progress: bool) -> int:
    from trajectory.config import load_pipeline
    from trajectory.hub.source import find_duplicates
    from trajectory.pipeline.sources import explicit_names, open_source, selected_revisions

    config = load_pipeline(pipeline)
    source = open_source(config, progress=progress)
    note = ""
    try:
        chosen = selected_revisions(config, source, spec)
    except TrajectoryError as err:
        fallback = None if spec else explicit_names(config)
        if fallback is None or "unknown revision" in str(err):
            raise
        chosen, note = fallback, f"(not verified against the Hub: {err})"
    print(f"{config.name}: {config.repo_id}, {len(chosen)} revisions {note}".rstrip())
    print(f"{'revision':<28} {'step':>8} {'tokens':>14} {'on disk':>8}")
    hashes = {}
    for revision in chosen:
        on_disk = source.is_on_disk(revision.name)
        if on_disk:
            hashes[revision.name] = source.content_hash(revision.name)
        step = "" if revision.step is None else str(revision.step)
        tokens = "" if revision.tokens is None else f"{revision.tokens:,}"
        print(f"{revision.name:<28} {step:>8} {tokens:>14} {'yes' if on_disk else 'no':>8}")
    for group in find_duplicates(hashes):
        print(f"warning: identical weights: {', '.join(group)}")
    pending = source.pending()
    if pending:
        print(f"being written (not complete yet): {', '.join(pending)}")
    return 0


def ingest(args: argparse.Namespace, progress: bool) -> int:
    from trajectory.pipeline.orchestrator import run_ingest

    return run_ingest(args, progress)


def export(args: argparse.Namespace, progress: bool) -> int:
    from trajectory.store.export import export_analysis

    if args.tracker:
        from trajectory.integrations.trackers import export_to_tracker
        from trajectory.store.analyses import choose_one
        from trajectory.store.db import reader

        with reader(Path(args.db)) as con:
            analysis_id, name = choose_one(con, args.analysis, "export")
        rows = export_to_tracker(Path(args.db), analysis_id, args.tracker, args.out)
        print(f"wrote {rows} measures of analysis {name} to {args.tracker} ({args.out})")
        return 0

    name, files = export_analysis(Path(args.db), args.analysis, Path(args.out), progress=progress)
    print(f"exported analysis {name}: {len(files)} Parquet files in {args.out}")
    return 0


def dashboard(args: argparse.Namespace, progress: bool) -> int:
    from trajectory.dashboard.build import build_dashboards, default_out

    out = Path(args.out) if args.out else default_out(Path(args.db))
    pages = build_dashboards(Path(args.db), out, analysis=args.analysis, flows=args.flows, progress=progress, say=print)
    for page in pages[1:]:
        print(f"wrote {page}")
    print(f"open {pages[0]}")
    return 0


def findings(args: argparse.Namespace) -> int:
    from trajectory.dashboard.findings import findings_markdown
    from trajectory.store.db import check_output_file

    if args.out:
        check_output_file(Path(args.out), "--out", Path(args.db), args.force)
    text = findings_markdown(Path(args.db), args.analysis)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def routes(args: argparse.Namespace) -> int:
    import networkx as nx

    from trajectory.routes.graph import load_route, route_graph
    from trajectory.store.db import check_output_file

    if args.graphml:  # before any work: a wrong path says so at once
        check_output_file(Path(args.graphml), "--graphml", Path(args.db), args.force)
    route = load_route(Path(args.db), args.analysis, args.fact, args.revision)
    graph = route_graph(route, args.threshold)
    kinds = {}
    for source, _, kind in graph.edges(data="kind"):
        if source[0] != "M":  # an FFN edge is drawn in two (A -> M -> I): count it once, as the store and the page do
            kinds[kind] = kinds.get(kind, 0) + 1
    prompt = "".join(route.tokens[: route.root + 1])
    print(
        f"fact {route.fact_id} ({route.relation}) at {route.revision}: {prompt!r} -> {route.answer!r}; "
        f"{graph.number_of_nodes()} nodes, {sum(kinds.values())} edges "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; the GraphML has {graph.number_of_edges()}: "
        f"each FFN edge passes through its M node)"
    )
    if args.graphml:
        # GraphML keys are strings: nodes as "A/3/7" (kind/layer/position); attributes keep the parts.
        named = nx.relabel_nodes(graph, {n: "/".join(map(str, n)) for n in graph})
        nx.write_graphml(named, args.graphml)
        print(f"wrote {args.graphml}")
    return 0


def serve(args: argparse.Namespace) -> int:
    from trajectory.dashboard.serve import serve as serve_pages

    serve_pages(Path(args.db), args.host, args.port, args.analysis, args.flows, allow_remote=args.allow_remote, request_timeout=args.request_timeout)
    return 0
