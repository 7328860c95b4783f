"""``trajectory dashboard``: run each figure's SQL against the store, build the figures, write the pages.

Output: ``<out>/index.html`` linking ``<out>/<model>/<dashboard>.html`` for every model in the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from tqdm.auto import tqdm

from trajectory.dashboard.charts import CHARTS
from trajectory.dashboard.controls import ChartContext
from trajectory.dashboard.page import render_index, render_page, write_atomically
from trajectory.dashboard.spec import QUERY_DIR, DashboardSpec, FigureSpec, load_dashboards
from trajectory.errors import TrajectoryError
from trajectory.hub.revisions import unknown_revision_message
from trajectory.store.db import reader

FLOW_ALIASES = ("first", "middle", "last")
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "svg"}}


@dataclass(frozen=True)
class ModelSummary:
    model: str
    revisions: tuple[str, ...]
    line: str  # for the page header and the index


def default_out(db: Path) -> Path:
    from trajectory.paths import trajectory_home

    return trajectory_home() / "dashboards" / Path(db).stem


def model_folder(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "--", model)


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


def build_dashboards(db: Path, out: Path, *, flows: list[str] | None = None, progress: bool = True) -> list[Path]:
    """Write every dashboard for every model in the store; returns the pages written, index first."""
    specs = load_dashboards()
    written: list[Path] = []
    entries = []
    with reader(Path(db)) as con:
        models = stored_models(con)
        if not models:
            raise TrajectoryError(f"{db} holds no revisions yet; run 'trajectory ingest' first")
        total = len(models) * sum(len(s.figures) for s in specs)
        bar = tqdm(total=total, desc="dashboard", unit="figure", disable=not progress)
        for summary in models:
            context = model_context(summary, flows)
            links = []
            for spec in specs:
                path = Path(out) / model_folder(summary.model) / f"{spec.name}.html"
                write_atomically(path, _page(con, spec, summary, context, bar))
                written.append(path)
                links.append((spec.title, path.relative_to(out).as_posix()))
            entries.append((summary.model, links, summary.line))
        bar.close()
    index = Path(out) / "index.html"
    write_atomically(index, render_index("trajectory dashboards", entries))
    return [index] + written


def figure_frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> pl.DataFrame:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return pl.from_arrow(con.sql(sql, params=used).to_arrow_table())


def build_figure(con: duckdb.DuckDBPyConnection, figure: FigureSpec, context: ChartContext) -> dict:
    """One figure of one model, as plotly's figure dict: its query's rows through its chart builder."""
    chart = CHARTS[figure.chart]
    try:
        frame = figure_frame(con, figure.sql, {"model": context.model} | chart.params(context))
    except duckdb.Error as err:
        raise TrajectoryError(f"{QUERY_DIR / figure.query}.sql failed: {str(err).splitlines()[0]}") from None
    built = chart.build(frame, context)
    fig = built.to_dict() if isinstance(built, go.Figure) else built
    fig["layout"].setdefault("title", {})["text"] = f"{figure.title} · {context.model}"
    return fig


def model_context(summary: ModelSummary, flows: list[str] | None = None) -> ChartContext:
    return ChartContext(summary.model, summary.revisions, resolve_flow_revisions(flows, summary.revisions))


def _page(con, spec: DashboardSpec, summary: ModelSummary, context: ChartContext, bar) -> str:
    sections = []
    for figure in spec.figures:
        bar.set_postfix_str(figure.id)
        fig = build_figure(con, figure, context)
        div = pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=figure.id, config=PLOT_CONFIG, validate=False)
        sections.append((figure.id, figure.title, figure.caption, div))
        bar.update(1)
    return render_page(f"{spec.title}: {summary.model}", [summary.line], sections)


def stored_models(con: duckdb.DuckDBPyConnection) -> list[ModelSummary]:
    frame = figure_frame(con, (QUERY_DIR / "models.sql").read_text(encoding="utf-8"), {})
    summaries = []
    for row in frame.iter_rows(named=True):
        accuracy = "" if row["final_top1"] is None else (
            f"; at {row['final_revision']}: top-1 {row['final_top1']:.0%}, top-10 {row['final_top10']:.0%} of the probe facts"
        )
        settings = "" if row["pipeline"] is None else (
            f"; pipeline `{row['pipeline']}`, τ = {row['tau']:g}, θ = {row['theta']:g}, {row['dtype']} on {row['device']}"
        )
        line = f"{row['n_revisions']} revisions, {row['first_revision']} to {row['final_revision']}{settings}{accuracy}"
        summaries.append(ModelSummary(row["model"], tuple(row["revisions"]), line))
    return summaries
