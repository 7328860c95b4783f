"""Figures that put analyses of one model side by side: one line per (role, analysis), the role's colour,
a line style per analysis; one panel per kind; a relation menu and the x-axis switch."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from trajectory.dashboard.controls import (
    ChartContext, base_layout, empty_figure, kinds_in, relation_menu, relations_in, series, x_axis_menu,
)
from trajectory.dashboard.style import ALL_RELATIONS, KIND_TITLES, ROLE_COLOURS
from trajectory.roles.scores import ROLES

DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def compare_iou(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    fig = _compare_lines(frame, "iou", "{y:.2f}")
    if frame.is_empty():
        return fig
    fig.update_yaxes(title_text="IoU with the final revision", range=[-0.03, 1.03])
    return fig


def compare_counts(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    fig = _compare_lines(frame, "n", "{y}")
    if frame.is_empty():
        return fig
    fig.update_yaxes(title_text="components", rangemode="tozero")
    return fig


def _compare_lines(frame: pl.DataFrame, column: str, value_format: str) -> go.Figure:
    if frame.is_empty():
        return empty_figure("no roles stored for these analyses")
    kinds, relations = kinds_in(frame), relations_in(frame)
    analyses = frame.sort("analysis_order")["analysis"].unique(maintain_order=True).to_list()
    roles = [r for r in ROLES if r in set(frame["role"].to_list())]
    parts = frame.sort("ordinal").partition_by(["relation", "kind", "role", "analysis"], as_dict=True, maintain_order=True)
    empty = frame.clear()
    order = [(kind, role, analysis) for kind in kinds for role in roles for analysis in analyses]

    def part(relation: str, kind: str, role: str, analysis: str) -> pl.DataFrame:
        return parts.get((relation, kind, role, analysis), empty)

    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[KIND_TITLES[k] for k in kinds], horizontal_spacing=0.08)
    for kind, role, analysis in order:
        line = part(ALL_RELATIONS, kind, role, analysis)
        fig.add_trace(go.Scatter(
            x=series(line, "x_step"), y=series(line, column), customdata=series(line, "revision"),
            name=f"{role} · {analysis}", legendgroup=f"{role}|{analysis}", showlegend=kind == kinds[0],
            mode="lines+markers", marker={"size": 4},
            line={"width": 2, "color": ROLE_COLOURS[role], "dash": DASHES[analyses.index(analysis) % len(DASHES)]},
            hovertemplate=f"%{{customdata}}<br>{role} · {analysis}: %{value_format}<extra></extra>",
        ), row=1, col=kinds.index(kind) + 1)
    menus = [relation_menu(relations, lambda r: {
        "x": [series(part(r, *key), "x_step") for key in order],
        "y": [series(part(r, *key), column) for key in order],
        "customdata": [series(part(r, *key), "revision") for key in order],
    })]
    x_menu = x_axis_menu([part(ALL_RELATIONS, *key) for key in order], len(kinds), x=0.32)
    if x_menu:
        menus.append(x_menu)
    fig.update_xaxes(title_text="training step")
    fig.update_layout(updatemenus=menus, legend={"title": {"text": "role · analysis"}})
    return base_layout(fig, height=520)
