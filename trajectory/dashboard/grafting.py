"""Figures of the grafting page: recovery of position grafts over revision pairs, component × layer-range
recovery per pair (a slider, the first step pooling every pair), and location against name relations.
Menus and sliders work in the exported HTML with no server.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from trajectory.dashboard.controls import (
    ChartContext,
    band_frame,
    band_trace,
    base_layout,
    empty_figure,
    menu,
    revision_slider,
    series,
    x_axis_menu,
)
from trajectory.dashboard.style import PROBABILITY_SCALE, RELATION_TYPE_STYLE, p_text
from trajectory.graft_names import LAYER_RANGES, POSITION_SETS

# Okabe & Ito: the pathways in full colour, their complements lighter and dashed.
PATHWAY_STYLE = {
    "FE": {"color": "#E69F00"},
    "LT": {"color": "#0072B2"},
    "FE+LT": {"color": "#000000"},
    "not FE": {"color": "#E69F00", "dash": "dot"},
    "not LT": {"color": "#0072B2", "dash": "dot"},
    "not FE+LT": {"color": "#000000", "dash": "dot"},
}
METRICS = {
    "learned_top1": "newly learned facts recovered (top-1)",
    "top1_recovery": "top-1 recovery, all facts",
    "top5_recovery": "top-5 recovery, all facts",
}
COMPONENT_ORDER = ("attention", "o", "ffn", "o+ffn")
COMPONENT_TITLES = {"attention": "attention (q, k, v)", "o": "O", "ffn": "FFN", "o+ffn": "O + FFN"}


def _configs(frame: pl.DataFrame) -> list[str]:
    present = set(frame["config"].to_list())
    return [p for p in POSITION_SETS if p in present]


def pathway_lines(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """One line per position graft over the pairs, the share of learned facts with its interval as a band; a
    menu switches the metric (the recoveries over all facts have no stored interval: no band)."""
    if frame.is_empty():
        return empty_figure("no revision pairs grafted for this analysis")
    if "learned_top1_lower" not in frame.columns:
        frame = frame.with_columns(learned_top1_lower=pl.lit(None, pl.Float64), learned_top1_upper=pl.lit(None, pl.Float64))
    parts = {c: frame.filter(pl.col("config") == c).sort("ordinal") for c in _configs(frame)}
    fig = go.Figure()
    traced = []
    for config, part in parts.items():
        colour = PATHWAY_STYLE.get(config, {}).get("color", "#444444")
        # The complements start hidden (click the legend): six bands over one another hide every line.
        shown = True if not config.startswith("not ") else "legendonly"
        band = band_frame(part, "learned_top1_lower", "learned_top1_upper")
        fig.add_trace(band_trace(band, colour, config, config, visible=shown))
        size = [6 + 2 * min(n, 10) for n in part["n_learned"].to_list()]
        fig.add_trace(
            go.Scatter(
                x=series(part, "x_step"),
                y=series(part, "learned_top1"),
                name=config,
                legendgroup=config,
                mode="lines+markers",
                visible=shown,
                line={"width": 2.5 if "+" in config else 2, **PATHWAY_STYLE.get(config, {})},
                marker={"size": size},
                customdata=part.select("revision", "donor_revision", "n_learned", "n_facts", "learned_top1_lower", "learned_top1_upper").rows(),
                connectgaps=False,
                hovertemplate=f"%{{customdata[0]}} → %{{customdata[1]}}<br>{config}: %{{y:.0%}}"
                f"<br>of n = %{{customdata[2]}} facts learned (of %{{customdata[3]}}); newly learned recovered: "
                f"95 % interval [%{{customdata[4]:.0%}}, %{{customdata[5]:.0%}}]<extra></extra>",
            )
        )
        traced += [band, part]

    def ys(metric: str) -> list:
        out = []
        for part in parts.values():
            band = series(band_frame(part, "learned_top1_lower", "learned_top1_upper"), "band")
            out += [band if metric == "learned_top1" else [None] * len(band), series(part, metric)]
        return out

    buttons = [{"label": label, "method": "restyle", "args": [{"y": ys(metric)}]} for metric, label in METRICS.items()]
    menus = [menu(buttons, 0.0, "metric")] + [m for m in [x_axis_menu(traced, 1, x=0.45)] if m]
    fig.update_layout(updatemenus=menus, legend={"title": {"text": "B's weights at"}})
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="recovery", tickformat=".0%")
    return base_layout(fig, height=480)


def component_heatmap(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Component (rows) × layer range (columns) → recovery of the learned facts; a slider over the pairs."""
    if frame.is_empty():
        return empty_figure("no component grafts stored for this analysis")
    components = [c for c in COMPONENT_ORDER if c in set(frame["component"].to_list())]
    ranges = [r for r in LAYER_RANGES if r in set(frame["layers"].to_list())]
    pooled = frame.group_by("component", "layers").agg(
        n_learned=pl.col("n_learned").sum(),
        learned_top1=pl.col("n_learned_top1").sum() / pl.col("n_learned").sum(),
        n_fact=pl.col("n_fact").sum(),
        n_relation=pl.col("n_relation").sum(),
        n_new_fact_relation=pl.col("n_new_fact_relation").sum(),
    )
    pairs = frame.select("ordinal", "revision", "donor_revision").unique().sort("ordinal").rows()

    def cells(part: pl.DataFrame) -> dict:
        lookup = {(r["component"], r["layers"]): r for r in part.iter_rows(named=True)}
        z, text = [], []
        for component in components:
            row, hover = [], []
            for layers in ranges:
                r = lookup.get((component, layers))
                row.append(None if r is None or not r["n_learned"] else r["learned_top1"])
                hover.append(
                    "no row"
                    if r is None
                    else f"{r['n_learned']} facts learned<br>at k+1 in these layers: {r['n_fact']} fact and "
                    f"{r['n_relation']} relation roles, {r['n_new_fact_relation']} of them new"
                )
            z.append(row)
            text.append(hover)
        return {"z": [z], "customdata": [text]}

    def empty_note(part: pl.DataFrame) -> list[dict]:
        """A pair where no fact was learned has nothing to recover: say so instead of a blank heatmap."""
        if part["n_learned"].sum():
            return []
        return [
            {
                "text": "no fact was learned between these revisions: nothing to recover",
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "font": {"size": 14, "color": "#444"},
                "bgcolor": "rgba(255,255,255,0.85)",
            }
        ]

    views = [("all pairs pooled", pooled)] + [(f"{a} → {b}", frame.filter(pl.col("revision") == a)) for _, a, b in pairs]
    first = cells(views[0][1])
    fig = go.Figure(
        go.Heatmap(
            x=[r.replace("_", " ") for r in ranges],
            y=[COMPONENT_TITLES[c] for c in components],
            z=first["z"][0],
            customdata=first["customdata"][0],
            colorscale=PROBABILITY_SCALE,
            zmin=0,
            zmax=1,
            colorbar={"tickformat": ".0%", "title": {"text": "learned facts<br>recovered"}},
            hovertemplate="%{y} at LT, %{x} of the layers<br>recovers %{z:.0%} of the learned facts<br>%{customdata}<extra></extra>",
        )
    )
    fig.update_layout(annotations=empty_note(views[0][1]))
    steps = [{"label": label, "method": "update", "args": [cells(part), {"annotations": empty_note(part)}]} for label, part in views]
    fig.update_layout(sliders=[revision_slider(steps, 0, "pair: ")])
    fig.update_xaxes(title_text="layers grafted")
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, height=460, margin={"b": 110})


