"""Figures of the extractive-structures page: the OCR curve, score heatmaps per layer, score shares per
role, and scores by role transition. Menus choose the measure (pretraining / finetune hop) and score;
everything works in the exported HTML with no server.
"""

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
    menu,
    series,
    x_axis_menu,
)
from trajectory.dashboard.style import DIVERGING, KIND_TITLES, ROLE_COLOURS, coloured_role, with_alpha
from trajectory.extractive.stage import SCORES
from trajectory.roles.scores import ROLES

HOP_COLOURS = {"first": "#0072B2", "second": "#D55E00"}


def _measure_label(measure: str, hop: str) -> str:
    return "pretraining (revision → next)" if measure == "pretraining" else f"finetune, {hop} hop"


def ocr_lines(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Mean rank per hop over training: implications (thick), facts (light), before finetuning (dashed), chance (dotted)."""
    if frame.is_empty():
        return empty_figure("no OCR experiment stored for this analysis")
    # Ranks as every page counts them, 1 = top (the store's are 0-based): chance (n + 1) / 2.
    ranks = ["implication_rank", "fact_rank", "implication_rank_before", "chance", "implication_rank_lower", "implication_rank_upper"]
    frame = frame.with_columns(pl.col(c) + 1 for c in ranks if c in frame.columns)
    fig = go.Figure()
    traced = []
    for (hop,), part in frame.sort("ordinal").partition_by(["hop"], as_dict=True, maintain_order=True).items():
        colour = HOP_COLOURS.get(hop, "#000000")
        with_band = banded(part, "implication_rank_lower")
        if with_band:
            band = band_frame(part, "implication_rank_lower", "implication_rank_upper")
            fig.add_trace(band_trace(band, colour, f"{hop} hop: implications", hop))
            traced.append(band)
        else:
            part = part.with_columns(implication_rank_lower=pl.lit(None, pl.Float64), implication_rank_upper=pl.lit(None, pl.Float64))
        custom = part.select("revision", "n_probes", "implication_rank_lower", "implication_rank_upper").rows()
        lines = [
            ("implication_rank", f"{hop} hop: implications", {"color": colour, "width": 3}, 1.0),
            ("fact_rank", f"{hop} hop: new facts", {"color": colour, "width": 1.5}, 0.45),
            ("implication_rank_before", f"{hop} hop: implications before finetuning", {"color": colour, "width": 1, "dash": "dash"}, 0.7),
            ("chance", f"{hop} hop: chance", {"color": colour, "width": 1.5, "dash": "dot"}, 0.8),
        ]
        for column, name, line, opacity in lines:
            fig.add_trace(
                go.Scatter(
                    x=series(part, "x_step"),
                    y=series(part, column),
                    customdata=custom,
                    name=name,
                    legendgroup=hop,
                    mode="lines+markers" if column == "implication_rank" else "lines",
                    marker={"size": 5},
                    line=line,
                    opacity=opacity,
                    hovertemplate=f"%{{customdata[0]}}<br>{name}: %{{y:.2f}}"
                    + (" [%{customdata[2]:.2f}, %{customdata[3]:.2f}]" if with_band and column == "implication_rank" else "")
                    + " of n = %{customdata[1]} probes<extra></extra>",
                )
            )
            traced.append(part)
    menus = [m for m in [x_axis_menu(traced, 1, x=0.0)] if m]
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="mean rank of the right answer (1 = top)", rangemode="tozero")
    fig.update_layout(updatemenus=menus, legend={"title": {"text": "series"}})
    return base_layout(fig, height=500)


def _views(frame: pl.DataFrame) -> list[tuple[str, str]]:
    """(measure, hop) pairs present, pretraining first."""
    pairs = frame.select("measure", "hop").unique().rows()
    return sorted(pairs, key=lambda p: (p[0] != "pretraining", p[1]))


def score_heatmaps(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """One heatmap per score (layer × revision); a menu switches the measure / hop."""
    if frame.is_empty():
        return empty_figure("no extractive scores stored for this analysis")
    views = _views(frame)
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(SCORES), horizontal_spacing=0.09)

    def grid(view: tuple[str, str], score: str) -> go.Heatmap:
        part = frame.filter((pl.col("measure") == view[0]) & (pl.col("hop") == view[1])).sort("ordinal", "layer")
        wide = part.pivot(on="layer", index=["ordinal", "revision", "x_step"], values=score, sort_columns=True).sort("ordinal")
        layers = [c for c in wide.columns if c not in ("ordinal", "revision", "x_step")]
        z = [wide[c].to_list() for c in layers]  # [layer][revision]
        bound = max((abs(v) for row in z for v in row if v is not None), default=1.0) or 1.0
        revisions = [wide["revision"].to_list()] * len(layers)
        return {"x": wide["x_step"].to_list(), "y": [int(c) for c in layers], "z": z, "zmin": -bound, "zmax": bound, "customdata": revisions}

    for col, score in enumerate(SCORES, start=1):
        g = grid(views[0], score)
        domain_end = fig.layout[f"xaxis{'' if col == 1 else col}"].domain[1]
        fig.add_trace(
            go.Heatmap(
                **g,
                colorscale=DIVERGING,
                zmid=0,
                colorbar={"len": 0.8, "x": domain_end + 0.005, "thickness": 10, "title": {"text": "score<br>(logits)", "side": "top"}},
                hovertemplate=f"%{{customdata}}<br>layer %{{y}}<br>{score}: %{{z:.3g}}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    buttons = []
    for view in views:
        grids = [grid(view, s) for s in SCORES]
        buttons.append(
            {
                "label": _measure_label(*view),
                "method": "restyle",
                "args": [{k: [g[k] for g in grids] for k in ("x", "y", "z", "zmin", "zmax", "customdata")}],
            }
        )
    fig.update_layout(updatemenus=[menu(buttons, 0.0, "measure")])
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="layer", dtick=1)
    return base_layout(fig, height=460)


def share_areas(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Stacked shares per role over training; a menu chooses (measure / hop, score)."""
    if frame.is_empty():
        return empty_figure("no extractive scores stored for this analysis")
    views = [(m, h, s) for m, h in _views(frame) for s in SCORES]
    parts = frame.sort("ordinal").partition_by(["measure", "hop", "score", "role"], as_dict=True, maintain_order=True)
    empty = frame.clear()

    def role_series(view: tuple[str, str], role: str) -> pl.DataFrame:
        return parts.get((*view, role), empty)

    fig = go.Figure()
    for role in ROLES:
        part = role_series(views[0], role)
        fig.add_trace(
            go.Scatter(
                x=series(part, "x_step"),
                y=series(part, "share"),
                customdata=part.select("revision", "n_components").rows(),
                name=role,
                stackgroup="share",
                mode="lines",
                line={"width": 0.6, "color": ROLE_COLOURS[role]},
                fillcolor=with_alpha(ROLE_COLOURS[role], 0.85),
                hovertemplate=f"%{{customdata[0]}}<br>{role}: %{{y:.0%}} (%{{customdata[1]}} components)<extra></extra>",
            )
        )
    buttons = []
    for view in views:
        per_role = [role_series(view, r) for r in ROLES]
        buttons.append(
            {
                "label": f"{view[2]}, {_measure_label(view[0], view[1])}",
                "method": "restyle",
                "args": [
                    {
                        "x": [series(p, "x_step") for p in per_role],
                        "y": [series(p, "share") for p in per_role],
                        "customdata": [p.select("revision", "n_components").rows() for p in per_role],
                    }
                ],
            }
        )
    fig.update_layout(updatemenus=[menu(buttons, 0.0, "score")], legend={"title": {"text": "role"}}, hovermode="x unified")
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="share of Σ|score|", tickformat=".0%", range=[0, 1.0])
    return base_layout(fig)


