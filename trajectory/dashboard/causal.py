"""Figures of the causal-checks page: metric lines per group, the role × relation effect matrix with a
revision slider, and attribution against causal onset. Everything works in the exported HTML with no server."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from trajectory.dashboard.components import COMPONENT_LINK, component_key
from trajectory.dashboard.controls import (
    ChartContext,
    band_frame,
    band_trace,
    base_layout,
    empty_figure,
    menu,
    revision_slider,
    series,
)
from trajectory.dashboard.style import DIVERGING, ROLE_COLOURS, p_text, relation_label

# Metric columns each query may carry, with their labels and whether they are shares.
METRICS = {
    "faithfulness_median": ("faithfulness (median)", False),
    "share_top1_circuit_only": ("top-1, circuit only", True),
    "share_top1_complement": ("top-1, circuit ablated", True),
    "share_top1_clean": ("top-1, clean", True),
    "mean_circuit_components": ("circuit components", False),
    "subject_first": ("subject first", True),  # first: the emergence figure's title asks about it
    "share_top1_last": ("top-1 at the last token", True),
    "share_top1_subject": ("top-1 at the subject", True),
    "share_top10_subject": ("top-10 at the subject", True),
    "mean_components": ("components per circuit", False),
    "mean_layer": ("mean layer", False),
    "mean_iou_final": ("IoU with the last revision (components)", False),
    "mean_edge_iou_final": ("IoU with the last revision (route edges)", False),
    "topk_area": ("area under the top-k curve", False),
    "topk_k80": ("components to reach 80 % (k)", False),
    "effect_iou": ("IoU of IFR and causal circuits", True),
    "effect_precision": ("precision: IFR components that are causal", True),
    "effect_recall": ("recall: causal components IFR finds", True),
    "effect_spearman": ("Spearman ρ, IFR importance vs cost", False),
    "atp_spearman": ("Spearman ρ, attribution patching vs ablation", False),
    "share_lost": ("lost: right before, wrong now", True),
    "share_regained": ("regained: right once, wrong before, right now", True),
}
ALL_FACTS_COLOUR = "#8C8C8C"  # thick grey: apart from the black location line
GROUP_COLOURS = {
    "high": "#D55E00",
    "medium": "#E69F00",
    "low": "#56B4E9",
    "unknown": "#999999",
    "location": "#000000",
    "name": "#D55E00",
    "other": "#56B4E9",
}


def group_lines(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """One line per group ('*' thick) of the first grouping, each with its stored interval as a band; menus
    switch the metric and the grouping. The hover gives the interval and the facts each point rests on."""
    if frame.is_empty():
        return empty_figure("nothing stored for this figure in this analysis")
    metrics = [m for m in METRICS if m in frame.columns]
    for m in metrics:  # a measure without stored intervals: no band, n from the query
        if f"{m}_lower" not in frame.columns:
            frame = frame.with_columns(
                pl.lit(None, pl.Float64).alias(f"{m}_lower"), pl.lit(None, pl.Float64).alias(f"{m}_upper"), pl.col("n_facts").alias(f"{m}_n")
            )
    dimensions = list(dict.fromkeys(frame["dimension"].to_list()))
    parts = [(d, g, part.sort("ordinal")) for (d, g), part in frame.partition_by(["dimension", "grp"], as_dict=True, maintain_order=True).items()]
    parts.sort(key=lambda p: (dimensions.index(p[0]), p[1] != "*", p[1]))
    fig = go.Figure()
    # No near-black series: black is the location facts' colour, and "all facts" is drawn thick grey.
    palette = ["#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#D55E00", "#F0E442", "#882255", "#44AA99", "#AA4499"]

    def drawn(metric: str) -> tuple[list, list]:
        """Per trace (a band, then its line, per group): y and customdata for ``metric``."""
        ys, data = [], []
        for _, _, part in parts:
            ys += [series(band_frame(part, f"{metric}_lower", f"{metric}_upper"), "band"), series(part, metric)]
            data += [None, part.select("revision", pl.col(f"{metric}_n").fill_null(0), f"{metric}_lower", f"{metric}_upper").rows()]
        return ys, data

    ys, data = drawn(metrics[0])
    percent = ".0%" if METRICS[metrics[0]][1] else ".2f"
    for i, (dimension, group, part) in enumerate(parts):
        whole = group == "*"
        colour = ALL_FACTS_COLOUR if whole else GROUP_COLOURS.get(group, palette[i % len(palette)])
        name = "all facts" if whole else relation_label(group)
        band = band_frame(part, f"{metrics[0]}_lower", f"{metrics[0]}_upper")
        fig.add_trace(band_trace(band, colour, name, f"{dimension}:{group}", visible=dimension == dimensions[0]))
        fig.add_trace(
            go.Scatter(
                x=series(part, "x_step"),
                y=ys[2 * i + 1],
                name=name,
                legendgroup=f"{dimension}:{group}",
                mode="lines+markers",
                line={"width": 3.5 if whole else 1.8, "color": colour},
                marker={"size": 4},
                visible=dimension == dimensions[0],
                customdata=data[2 * i + 1],
                hovertemplate=f"%{{customdata[0]}}<br>{name}: %{{y:{percent}}} [%{{customdata[2]:{percent}}}, "
                f"%{{customdata[3]:{percent}}}] of n = %{{customdata[1]}} facts<extra></extra>",
            )
        )

    def metric_button(metric: str) -> dict:
        ys, data = drawn(metric)
        number = ".0%" if METRICS[metric][1] else ".2f"
        hovers = [
            None
            if k % 2 == 0
            else f"%{{customdata[0]}}<br>{fig.data[k].name}: %{{y:{number}}} [%{{customdata[2]:{number}}}, "
            f"%{{customdata[3]:{number}}}] of n = %{{customdata[1]}} facts<extra></extra>"
            for k in range(len(fig.data))
        ]
        return {
            "label": METRICS[metric][0],
            "method": "update",
            "args": [
                {"y": ys, "customdata": data, "hovertemplate": hovers},
                {"yaxis.tickformat": ".0%" if METRICS[metric][1] else "", "yaxis.title.text": METRICS[metric][0]},
            ],
        }

    group_buttons = [{"label": d, "method": "restyle", "args": [{"visible": [p[0] == d for p in parts for _ in range(2)]}]} for d in dimensions]
    menus = [menu([metric_button(m) for m in metrics], 0.0, "measure")]
    menus += [menu(group_buttons, 0.5, "lines")] if len(dimensions) > 1 else []
    fig.update_layout(updatemenus=menus, legend={"title": {"text": "group (band: 95 % interval)"}})
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text=METRICS[metrics[0]][0], tickformat=".0%" if METRICS[metrics[0]][1] else "", rangemode="tozero")
    return base_layout(fig, height=480)


def _set_label(role: str, relation: str) -> str:
    where = "every relation" if relation == "*" else relation_label(relation)
    return f"<span style='color:{ROLE_COLOURS[role]}'><b>{role}</b></span>: {where}"


def _effect_tip(r: dict, own: bool) -> str:
    """A cell's hover: the set, the facts, the effect against its controls (mean ± sd over n draws), and on the
    set's own facts its test (or why it has none)."""
    control = (
        "no control"
        if r["control_effect"] is None
        else (f"control {r['control_effect']:.2f} ± {r['control_sd'] or 0:.2f} (sd over {r['n_draws']} draws)")
    )
    tip = f"{r['n_heads']} heads, {r['n_ffns']} FFNs; on n = {r['n_facts']} held-out facts<br>effect {r['role_effect']:.2f}, {control}"
    if not r["size_matched"]:  # the matrix's own controls, on any relation's facts (kept from before the held-out test)
        tip += "<br>controls smaller than the set: no evidence either way"
    if not own:
        return tip
    if r.get("untestable"):
        return tip + f"<br>no test: {r['untestable']}"
    if r.get("p_adjusted") is not None:
        verdict = "causal (a finding)" if r.get("causal") else "not a finding"
        tip += (
            f"<br>test ({r['test']}, {r['test_draws']} draws, n = {r['n_test_facts']} facts): {p_text(r['p'])}, "
            f"{p_text(r['p_adjusted'], 'BH-adjusted p')}: {verdict}"
        )
    return tip


