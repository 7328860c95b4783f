"""Figures that put analyses of one model side by side: one line per (role, analysis), the role's colour,
a line style per analysis; one panel per kind; a relation menu and the x-axis switch."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from trajectory.dashboard.controls import (
    ChartContext,
    band_frame,
    band_trace,
    banded,
    base_layout,
    empty_figure,
    kinds_in,
    relation_menu,
    relations_in,
    restyle_drawn,
    series,
    x_axis_menu,
)
from trajectory.dashboard.style import ALL_RELATIONS, KIND_TITLES, ROLE_COLOURS
from trajectory.roles.scores import ROLES

DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def compare_iou(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    fig = _compare_lines(frame, "iou", "{y:.2f}", band=("iou_lower", "iou_upper"))
    if frame.is_empty():
        return fig
    fig.update_yaxes(title_text="IoU with the final revision", range=[-0.03, 1.03])
    return fig


def compare_counts(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    fig = _compare_lines(frame, "n", "{y}")
    if frame.is_empty():
        return fig
    fig.update_yaxes(title_text="(relation, component) members", rangemode="tozero")
    return fig


def _compare_lines(frame: pl.DataFrame, column: str, value_format: str, band: tuple[str, str] | None = None) -> go.Figure:
    """One line per (kind, role, analysis), and where ``band`` names stored interval columns, each line's band;
    the hover gives the value, its interval and the members it rests on."""
    if frame.is_empty():
        return empty_figure("no roles stored for these analyses")
    with_bands = band is not None and banded(frame, band[0])
    low, high = band if with_bands else ("_lower", "_upper")
    if not with_bands:
        frame = frame.with_columns(_lower=pl.lit(None, pl.Float64), _upper=pl.lit(None, pl.Float64))
    kinds, relations = kinds_in(frame), relations_in(frame)
    analyses = frame.sort("analysis_order")["analysis"].unique(maintain_order=True).to_list()
    roles = [r for r in ROLES if r in set(frame["role"].to_list())]
    parts = frame.sort("ordinal").partition_by(["relation", "kind", "role", "analysis"], as_dict=True, maintain_order=True)
    empty = frame.clear()
    order = [(kind, role, analysis) for kind in kinds for role in roles for analysis in analyses]
    interval = f" [%{{customdata[1]:{value_format[2:-1]}}}, %{{customdata[2]:{value_format[2:-1]}}}]" if with_bands else ""

    def part(relation: str, kind: str, role: str, analysis: str) -> pl.DataFrame:
        return parts.get((relation, kind, role, analysis), empty)

    def drawn(relation: str) -> list[tuple[str, pl.DataFrame]]:
        out = []
        for key in order:
            line = part(relation, *key)
            out += ([("band", band_frame(line, low, high))] if with_bands else []) + [("line", line)]
        return out

    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[KIND_TITLES[k] for k in kinds], horizontal_spacing=0.08)
    traces = iter(drawn(ALL_RELATIONS))
    for kind, role, analysis in order:
        col = kinds.index(kind) + 1
        if with_bands:
            fig.add_trace(band_trace(next(traces)[1], ROLE_COLOURS[role], f"{role} · {analysis}", f"{role}|{analysis}"), row=1, col=col)
        line = next(traces)[1]
        fig.add_trace(
            go.Scatter(
                x=series(line, "x_step"),
                y=series(line, column),
                customdata=line.select("revision", low, high, "n").rows(),
                name=f"{role} · {analysis}",
                legendgroup=f"{role}|{analysis}",
                showlegend=kind == kinds[0],
                mode="lines+markers",
                marker={"size": 4},
                line={"width": 2, "color": ROLE_COLOURS[role], "dash": DASHES[analyses.index(analysis) % len(DASHES)]},
                hovertemplate=f"%{{customdata[0]}}<br>{role} · {analysis}: %{value_format}{interval} (n = %{{customdata[3]}} members)<extra></extra>",
            ),
            row=1,
            col=col,
        )

    menus = [relation_menu(relations, lambda r: restyle_drawn(drawn(r), column, lambda f: f.select("revision", low, high, "n").rows()))]
    x_menu = x_axis_menu([f for _, f in drawn(ALL_RELATIONS)], len(kinds), x=0.32)
    if x_menu:
        menus.append(x_menu)
    fig.update_xaxes(title_text="training step")
    fig.update_layout(updatemenus=menus, legend={"title": {"text": "role · analysis"}})
    return base_layout(fig, height=520)
