"""Figures over training time: role counts and IoU with the final revision (lines with their intervals as bands),
accuracy.

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
from trajectory.dashboard.style import (
    ALL_RELATIONS,
    KIND_TITLES,
    RELATION_TYPE_STYLE,
    ROLE_COLOURS,
    relation_label,
)
from trajectory.roles.scores import ROLES


def _slices(frame: pl.DataFrame, kinds: list[str], roles: list[str]) -> dict[tuple[str, str, str], pl.DataFrame]:
    """(relation, kind, role) -> that series in training order."""
    parts = frame.sort("ordinal").partition_by(["relation", "kind", "role"], as_dict=True, maintain_order=True)
    return {key: part for key, part in parts.items() if key[1] in kinds and key[2] in roles}


def _role_lines(
    frame: pl.DataFrame,
    roles: list[str],
    value: str,
    detail: list[str],
    hover: str,
    note: Callable[[str, dict[str, pl.DataFrame]], str | None] = lambda kind, parts: None,
) -> go.Figure:
    """One panel per kind, one line per role with its stored interval as a band, a relation menu and the x-axis
    switch. ``hover``: the role's hover line after its name, over customdata [revision, lower, upper, *detail].
    ``note(kind, {role: all relations' series})``: a line written over that panel (what a flat or empty panel
    shows), or None."""
    if "lower" not in frame.columns:
        frame = frame.with_columns(lower=pl.lit(None, pl.Float64), upper=pl.lit(None, pl.Float64))
    # A role set is a union over facts: a resample holds fewer distinct facts, so its band is biased and can miss the
    # estimate; the hover says so where it does (band_note, the last detail column of the callers' hovers).
    frame = frame.with_columns(
        band_note=pl.when((pl.col(value) < pl.col("lower") - 1e-9) | (pl.col(value) > pl.col("upper") + 1e-9))
        .then(pl.lit(" (outside its resampling band: the band is biased)"))
        .otherwise(pl.lit(""))
    )
    kinds, relations = kinds_in(frame), relations_in(frame)
    parts = _slices(frame, kinds, roles)
    with_bands = banded(frame, "lower")
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[KIND_TITLES[k] for k in kinds], horizontal_spacing=0.08)
    order = [(kind, role) for kind in kinds for role in roles]
    columns = ["revision", "lower", "upper", *detail]

    def drawn(relation: str) -> list[tuple[str, pl.DataFrame]]:
        """(band | line, its frame) of every trace, in the figure's order."""
        out = []
        for kind, role in order:
            part = parts[(relation, kind, role)]
            out += ([("band", band_frame(part, "lower", "upper"))] if with_bands else []) + [("line", part)]
        return out

    traces = iter(drawn(ALL_RELATIONS))
    for kind, role in order:
        col = kinds.index(kind) + 1
        if with_bands:
            fig.add_trace(band_trace(next(traces)[1], ROLE_COLOURS[role], role, role), row=1, col=col)
        part = next(traces)[1]
        text = hover if with_bands else hover.replace(" [%{customdata[1]}, %{customdata[2]}]", "")
        fig.add_trace(
            go.Scatter(
                x=series(part, "x_step"),
                y=series(part, value),
                customdata=part.select(columns).rows(),
                name=role,
                legendgroup=role,
                showlegend=kind == kinds[0],
                mode="lines+markers",
                marker={"size": 4},
                line={"width": 2, "color": ROLE_COLOURS[role]},
                # Unified hover lists every role at one revision; the first role names the revision.
                hovertemplate=("<b>%{customdata[0]}</b><br>" if role == roles[0] else "") + f"{role}: {text}<extra></extra>",
            ),
            row=1,
            col=col,
        )

    for col, kind in enumerate(kinds, start=1):
        said = note(kind, {role: parts[(ALL_RELATIONS, kind, role)] for role in roles})
        if said:
            axis = "" if col == 1 else str(col)
            fig.add_annotation(
                text=said,
                xref=f"x{axis} domain",
                yref=f"y{axis} domain",
                x=0.5,
                y=0.5,
                showarrow=False,
                font={"size": 12, "color": "#444"},
                bgcolor="rgba(255,255,255,0.85)",
            )
    menus = [relation_menu(relations, lambda r: restyle_drawn(drawn(r), value, lambda f: f.select(columns).rows()))]
    x_menu = x_axis_menu([f for _, f in drawn(ALL_RELATIONS)], len(kinds), x=0.32)
    if x_menu:
        menus.append(x_menu)
    fig.update_xaxes(title_text="training step")
    fig.update_layout(updatemenus=menus, hovermode="x unified")
    return fig


def role_areas(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Components per role over training, a line per role with its interval; one panel per kind (heads, FFNs)."""
    if frame.is_empty():
        return empty_figure("no roles stored for this model")

    def flat(kind: str, parts: dict[str, pl.DataFrame]) -> str | None:
        if any(part[["n"]].n_unique() > 1 for part in parts.values()):
            return None
        held = ", ".join(f"{int(part['n'][0])} {role}" for role, part in parts.items() if part.height and part["n"][0])
        return f"flat: {held} at every revision (all relations)"

    fig = _role_lines(
        frame,
        list(ROLES),
        "n",
        ["n_members", "band_note"],
        "%{y} [%{customdata[1]:.0f}, %{customdata[2]:.0f}] of %{customdata[3]}%{customdata[4]}",
        flat,
    )
    fig.update_yaxes(title_text="components", rangemode="tozero")
    fig.update_layout(legend={"title": {"text": "role"}, "traceorder": "normal"})
    return base_layout(fig)


def role_iou(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """IoU of each role set with the final revision's, one line per role with its interval; one panel per kind."""
    if frame.is_empty():
        return empty_figure("no roles stored for this model")
    roles = [r for r in ROLES if r in set(frame["role"].to_list())]

    def flat_or_empty(kind: str, parts: dict[str, pl.DataFrame]) -> str | None:
        lines = []
        empty = [role for role, part in parts.items() if part.height and not (part["n_final"].fill_null(0) > 0).any()]
        if empty:
            lines.append(f"{', '.join(empty)}: no member at the final revision, so IoU is 0 or undefined throughout")
        if all(part["iou"].drop_nulls().n_unique() <= 1 for part in parts.values()) and not empty:
            lines.append("flat: every role set equals its final one at every revision")
        return "<br>".join(lines) or None

    fig = _role_lines(
        frame,
        roles,
        "iou",
        ["n_here", "n_final", "n_shared", "band_note"],
        "%{y:.2f} [%{customdata[1]:.2f}, %{customdata[2]:.2f}] (%{customdata[3]} now, %{customdata[4]} final, %{customdata[5]} both)%{customdata[6]}",
        flat_or_empty,
    )
    fig.update_yaxes(title_text="IoU with the final revision", range=[-0.03, 1.03])
    fig.update_layout(legend={"title": {"text": "role set"}})
    return base_layout(fig)


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
        for col, (metric, metric_title) in enumerate(metrics.items(), start=1):
            with_band = is_mean and banded(part, f"{metric}_lower")
            if with_band:  # the stored 95 % interval as a band under the line
                band = band_frame(part, f"{metric}_lower", f"{metric}_upper")
                fig.add_trace(band_trace(band, style["color"], name, relation), row=1, col=col)
                traced.append(band)
            interval = " [%{customdata[2]:.0%}, %{customdata[3]:.0%}]" if with_band else ""
            columns = ["revision", "n_facts"] + ([f"{metric}_lower", f"{metric}_upper"] if with_band else [])
            fig.add_trace(
                go.Scatter(
                    x=series(part, "x_step"),
                    y=series(part, metric),
                    customdata=part.select(columns).rows(),
                    name=name,
                    legendgroup=relation,
                    showlegend=col == 1,
                    mode="lines",
                    legendrank=0 if is_mean else 10,
                    line={"color": style["color"], "dash": style["dash"], "width": 4 if is_mean else 1.2},
                    opacity=1.0 if is_mean else 0.55,
                    hovertemplate=f"%{{customdata[0]}}<br>{name} ({relation_type}): {metric_title} %{{y:.0%}}{interval} "
                    f"of n = %{{customdata[1]}} facts<extra></extra>",
                ),
                row=1,
                col=col,
            )
            traced.append(part)
    menus = [m for m in [x_axis_menu(traced, 2, x=0.0)] if m]
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="share of facts", tickformat=".0%", range=[-0.03, 1.03])
    fig.update_layout(updatemenus=menus, legend={"title": {"text": "relation (black: location, dashed vermillion: name)"}})
    return base_layout(fig, height=520)


def loss_and_accuracy(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """The training loss the run publishes (left axis) beside the share of facts top-1 at each revision (right axis,
    with its stored 95 % interval), over training steps. Without a published loss: says so and draws top-1 alone."""
    if frame.is_empty():
        return empty_figure("no accuracy stored for this model")
    loss = frame.filter(pl.col("series") == "loss").sort("step")
    top1 = frame.filter(pl.col("series") == "top-1").sort("step").rename({"step": "x_step"})
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if not loss.is_empty():
        fig.add_trace(
            go.Scatter(
                x=loss["step"].to_list(),
                y=loss["value"].to_list(),
                name="training loss",
                mode="lines",
                line={"color": "#999999", "width": 1.5},
                hovertemplate="step %{x}: training loss %{y:.3f}<extra></extra>",
            ),
            secondary_y=False,
        )
    colour = RELATION_TYPE_STYLE["location"]["color"]
    if banded(top1, "lower"):
        fig.add_trace(band_trace(band_frame(top1, "lower", "upper"), colour, "top-1", "top-1"), secondary_y=True)
    fig.add_trace(
        go.Scatter(
            x=series(top1, "x_step"),
            y=series(top1, "value"),
            name="top-1 (all probe facts)",
            mode="lines+markers",
            legendgroup="top-1",
            line={"color": colour, "width": 3},
            marker={"size": 5},
            customdata=top1.select("revision", "n", pl.col("lower").fill_null(float("nan")), pl.col("upper").fill_null(float("nan"))).rows(),
            hovertemplate="%{customdata[0]} (step %{x}): top-1 %{y:.0%} [%{customdata[2]:.0%}, %{customdata[3]:.0%}] "
            "of n = %{customdata[1]} facts<extra></extra>",
        ),
        secondary_y=True,
    )
    if loss.is_empty():
        fig.add_annotation(
            text="this model's revisions publish no training loss (trainer_state.json log_history)",
            showarrow=False,
            x=0.5,
            y=1.06,
            xref="paper",
            yref="paper",
            font={"size": 12, "color": "#555"},
        )
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="training loss", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="share of facts top-1", tickformat=".0%", range=[-0.03, 1.03], secondary_y=True)
    return base_layout(fig, height=420)