def role_effect_heatmap(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Role set (rows) × measured relation (columns) → role effect − control effect; ✓ where the set is causal by
    its test (view role_causality); a slider over the revisions (last one shown first)."""
    if frame.is_empty():
        return empty_figure("no role sets ablated in this analysis")
    sets = (
        frame.select("role", "ablated_relation")
        .unique()
        .sort(pl.col("role").replace_strict({r: i for i, r in enumerate(ROLE_COLOURS)}, return_dtype=pl.Int32), "ablated_relation")
        .rows()
    )
    measured = sorted(frame["measured_relation"].unique().to_list())
    revisions = frame.select("ordinal", "revision").unique().sort("ordinal").rows()
    diff = frame.with_columns((pl.col("role_effect") - pl.col("control_effect")).alias("excess"))
    bound = max(1e-9, float(diff["excess"].abs().max() or 1.0))

    def cells(revision: str) -> dict:
        lookup = {
            (r["role"], r["ablated_relation"], r["measured_relation"]): r for r in diff.filter(pl.col("revision") == revision).iter_rows(named=True)
        }
        z, text, hover = [], [], []
        for role, relation in sets:
            row, marks, tips = [], [], []
            for m in measured:
                r = lookup.get((role, relation, m))
                row.append(None if r is None or r["excess"] is None else r["excess"])
                own = r is not None and (relation == "*" or m == relation)
                # a blank cell says why: the set has no member at this revision, or it was not measured
                marks.append("no member" if r is None else "not measured" if r["excess"] is None else "✓" if own and r.get("causal") else "")
                tips.append("not held at this revision" if r is None else _effect_tip(r, own))
            z.append(row)
            text.append(marks)
            hover.append(tips)
        return {"z": z, "text": text, "customdata": hover}

    last = cells(revisions[-1][1])
    fig = go.Figure(
        go.Heatmap(
            x=[relation_label(m) for m in measured],
            y=[_set_label(r, q) for r, q in sets],
            **last,
            texttemplate="%{text}",
            colorscale=DIVERGING,
            zmid=0,
            zmin=-bound,
            zmax=bound,
            colorbar={"title": {"text": "ΔR − ΔR<sub>control</sub>"}},
            hovertemplate="%{y} → %{x}<br>%{z:.2f} logits vs control<br>%{customdata}<extra></extra>",
        )
    )
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
    steps = frame.select(pl.concat_list("attributed_step", "causal_step").explode().drop_nulls())[:, 0]
    middle = (steps.min() + steps.max()) / 2 if steps.len() else 0
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
        fig.add_trace(
            go.Scatter(
                x=series(part, "attributed_step"),
                y=labels,
                mode="markers",
                name=f"{role}: first attributed",
                marker={"symbol": "circle-open", "size": 11, "color": colour, "line": {"width": 2}},
                customdata=part.select("first_attributed").rows(),
                hovertemplate="%{y}<br>first holds components at %{customdata[0]}<extra></extra>",
            )
        )
        causal = part.filter(pl.col("causal_step").is_not_null())
        if causal.height:
            fig.add_trace(
                go.Scatter(
                    x=series(causal, "causal_step"),
                    y=[_set_label(role, q) for q in causal["relation"].to_list()],
                    mode="markers",
                    name=f"{role}: first causal",
                    marker={"symbol": "circle", "size": 11, "color": colour},
                    customdata=causal.select("first_causal", "n_causal_revisions").rows(),
                    hovertemplate="%{y}<br>first causal at %{customdata[0]} (%{customdata[1]} revisions causal)<extra></extra>",
                )
            )
        never = part.filter(pl.col("causal_step").is_null() & pl.col("attributed_step").is_not_null())
        if never.height:  # drawn as words beside the hollow marker, not as a legend entry with nothing behind it
            # on the marker's roomier side: to its right the words of a late marker would run past the plot's edge
            late = [x > middle for x in never["attributed_step"].to_list()]
            fig.add_trace(
                go.Scatter(
                    x=series(never, "attributed_step"),
                    y=[_set_label(role, q) for q in never["relation"].to_list()],
                    mode="text",
                    text=["never causal  " if x else "  never causal" for x in late],
                    textposition=["middle left" if x else "middle right" for x in late],
                    textfont={"color": "#666666", "size": 11},
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, height=max(380, 140 + 24 * frame.height), margin={"l": 260})


def topk_curves(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """The mean threshold-free curve (faithfulness against the share of components kept) at one revision, a
    slider over the revisions (the last first), and each stored τ's circuits as a point on the same axes."""
    curve = frame.filter(pl.col("kind") == "curve")
    if curve.is_empty() or curve["faithfulness"].null_count() == curve.height:
        return empty_figure("no top-k curve: no fact's model beats its fully ablated self by 1 logit (or ablation.topk is off)")
    revisions = curve.select("ordinal", "revision").unique().sort("ordinal").rows()
    labels = sorted(set(frame.filter(pl.col("kind") == "circuit")["label"].drop_nulls().to_list()))
    palette = ["#D55E00", "#009E73", "#CC79A7", "#E69F00"]

    def data(revision: str) -> dict:
        here = frame.filter(pl.col("revision") == revision)
        line = here.filter(pl.col("kind") == "curve").sort("k")
        xs, ys, custom = [series(line, "share_kept")], [series(line, "faithfulness")], [line.select("k", "n_facts").rows()]
        for label in labels:
            point = here.filter((pl.col("kind") == "circuit") & (pl.col("label") == label))
            xs.append(series(point, "share_kept"))
            ys.append(series(point, "faithfulness"))
            custom.append(point.select("n_facts").rows())
        return {"x": xs, "y": ys, "customdata": custom}

    last = data(revisions[-1][1])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=last["x"][0],
            y=last["y"][0],
            customdata=last["customdata"][0],
            mode="lines+markers",
            name="top k by IFR importance",
            line={"color": "#0072B2", "width": 2.5},
            hovertemplate="k = %{customdata[0]} (%{x:.0%} of the components): mean faithfulness %{y:.2f} "
            "over n = %{customdata[1]} facts<extra></extra>",
        )
    )
    for i, label in enumerate(labels):
        fig.add_trace(
            go.Scatter(
                x=last["x"][1 + i],
                y=last["y"][1 + i],
                customdata=last["customdata"][1 + i],
                mode="markers",
                name=f"the circuits at {label}",
                marker={"size": 14, "symbol": "diamond", "color": palette[i % 4]},
                hovertemplate=f"circuits at {label}: %{{x:.0%}} of the components on average, median "
                "faithfulness %{y:.2f} over n = %{customdata[0]} facts<extra></extra>",
            )
        )
    steps = [{"label": name, "method": "restyle", "args": [data(name)]} for _, name in revisions]
    fig.update_layout(sliders=[revision_slider(steps, len(steps) - 1, "revision: ")], legend={"title": {"text": "kept"}})
    fig.update_xaxes(title_text="share of heads and FFNs kept (the rest ablated)", tickformat=".0%", range=[-0.02, 1.02])
    fig.update_yaxes(title_text="faithfulness", rangemode="tozero")
    return base_layout(fig, height=480, margin={"b": 120})