def relation_type_bars(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Grouped bars with their intervals as error bars: position graft × relation type; a menu chooses the band of
    training. Over all pairs, a graft whose location-minus-name difference is not a finding says so on its label."""
    if frame.is_empty():
        return empty_figure("no revision pairs grafted for this analysis")
    for column in ("lower", "upper", "p_adjusted"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.Float64).alias(column))
    if "finding" not in frame.columns:
        frame = frame.with_columns(finding=pl.lit(None, pl.Boolean))
    configs = _configs(frame)
    types = [t for t in RELATION_TYPE_STYLE if t in set(frame["relation_type"].to_list())]
    bands = [b for b in ("all", "early", "middle", "late") if b in set(frame["band"].to_list())]
    tests = {r["config"]: r for r in frame.filter(pl.col("band") == "all").iter_rows(named=True)}

    def label(config: str) -> str:
        test = tests.get(config)
        if test is None or test["p_adjusted"] is None:
            return config
        return f"{config}<br>{'differ' if test['finding'] else 'n.s.'} ({p_text(test['p_adjusted'])})"

    def bars(band: str, relation_type: str) -> dict:
        lookup = {r["config"]: r for r in frame.filter((pl.col("band") == band) & (pl.col("relation_type") == relation_type)).iter_rows(named=True)}
        rows = [lookup.get(c, {}) for c in configs]
        y = [r.get("learned_top1") for r in rows]
        return {
            "y": y,
            "customdata": [[r.get("n_learned", 0), r.get("lower"), r.get("upper")] for r in rows],
            "error_y": {
                "type": "data",
                "symmetric": False,
                "color": "#333333",
                "thickness": 1.2,
                "array": [None if r.get("upper") is None or v is None else r["upper"] - v for r, v in zip(rows, y)],
                "arrayminus": [None if r.get("lower") is None or v is None else v - r["lower"] for r, v in zip(rows, y)],
            },
        }

    fig = go.Figure()
    x = [label(c) for c in configs]
    for relation_type in types:
        b = bars(bands[0], relation_type)
        fig.add_trace(
            go.Bar(
                x=x,
                y=b["y"],
                customdata=b["customdata"],
                error_y=b["error_y"],
                name=relation_type,
                marker={"color": RELATION_TYPE_STYLE[relation_type]["color"]},
                hovertemplate=f"{relation_type} relations, %{{x}}: %{{y:.0%}} [%{{customdata[1]:.0%}}, "
                f"%{{customdata[2]:.0%}}] of n = %{{customdata[0]}} learned facts<extra></extra>",
            )
        )
    buttons = []
    for band in bands:
        per_type = [bars(band, t) for t in types]
        buttons.append(
            {
                "label": band if band == "all" else f"{band} third",
                "method": "restyle",
                "args": [{key: [b[key] for b in per_type] for key in ("y", "customdata", "error_y")}],
            }
        )
    fig.update_layout(barmode="group", updatemenus=[menu(buttons, 0.0, "training")], legend={"title": {"text": "relation type"}})
    fig.update_xaxes(title_text="B's weights at (location against name over all pairs: BH-adjusted bootstrap p)")
    fig.update_yaxes(title_text="newly learned facts recovered", tickformat=".0%", range=[0, 1.05])
    return base_layout(fig)
