"""Figures of the causal-checks page: metric lines per group, the role × relation effect matrix with a
revision slider, and attribution against causal onset. Everything works in the exported HTML with no server."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from trajectory.dashboard.controls import ChartContext, base_layout, empty_figure, menu, revision_slider, series
from trajectory.dashboard.style import ROLE_COLOURS, relation_label

# Metric columns each query may carry, with their labels and whether they are shares.
METRICS = {
    "faithfulness_median": ("faithfulness (median)", False),
    "share_top1_circuit_only": ("top-1, circuit only", True),
    "share_top1_complement": ("top-1, circuit ablated", True),
    "share_top1_clean": ("top-1, clean", True),
    "mean_circuit_components": ("circuit components", False),
    "share_top1_last": ("top-1 at the last token", True),
    "share_top1_subject": ("top-1 at the subject", True),
    "share_top10_subject": ("top-10 at the subject", True),
    "subject_first": ("subject first", True),
    "mean_components": ("components per circuit", False),
    "mean_layer": ("mean layer", False),
    "mean_iou_final": ("IoU with the last revision", False),
}
GROUP_COLOURS = {"high": "#D55E00", "medium": "#E69F00", "low": "#56B4E9", "unknown": "#999999",
                 "location": "#000000", "name": "#D55E00", "other": "#56B4E9"}


def group_lines(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """One line per group ('*' thick) of the first grouping; menus switch the metric and the grouping."""
    if frame.is_empty():
        return empty_figure("nothing stored for this figure in this analysis")
    metrics = [m for m in METRICS if m in frame.columns]
    dimensions = list(dict.fromkeys(frame["dimension"].to_list()))
    parts = [(d, g, part.sort("ordinal")) for (d, g), part in frame.partition_by(["dimension", "grp"], as_dict=True, maintain_order=True).items()]
    parts.sort(key=lambda p: (dimensions.index(p[0]), p[1] != "*", p[1]))
    fig = go.Figure()
    palette = ["#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999", "#666666"]
    for i, (dimension, group, part) in enumerate(parts):
        whole = group == "*"
        colour = "#222222" if whole else GROUP_COLOURS.get(group, palette[i % len(palette)])
        fig.add_trace(go.Scatter(
            x=series(part, "x_step"), y=series(part, metrics[0]), name="all facts" if whole else relation_label(group),
            mode="lines+markers", line={"width": 3.5 if whole else 1.8, "color": colour}, marker={"size": 4},
            visible=dimension == dimensions[0], customdata=part.select("revision", "n_facts").rows(),
            hovertemplate=f"%{{customdata[0]}}<br>{group}: %{{y:.3f}} (%{{customdata[1]}} facts)<extra></extra>",
        ))
    metric_buttons = [{"label": METRICS[m][0], "method": "update",
                       "args": [{"y": [series(p, m) for _, _, p in parts]},
                                {"yaxis.tickformat": ".0%" if METRICS[m][1] else "", "yaxis.title.text": METRICS[m][0]}]}
                      for m in metrics]
    group_buttons = [{"label": d, "method": "restyle", "args": [{"visible": [p[0] == d for p in parts]}]} for d in dimensions]
    menus = [menu(metric_buttons, 0.0, "measure")] + ([menu(group_buttons, 0.5, "lines")] if len(dimensions) > 1 else [])
    fig.update_layout(updatemenus=menus, legend={"title": {"text": "group"}})
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text=METRICS[metrics[0]][0], tickformat=".0%" if METRICS[metrics[0]][1] else "")
    return base_layout(fig, height=480)


def _set_label(role: str, relation: str) -> str:
    where = "every relation" if relation == "*" else relation_label(relation)
    return f"<span style='color:{ROLE_COLOURS[role]}'><b>{role}</b></span>: {where}"


def role_effect_heatmap(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Role set (rows) × measured relation (columns) → role effect − control effect; ✓ where it beats the
    control; a slider over the revisions (last one shown first)."""
    if frame.is_empty():
        return empty_figure("no role sets ablated in this analysis")
    sets = frame.select("role", "ablated_relation").unique().sort(
        pl.col("role").replace_strict({r: i for i, r in enumerate(ROLE_COLOURS)}, return_dtype=pl.Int32), "ablated_relation").rows()
    measured = sorted(frame["measured_relation"].unique().to_list())
    revisions = frame.select("ordinal", "revision").unique().sort("ordinal").rows()
    diff = frame.with_columns((pl.col("role_effect") - pl.col("control_effect")).alias("excess"))
    bound = max(1e-9, float(diff["excess"].abs().max() or 1.0))

    def cells(revision: str) -> dict:
        lookup = {(r["role"], r["ablated_relation"], r["measured_relation"]): r
                  for r in diff.filter(pl.col("revision") == revision).iter_rows(named=True)}
        z, text, hover = [], [], []
        for role, relation in sets:
            row, marks, tips = [], [], []
            for m in measured:
                r = lookup.get((role, relation, m))
                row.append(None if r is None or r["excess"] is None else r["excess"])
                marks.append("✓" if r is not None and r["beats_control"] else "")
                tips.append("not held at this revision" if r is None else
                            f"{r['n_heads']} heads, {r['n_ffns']} FFNs; on {r['n_facts']} facts<br>effect {r['role_effect']:.2f}, "
                            f"control {r['control_effect'] if r['control_effect'] is None else round(r['control_effect'], 2)}")
            z.append(row)
            text.append(marks)
            hover.append(tips)
        return {"z": z, "text": text, "customdata": hover}

    last = cells(revisions[-1][1])
    fig = go.Figure(go.Heatmap(
        x=[relation_label(m) for m in measured], y=[_set_label(r, q) for r, q in sets], **last, texttemplate="%{text}",
        colorscale="RdBu", zmid=0, zmin=-bound, zmax=bound, colorbar={"title": {"text": "ΔR − ΔR<sub>control</sub>"}},
        hovertemplate="%{y} → %{x}<br>%{z:.2f} logits vs control<br>%{customdata}<extra></extra>",
    ))
    steps = [{"label": name, "method": "restyle", "args": [{key: [value] for key, value in cells(name).items()}]} for _, name in revisions]
    fig.update_layout(sliders=[revision_slider(steps, len(steps) - 1, "revision: ")])
    fig.update_xaxes(title_text="facts measured (relation)", tickangle=-30, side="top")  # the slider sits below
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, height=max(420, 160 + 26 * len(sets)), margin={"l": 260, "t": 190, "b": 90})