ROLE_MARKS = {"general": "G", "entity": "E", "relation": "R", "fact": "F", "deactivated": ""}


def effect_heatmap(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Relation (rows) × component (columns) → the component's mean effect on R when ablated alone, over the
    relation's measured facts; each cell marked with the component's IFR role letter for the relation, the hover
    giving both roles; a slider over the revisions with effects (the last shown first)."""
    if frame.is_empty():
        return empty_figure("no single-component effects stored (effects.enabled), or no fact's model beats its fully ablated self by 1 logit")
    components = frame.select("kind", "layer", "head").unique().sort(pl.col("kind") == "ffn", "layer", "head").rows()
    labels = [component_key(kind, layer, head) for kind, layer, head in components]
    relations = sorted(frame["relation"].unique().to_list())
    revisions = frame.select("ordinal", "revision").unique().sort("ordinal").rows()
    # Colours on the heads' range: an FFN's effect is often ten times a head's, and would wash the heads out; cells
    # beyond it saturate (the hover gives every value).
    heads = frame.filter(pl.col("kind") == "head")["mean_effect"].abs().max()
    largest = float(frame["mean_effect"].abs().max() or 1.0)
    bound = max(1e-9, float(heads) if heads else largest)
    scale = "mean ΔR" + (f"<br>(beyond ±{bound:.2g}:<br>saturated)" if largest > bound else "")
    source = "estimated by attribution patching" if frame["estimated"].all() else "ablated alone"

    def cells(revision: str) -> dict:
        lookup = {(r["relation"], r["kind"], r["layer"], r["head"]): r for r in frame.filter(pl.col("revision") == revision).iter_rows(named=True)}
        z, text, hover = [], [], []
        for relation in relations:
            row, marks, tips = [], [], []
            for kind, layer, head in components:
                r = lookup.get((relation, kind, layer, head))
                row.append(None if r is None else r["mean_effect"])
                marks.append("" if r is None else ROLE_MARKS[r["ifr_role"]])
                tips.append(
                    "no measured fact"
                    if r is None
                    else f"IFR role {r['ifr_role']}, causal role {r['causal_role']}<br>in the causal circuit of "
                    f"{r['n_causal_facts']} of n = {r['n_facts']} facts"
                    + ("" if r["mean_atp"] is None or r["estimated"] else f"<br>attribution patching: {r['mean_atp']:.2f}")
                )
            z.append(row)
            text.append(marks)
            hover.append(tips)
        return {"z": [z], "text": [text], "customdata": [hover]}

    last = cells(revisions[-1][1])
    fig = go.Figure(
        go.Heatmap(
            x=labels,
            y=[relation_label(r) for r in relations],
            z=last["z"][0],
            text=last["text"][0],
            customdata=last["customdata"][0],
            texttemplate="%{text}",
            textfont={"size": 9},
            colorscale=DIVERGING,
            zmid=0,
            zmin=-bound,
            zmax=bound,
            colorbar={"title": {"text": scale}},
            xgap=1,
            ygap=1,
            meta={"link": COMPONENT_LINK.replace("{component}", "{x}")},
            hovertemplate=f"%{{x}} on %{{y}} facts<br>mean ΔR %{{z:.2f}} logits ({source})<br>%{{customdata}}<br>click: this component over training<extra></extra>",
        )
    )
    steps = [{"label": name, "method": "restyle", "args": [cells(name)]} for _, name in revisions]
    fig.update_layout(sliders=[revision_slider(steps, len(steps) - 1, "revision: ")])
    fig.update_xaxes(
        title_text="component (letters: its IFR role for the relation, G general, E entity, R relation, F fact)",
        tickangle=-90,
        tickfont={"size": 8},
        side="top",
    )
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, height=max(420, 220 + 30 * len(relations)), margin={"l": 170, "t": 200, "b": 90})
