"""Figures over training time: role counts (stacked areas), IoU with the final revision, accuracy.

Each takes its query's frame (one row per series point, with ``x_step``, ``x_tokens``, ``revision``,
``ordinal``) and offers an x-axis switch (training step / tokens seen); the role figures also offer a
relation choice.
"""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from trajectory.dashboard.controls import (
    ChartContext, base_layout, empty_figure, kinds_in, relation_menu, relations_in, series, x_axis_menu,
)
from trajectory.dashboard.style import (
    ALL_RELATIONS, KIND_TITLES, RELATION_TYPE_STYLE, ROLE_COLOURS, relation_label, with_alpha,
)
from trajectory.roles.scores import ROLES


def _slices(frame: pl.DataFrame, kinds: list[str], roles: list[str]) -> dict[tuple[str, str, str], pl.DataFrame]:
    """(relation, kind, role) -> that series in training order."""
    parts = frame.sort("ordinal").partition_by(["relation", "kind", "role"], as_dict=True, maintain_order=True)
    return {key: part for key, part in parts.items() if key[1] in kinds and key[2] in roles}


def _role_panels(
    frame: pl.DataFrame,
    roles: list[str],
    trace: Callable[[pl.DataFrame, str, str, bool], go.Scatter],
    restyle: Callable[[list[pl.DataFrame]], dict],
) -> go.Figure:
    """One panel per kind, one trace per role, with the relation menu and the x-axis switch.

    ``trace(series, kind, role, in_legend)`` draws a role's series for all relations; ``restyle(parts)``
    gives a relation's restyle dict from its series, one per trace in the figure's order.
    """
    kinds, relations = kinds_in(frame), relations_in(frame)
    parts = _slices(frame, kinds, roles)
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[KIND_TITLES[k] for k in kinds], horizontal_spacing=0.08)
    order = [(kind, role) for kind in kinds for role in roles]
    for kind, role in order:
        fig.add_trace(trace(parts[(ALL_RELATIONS, kind, role)], kind, role, kind == kinds[0]), row=1, col=kinds.index(kind) + 1)
    menus = [relation_menu(relations, lambda r: restyle([parts[(r, k, role)] for k, role in order]))]
    x_menu = x_axis_menu([parts[(ALL_RELATIONS, k, role)] for k, role in order], len(kinds), x=0.32)
    if x_menu:
        menus.append(x_menu)
    fig.update_xaxes(title_text="training step")
    # Unified hover lists every role at one revision; each figure's first role names the revision.
    fig.update_layout(updatemenus=menus, hovermode="x unified")
    return fig


