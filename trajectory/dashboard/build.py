"""``trajectory dashboard``: run each figure's SQL against the store, build the figures, write the pages.

Output: ``<out>/index.html`` linking, for every analysis drawn, ``<out>/<model>/<analysis>/<dashboard>.html``,
and for every model with two or more analyses drawn, ``<out>/<model>/compare.html`` (the comparison
dashboards, side by side).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from tqdm.auto import tqdm

from trajectory.dashboard.charts import CHARTS
from trajectory.dashboard.controls import ChartContext, scale_menu
from trajectory.dashboard.findings import index_headlines
from trajectory.dashboard.page import PLOTLY_FILE, page_links, render_index, render_page, write_atomically, write_plotly
from trajectory.dashboard.routes_page import render_routes_page, routes_data
from trajectory.dashboard.spec import QUERY_DIR, DashboardSpec, FigureSpec, load_dashboards
from trajectory.errors import TrajectoryError
from trajectory.hub.revisions import unknown_revision_message
from trajectory.paths import trajectory_home
from trajectory.store.analyses import choose, describe_choice
from trajectory.store.db import reader, scope

FLOW_ALIASES = ("first", "middle", "last")
# The order a reader takes the pages in: how recall forms, one fact's routes, then the checks.
PAGE_ORDER = ("training", "routes", "components", "causal", "grafting", "extractive")
ROUTES_TITLE = "Routes: one fact's graph at any revision"


def _page_rank(name: str) -> tuple[int, str]:
    return (PAGE_ORDER.index(name) if name in PAGE_ORDER else len(PAGE_ORDER), name)


PLOT_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "svg"}}


@dataclass(frozen=True)
class AnalysisSummary:
    analysis_id: str
    name: str
    model: str
    revisions: tuple[str, ...]
    line: str  # for the page header and the index


def default_out(db: Path) -> Path:
    return trajectory_home() / "dashboards" / Path(db).stem


def model_folder(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "--", model)


def analysis_folder(name: str) -> str:
    """The analysis's name without its leading repo name, as one folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name.split("/", 1)[-1].replace("=", "")).strip("-")


def analysis_folders(summaries: list[AnalysisSummary]) -> dict[str, str]:
    """analysis_id -> its folder under the model's: the readable name, with the id's start where two
    analyses' names differ only in characters a folder name drops (``my facts`` and ``my-facts``)."""
    names = {s.analysis_id: (s.model, analysis_folder(s.name)) for s in summaries}
    taken = Counter(names.values())
    return {a: folder if taken[(model, folder)] == 1 else f"{folder}-{a[:6]}" for a, (model, folder) in names.items()}