def onset_dumbbells(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Per role set: first attributed step (hollow) and first causal step (filled), joined by a line."""
    if frame.is_empty():
        return empty_figure("no roles stored for this analysis")
    frame = frame.sort(pl.col("role").replace_strict({r: i for i, r in enumerate(ROLE_COLOURS)}, return_dtype=pl.Int32), "relation")
    fig = go.Figure()
    for role in dict.fromkeys(frame["role"].to_list()):
        part = frame.filter(pl.col("role") == role)
        labels = [_set_label(role, q) for q in part["relation"].to_list()]
        colour = ROLE_COLOURS[role]
        xs, ys = [], []
        for label, a, c in zip(labels, part["attributed_step"].to_list(), part["causal_step"].to_list()):
            if c is not None:
                xs += [a, c, None]
                ys += [label, label, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": colour, "width": 2}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=series(part, "attributed_step"), y=labels, mode="markers", name=f"{role}: first attributed",
                                 marker={"symbol": "circle-open", "size": 11, "color": colour, "line": {"width": 2}},
                                 customdata=part.select("first_attributed").rows(),
                                 hovertemplate="%{y}<br>first holds components at %{customdata[0]}<extra></extra>"))
        fig.add_trace(go.Scatter(x=series(part, "causal_step"), y=labels, mode="markers", name=f"{role}: first causal",
                                 marker={"symbol": "circle", "size": 11, "color": colour},
                                 customdata=part.select("first_causal", "n_causal_revisions").rows(),
                                 hovertemplate="%{y}<br>first causal at %{customdata[0]} (%{customdata[1]} revisions causal)<extra></extra>"))
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, height=max(380, 140 + 24 * frame.height), margin={"l": 260})