def role_areas(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Stacked areas of components per role; one panel per kind (heads, FFNs)."""
    if frame.is_empty():
        return empty_figure("no roles stored for this model")

    def trace(part: pl.DataFrame, kind: str, role: str, in_legend: bool) -> go.Scatter:
        return go.Scatter(
            x=series(part, "x_step"), y=series(part, "n"), customdata=series(part, "revision"),
            name=role, legendgroup=role, showlegend=in_legend, stackgroup=kind, mode="lines",
            line={"width": 0.6, "color": ROLE_COLOURS[role]}, fillcolor=with_alpha(ROLE_COLOURS[role], 0.85),
            hovertemplate=("<b>%{customdata}</b><br>" if role == ROLES[0] else "") + f"{role}: %{{y}}<extra></extra>",
        )

    fig = _role_panels(frame, list(ROLES), trace, lambda parts: {"y": [series(p, "n") for p in parts]})
    fig.update_yaxes(title_text="components", rangemode="tozero")
    fig.update_layout(legend={"title": {"text": "role"}, "traceorder": "normal"})
    return base_layout(fig)


def role_iou(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """IoU of each role set with the final revision's, one line per role; one panel per kind."""
    if frame.is_empty():
        return empty_figure("no roles stored for this model")
    roles = [r for r in ROLES if r in set(frame["role"].to_list())]

    def detail(part: pl.DataFrame) -> list:
        return part.select("revision", "n_here", "n_final", "n_shared").rows()

    def trace(part: pl.DataFrame, kind: str, role: str, in_legend: bool) -> go.Scatter:
        return go.Scatter(
            x=series(part, "x_step"), y=series(part, "iou"), customdata=detail(part), name=role, legendgroup=role,
            showlegend=in_legend, mode="lines+markers", marker={"size": 5},
            line={"width": 2, "color": ROLE_COLOURS[role]},
            hovertemplate=(
                ("<b>%{customdata[0]}</b><br>" if role == roles[0] else "")
                + f"{role}: %{{y:.2f}} (%{{customdata[1]}} now, %{{customdata[2]}} final, %{{customdata[3]}} both)<extra></extra>"
            ),
        )

    fig = _role_panels(frame, roles, trace, lambda parts: {
        "y": [series(p, "iou") for p in parts], "customdata": [detail(p) for p in parts],
    })
    fig.update_yaxes(title_text="IoU with the final revision", range=[-0.03, 1.03])
    fig.update_layout(legend={"title": {"text": "role set"}})
    return base_layout(fig)


def _translucent(colour: str, alpha: float = 0.18) -> str:
    """A ``#rrggbb`` colour as rgba with ``alpha``, for bands."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def accuracy_lines(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Top-1 and top-10 accuracy per relation (thin) and per relation type (thick), over training."""
    if frame.is_empty():
        return empty_figure("no accuracy stored for this model")
    metrics = {"top1": "top-1 accuracy", "top10": "top-10 accuracy"}
    fig = make_subplots(rows=1, cols=2, subplot_titles=list(metrics.values()), horizontal_spacing=0.08)
    parts = frame.sort("ordinal").partition_by(["is_mean", "relation_type", "relation"], as_dict=True, maintain_order=True)
    traced: list[pl.DataFrame] = []
    for (is_mean, relation_type, relation), part in parts.items():
        style = RELATION_TYPE_STYLE.get(relation_type, RELATION_TYPE_STYLE["other"])
        name = f"all {relation_type} facts" if is_mean else relation_label(relation)
        banded = is_mean and "top1_lower" in part.columns and part["top1_lower"].null_count() < part.height
        for col, (metric, metric_title) in enumerate(metrics.items(), start=1):
            if banded and metric == "top1":  # the stored 95 % interval as a band under the line
                band = pl.concat([part, part.reverse()]).with_columns(
                    band=pl.concat([part["top1_upper"], part["top1_lower"].reverse()]))
                fig.add_trace(go.Scatter(
                    x=series(band, "x_step"), y=series(band, "band"), fill="toself", mode="lines", line={"width": 0},
                    fillcolor=_translucent(style["color"]), hoverinfo="skip", showlegend=False, legendgroup=relation,
                    name=f"{name}: 95 % interval",
                ), row=1, col=col)
                traced.append(band)
            interval = " [%{customdata[2]:.0%}, %{customdata[3]:.0%}]" if banded and metric == "top1" else ""
            columns = ["revision", "n_facts"] + (["top1_lower", "top1_upper"] if banded and metric == "top1" else [])
            fig.add_trace(go.Scatter(
                x=series(part, "x_step"), y=series(part, metric), customdata=part.select(columns).rows(),
                name=name, legendgroup=relation, showlegend=col == 1, mode="lines",
                legendrank=0 if is_mean else 10,
                line={"color": style["color"], "dash": style["dash"], "width": 4 if is_mean else 1.2},
                opacity=1.0 if is_mean else 0.55,
                hovertemplate=f"%{{customdata[0]}}<br>{name} ({relation_type}): {metric_title} %{{y:.0%}}{interval} "
                              f"of n = %{{customdata[1]}} facts<extra></extra>",
            ), row=1, col=col)
            traced.append(part)
    menus = [m for m in [x_axis_menu(traced, 2, x=0.0)] if m]
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="share of facts", tickformat=".0%", range=[-0.03, 1.03])
    fig.update_layout(updatemenus=menus, legend={"title": {"text": "relation (black: location, dashed vermillion: name)"}})
    return base_layout(fig, height=520)