def transition_scores(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Role at k (rows) × role at k+1 (columns) → mean |score|; one panel per kind, a menu per score."""
    if frame.is_empty():
        return empty_figure("no consecutive revisions scored for this analysis")
    kinds = [k for k in KIND_TITLES if k in set(frame["kind"].to_list())]
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[KIND_TITLES[k] for k in kinds], horizontal_spacing=0.2)

    def cells(kind: str, score: str) -> tuple[list[list[float | None]], list[list[int]]]:
        part = frame.filter(pl.col("kind") == kind)
        lookup = {(r["from_role"], r["to_role"]): (r[score], r["n"]) for r in part.iter_rows(named=True)}
        z = [[lookup.get((a, b), (None, 0))[0] for b in ROLES] for a in ROLES]
        n = [[lookup.get((a, b), (None, 0))[1] for b in ROLES] for a in ROLES]
        return z, n

    def top(z: list[list[float | None]]) -> float:  # each panel its own scale from 0 (FFN scores are ten times the heads')
        return max((v for row in z for v in row if v is not None), default=1.0) or 1.0

    labels = [coloured_role(r) for r in ROLES]
    for col, kind in enumerate(kinds, start=1):
        z, n = cells(kind, SCORES[0])
        domain_end = fig.layout[f"xaxis{'' if col == 1 else col}"].domain[1]
        fig.add_trace(
            go.Heatmap(
                x=labels,
                y=labels,
                z=z,
                customdata=n,
                colorscale="Cividis",
                zmin=0,
                zmax=top(z),
                colorbar={"x": domain_end + 0.01, "len": 0.8, "thickness": 10, "title": {"text": "mean |score|", "side": "top"}},
                hovertemplate="%{y} → %{x}<br>mean |score| %{z:.3g} over %{customdata} components<extra></extra>",
            ),
            row=1,
            col=col,
        )
    buttons = []
    for score in SCORES:
        grids = [cells(kind, score)[0] for kind in kinds]
        buttons.append({"label": score, "method": "restyle", "args": [{"z": grids, "zmax": [top(z) for z in grids]}]})
    fig.update_layout(updatemenus=[menu(buttons, 0.0, "score")])
    fig.update_xaxes(title_text="role at the next revision")
    fig.update_yaxes(title_text="role at the revision", autorange="reversed")
    return base_layout(fig, height=480)