def resolve_flow_revisions(spec: list[str] | None, revisions: tuple[str, ...]) -> tuple[str, ...]:
    """Names (or first / middle / last) in training order, without repeats; default first, middle, last."""
    aliases = {"first": revisions[0], "middle": revisions[len(revisions) // 2], "last": revisions[-1]}
    chosen = []
    for name in spec or FLOW_ALIASES:
        name = aliases.get(name, name)
        if name not in revisions:
            raise TrajectoryError(f"--flows: {unknown_revision_message(name, list(revisions))}")
        chosen.append(name)
    ordered = tuple(r for r in revisions if r in set(chosen))
    if spec and len(ordered) < 2 and len(revisions) > 1:
        raise TrajectoryError("--flows needs at least two different revisions")
    return ordered


def build_dashboards(
    db: Path,
    out: Path,
    *,
    analysis: str | None = None,
    flows: list[str] | None = None,
    progress: bool = True,
    say: Callable[[str], None] = lambda line: None,
) -> list[Path]:
    """Write every dashboard for every analysis chosen (see :func:`trajectory.store.analyses.choose`);
    returns the pages written, index first. ``say`` gets the line telling which analyses were used."""
    _check_out(Path(out))
    specs = load_dashboards()
    per_analysis = [s for s in specs if s.scope == "analysis"]
    comparisons = [s for s in specs if s.scope == "comparison"]
    written: list[Path] = []
    entries = []
    with reader(Path(db)) as con:
        chosen = choose(con, analysis)
        say(describe_choice(con, chosen))
        scope(con, chosen["analysis_id"].to_list())
        summaries = stored_analyses(con)
        if not summaries:
            raise TrajectoryError(f"{db} holds no revisions yet; run 'trajectory ingest' first")
        by_model: dict[str, list[AnalysisSummary]] = {}
        for summary in summaries:
            by_model.setdefault(summary.model, []).append(summary)
        compared = [group for group in by_model.values() if len(group) > 1]
        pages = {s.analysis_id: [spec for spec in per_analysis if _has_rows(con, spec.requires, s.analysis_id)] for s in summaries}
        total = sum(len(spec.figures) for specs in pages.values() for spec in specs) + len(compared) * sum(len(s.figures) for s in comparisons)
        bar = tqdm(total=total, desc="dashboard", unit="figure", disable=not progress)
        folders = analysis_folders(summaries)
        write_plotly(Path(out))
        for summary in summaries:
            context = analysis_context(summary, flows)
            folder = Path(out) / model_folder(summary.model) / folders[summary.analysis_id]
            routes = routes_data(con, summary.analysis_id)
            titles = [(spec.name, spec.title) for spec in pages[summary.analysis_id]]
            if routes is not None:
                titles.append(("routes", ROUTES_TITLE))
            titles.sort(key=lambda page: _page_rank(page[0]))
            headlines = index_headlines(con, summary.analysis_id)
            links = []
            for name, page_title in titles:
                path = folder / f"{name}.html"
                nav = page_links([("index", "../../index.html")] + [(t, None if n == name else f"{n}.html") for n, t in titles])
                if name == "routes":
                    bar.set_postfix_str("routes")
                    text = render_routes_page(f"{ROUTES_TITLE} · {summary.name}", [summary.line], nav, routes, f"../../{PLOTLY_FILE}")
                else:
                    spec = next(s for s in pages[summary.analysis_id] if s.name == name)
                    text = _page(con, spec, f"{spec.title} · {summary.name}", [summary.line], context, bar, nav, f"../../{PLOTLY_FILE}")
                write_atomically(path, text)
                written.append(path)
                links.append((page_title, path.relative_to(out).as_posix(), headlines.get(name, [])))
            entries.append((summary.name, links, summary.line))
        for group in compared:
            context = comparison_context(group)
            links = []
            for spec in comparisons:
                path = Path(out) / model_folder(group[0].model) / f"{spec.name}.html"
                meta = [f"`{s.name}`: {s.line}" for s in group]
                nav = page_links([("index", "../index.html")])
                write_atomically(path, _page(con, spec, f"{spec.title} · {group[0].model}", meta, context, bar, nav, f"../{PLOTLY_FILE}"))
                written.append(path)
                links.append((spec.title, path.relative_to(out).as_posix(), []))
            entries.append((f"{group[0].model}: {len(group)} analyses compared", links, ", ".join(s.name for s in group)))
        bar.close()
    index = Path(out) / "index.html"
    write_atomically(index, render_index("trajectory dashboards", entries))
    return [index] + written


OUT_MARKER = ".trajectory-dashboards"  # in every folder the dashboards are written to: later builds may replace its pages


def _check_out(out: Path) -> None:
    """The pages go into a new or empty folder, or one they were written to before; never over a folder of the user's
    own (an index.html of theirs would be replaced)."""
    if out.exists() and not out.is_dir():
        raise TrajectoryError(f"{out} is a file; pass a folder as --out")
    if out.is_dir() and any(out.iterdir()) and not (out / OUT_MARKER).exists():
        index = out / "index.html"
        ours = index.is_file() and "<title>trajectory dashboards</title>" in index.read_text(errors="replace")[:2000]  # written before the marker
        if not ours:
            raise TrajectoryError(f"{out} holds files trajectory did not write; pass an empty or new --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / OUT_MARKER).write_text("pages written by trajectory dashboard; a later build may replace them\n")


def _has_rows(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...], analysis_id: str) -> bool:
    """Whether the analysis has rows in any of ``tables`` (no tables: always)."""
    return not tables or any(con.execute(f"SELECT count(*) FROM {table} WHERE analysis_id = ?", [analysis_id]).fetchall()[0][0] for table in tables)


def figure_frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> pl.DataFrame:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return pl.from_arrow(con.sql(sql, params=used).to_arrow_table())


def build_figure(con: duckdb.DuckDBPyConnection, figure: FigureSpec, context: ChartContext) -> dict:
    """One figure of one model, as plotly's figure dict: its query's rows through its chart builder."""
    chart = CHARTS[figure.chart]
    try:
        params = {"model": context.model, "analysis": context.analysis, "analyses": list(context.analyses)}
        frame = figure_frame(con, figure.sql, params | chart.params(context))
    except duckdb.Error as err:
        raise TrajectoryError(f"{QUERY_DIR / figure.query}.sql failed: {str(err).splitlines()[0]}") from None
    built = chart.build(frame, context)
    fig = built.to_dict() if isinstance(built, go.Figure) else built
    fig["layout"].setdefault("title", {})["text"] = f"{figure.title} · {context.label}"
    if scale := scale_menu(fig):  # values spanning decades: linear or log, the reader's choice
        fig["layout"]["updatemenus"] = [*fig["layout"].get("updatemenus", ()), scale]
    unknown = _step_unknown(frame)
    if unknown and fig.get("data"):
        fig["layout"].setdefault("annotations", []).append(
            {
                "text": f"{unknown}: step unknown, drawn last (one median gap after the last numbered revision)",
                "xref": "paper",
                "yref": "paper",
                "x": 1.0,
                "y": 1.0,
                "xanchor": "right",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": "#666"},
                "name": "step-unknown",
            }
        )
    return fig


def _step_unknown(frame: pl.DataFrame) -> str:
    """The revisions of a figure's rows whose training step is unknown (revision_axis.step_known), named for its note."""
    if "step_known" not in frame.columns or "revision" not in frame.columns:
        return ""
    return ", ".join(sorted(set(frame.filter(~pl.col("step_known"))["revision"].to_list())))


def analysis_context(summary: AnalysisSummary, flows: list[str] | None = None) -> ChartContext:
    return ChartContext(
        summary.model, summary.revisions, resolve_flow_revisions(flows, summary.revisions), analysis=summary.analysis_id, label=summary.name
    )


def comparison_context(group: list[AnalysisSummary]) -> ChartContext:
    return ChartContext(group[0].model, group[0].revisions, analyses=tuple(s.analysis_id for s in group), label=group[0].model)


def _page(
    con: duckdb.DuckDBPyConnection, spec: DashboardSpec, title: str, meta: list[str], context: ChartContext, bar: tqdm, nav: str, plotly_src: str
) -> str:
    sections = []
    components: list[str] = []
    for figure in spec.figures:
        bar.set_postfix_str(figure.id)
        fig = build_figure(con, figure, context)
        named = [t["meta"]["component"] for t in fig.get("data", []) if isinstance(t.get("meta"), dict) and "component" in t["meta"]]
        components += [k for k in dict.fromkeys(named) if k not in components]
        div = pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=figure.id, config=PLOT_CONFIG, validate=False)
        sections.append((figure.id, figure.title, figure.caption, div))
        bar.update(1)
    return render_page(title, meta, sections, nav, plotly_src, components=components if spec.picker == "component" else None)


def stored_analyses(con: duckdb.DuckDBPyConnection) -> list[AnalysisSummary]:
    """The analyses a (scoped) reader sees, with revisions stored, in model order."""
    frame = figure_frame(con, (QUERY_DIR / "analyses.sql").read_text(encoding="utf-8"), {})
    summaries = []
    for row in frame.iter_rows(named=True):
        accuracy = (
            ""
            if row["final_top1"] is None
            else (f"; at {row['final_revision']}: top-1 {row['final_top1']:.0%}, top-10 {row['final_top10']:.0%} of the probe facts")
        )
        ffn = "" if row["ffn_renormalisation"] == "per_position" else ", FFN renormalised as llm-transparency-tool's helper does (llm-tt)"
        run = "" if row["pipeline"] is None else f"; pipeline `{row['pipeline']}` on {row['device']}"
        line = (
            f"{row['n_revisions']} revisions, {row['first_revision']} to {row['final_revision']}; probe set "
            f"`{row['probe_set']}`, τ = {row['tau']:g}, θ = {row['theta']:g}{ffn}, {row['dtype']}{run}{accuracy}"
        )
        summaries.append(AnalysisSummary(row["analysis_id"], row["name"], row["model"], tuple(row["revisions"]), line))
    return summaries
