"""Figures of roles at one moment or between two: Markov transition heatmap, layer × head role grid,
and the Sankey of role flows between chosen revisions."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from trajectory.dashboard.components import COMPONENT_LINK
from trajectory.dashboard.controls import (
    ChartContext,
    base_layout,
    empty_figure,
    kinds_in,
    relation_menu,
    relations_in,
    revision_slider,
)
from trajectory.dashboard.style import (
    ALL_RELATIONS,
    KIND_SINGULAR,
    KIND_TITLES,
    PROBABILITY_SCALE,
    ROLE_COLOURS,
    coloured_role,
    relation_label,
    with_alpha,
)
from trajectory.roles.scores import ROLES

POOLED = "*"  # from_revision of the matrix pooled over all consecutive pairs
SCORE_COLUMNS = ["general_score", "entity_score", "relation_score", "fact_score"]


def transition_heatmap(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """P(next role | role) as a from × to heatmap per kind, with a slider over revision pairs.

    Frame: from_revision, to_revision, from_ordinal (-1 for the pooled matrix), kind, from_order,
    to_order, n, p (NULL where the from-role had no members: drawn blank, said so on hover).
    """
    if frame.is_empty():
        return empty_figure("Markov transitions need at least two stored revisions")
    kinds = kinds_in(frame)
    pairs = frame.select("from_ordinal", "from_revision", "to_revision").unique().sort("from_ordinal").rows()
    cells = {(o, k): part for (o, k), part in frame.partition_by(["from_ordinal", "kind"], as_dict=True).items()}

    def matrices(ordinal: int, kind: str) -> tuple[list, list, list]:
        part = cells[(ordinal, kind)].sort("from_order", "to_order")
        p = [[None] * len(ROLES) for _ in ROLES]
        text = [[""] * len(ROLES) for _ in ROLES]
        detail = [[[0, 0, "no interval"]] * len(ROLES) for _ in ROLES]
        totals = part.group_by("from_order").agg(pl.col("n").sum()).rows_by_key("from_order", unique=True)
        for row in part.iter_rows(named=True):
            a, b, total = row["from_order"], row["to_order"], totals[row["from_order"]][0]
            p[a][b] = row["p"]
            # A probability resting on one member is marked: it can only be 0 or 1.
            text[a][b] = "" if row["p"] is None else f"{row['p']:.2f}" + ("¹" if total == 1 else "")
            low, high = row.get("p_lower"), row.get("p_upper")
            interval = (
                "no band"
                if low is None or high is None
                else f"95 % resampling band [{low:.2f}, {high:.2f}]"
                + (
                    " (the estimate lies outside it: the band is biased)"
                    if row["p"] is not None and not low - 1e-9 <= row["p"] <= high + 1e-9
                    else ""
                )
            )
            detail[a][b] = [row["n"], total, interval]
        return p, text, detail

    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[KIND_TITLES[k] for k in kinds], horizontal_spacing=0.12)
    labels = [coloured_role(r) for r in ROLES]
    first = pairs[0][0]
    for col, kind in enumerate(kinds, start=1):
        p, text, detail = matrices(first, kind)
        fig.add_trace(
            go.Heatmap(
                z=p,
                text=text,
                customdata=detail,
                x=labels,
                y=labels,
                coloraxis="coloraxis",
                texttemplate="%{text}",
                xgap=2,
                ygap=2,
                name=KIND_TITLES[kind],
                hovertemplate=(
                    "%{y} → %{x}<br>P = %{z:.3f}, %{customdata[2]}<br>%{customdata[0]} of n = %{customdata[1]} moves of a ("
                    + KIND_SINGULAR[kind]
                    + ", relation) pair<extra></extra>"
                ),
            ),
            row=1,
            col=col,
        )
    steps = []
    for ordinal, from_revision, to_revision in pairs:
        data = [matrices(ordinal, kind) for kind in kinds]
        label = "all pairs pooled" if from_revision == POOLED else f"{from_revision} → {to_revision}"
        steps.append(
            {
                "label": label,
                "method": "restyle",
                "args": [{"z": [d[0] for d in data], "text": [d[1] for d in data], "customdata": [d[2] for d in data]}],
            }
        )
    fig.update_xaxes(title_text="role at the next revision", side="bottom")
    fig.update_yaxes(title_text="role now", autorange="reversed")
    fig.update_layout(
        coloraxis={"colorscale": PROBABILITY_SCALE, "cmin": 0, "cmax": 1, "colorbar": {"title": {"text": "P(next | now)"}}},
        sliders=[revision_slider(steps, 0, "revisions: ")],
    )
    return base_layout(fig, height=520, margin={"b": 130})


def role_grid(frame: pl.DataFrame, context: ChartContext) -> dict:
    """Layer × head grid of roles (the FFN as the last column), one heatmap per relation (dropdown),
    revisions on a slider; hover shows the general, entity, relation and fact scores."""
    if frame.is_empty():
        return empty_figure("no roles stored for this model")
    n_layers = int(frame["layer"].max()) + 1
    heads = sorted(h for h in frame.filter(pl.col("kind") == "head")["head"].unique().to_list())
    columns = [f"H{h}" for h in heads] + (["FFN"] if (frame["kind"] == "ffn").any() else [])
    relations = relations_in(frame)
    revisions = frame.select("ordinal", "revision").unique().sort("ordinal")["revision"].to_list()
    frame = frame.with_columns(
        column=pl.when(pl.col("kind") == "ffn").then(len(heads)).otherwise(pl.col("head")),
        relation_index=pl.col("relation").replace_strict({r: i for i, r in enumerate(relations)}, return_dtype=pl.Int64),
        revision_index=pl.col("revision").replace_strict({r: i for i, r in enumerate(revisions)}, return_dtype=pl.Int64),
    )
    # Every (relation, revision) grid at once: [R, V, layers, columns] (scores: [..., 4]).
    at = tuple(frame[c].to_numpy() for c in ("relation_index", "revision_index", "layer", "column"))
    shape = (len(relations), len(revisions), n_layers, len(columns))
    codes = np.full(shape, np.nan)
    codes[at] = frame["role_order"].to_numpy()
    names = np.full(shape, "", dtype=object)
    names[at] = frame["role"].to_numpy()
    scores = np.full(shape + (4,), np.nan)
    scores[at] = frame.select(SCORE_COLUMNS).to_numpy().astype(float).round(3)

    def matrices(relation: int, revision: int) -> tuple[list, list, list]:
        """z (role codes), text (role names), customdata (the four scores); missing values as None."""
        return _nullable(codes[relation, revision]), names[relation, revision].tolist(), _nullable(scores[relation, revision])

    # A discrete colour scale: role code k in [k - 0.5, k + 0.5] gets its role's colour.
    scale = []
    for k, role in enumerate(ROLES):
        scale += [[k / len(ROLES), ROLE_COLOURS[role]], [(k + 1) / len(ROLES), ROLE_COLOURS[role]]]
    fig = go.Figure()
    for r, relation in enumerate(relations):
        z, text, detail = matrices(r, len(revisions) - 1)
        fig.add_trace(
            go.Heatmap(
                z=z,
                text=text,
                customdata=detail,
                x=columns,
                y=list(range(n_layers)),
                zmin=-0.5,
                zmax=len(ROLES) - 0.5,
                colorscale=scale,
                showscale=False,
                xgap=2,
                ygap=2,
                visible=relation == ALL_RELATIONS,
                name=relation_label(relation),
                meta={"link": COMPONENT_LINK.replace("{component}", "L{y}{x}")},
                hovertemplate=(
                    "layer %{y}, %{x}: <b>%{text}</b><br>general %{customdata[0]:.3f}<br>"
                    "entity %{customdata[1]:.3f}<br>relation %{customdata[2]:.3f}<br>fact (mean over facts) "
                    "%{customdata[3]:.3f}<br>click: this component over training<extra>" + relation_label(relation) + "</extra>"
                ),
            )
        )
    for role in ROLES:  # legend entries for the discrete colours
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=role,
                marker={"size": 12, "symbol": "square", "color": ROLE_COLOURS[role]},
                hoverinfo="skip",
                showlegend=True,
            )
        )
    grid_traces = list(range(len(relations)))
    steps = []
    for v, revision in enumerate(revisions):
        data = [matrices(r, v) for r in range(len(relations))]
        steps.append(
            {
                "label": revision,
                "method": "restyle",
                "args": [{"z": [d[0] for d in data], "text": [d[1] for d in data], "customdata": [d[2] for d in data]}, grid_traces],
            }
        )
    visible = lambda chosen: {"visible": [r == chosen for r in relations] + [True] * len(ROLES)}  # noqa: E731
    fig.update_layout(updatemenus=[relation_menu(relations, visible)], legend={"title": {"text": "role"}})
    fig.update_xaxes(title_text="attention head (last column: the layer's FFN; a click opens the component's page)", showgrid=False)
    fig.update_yaxes(title_text="layer", showgrid=False, dtick=1 if n_layers <= 16 else None)
    figure = base_layout(fig, height=max(420, 160 + 22 * n_layers), margin={"b": 120}).to_dict()
    # The slider carries every (relation, revision) grid: attached to the dict, since plotly's
    # validation deep-copies layout data again on every update (minutes for OLMo-7B's 1056 components).
    figure["layout"]["sliders"] = [revision_slider(steps, len(revisions) - 1, "revision: ")]
    return figure


def _nullable(values: np.ndarray) -> list:
    """Nested lists with None where NaN (plotly draws no cell and no score there)."""
    return np.where(np.isnan(values), None, values).tolist()


def role_sankey(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Role flows across the chosen revisions: heads above, FFNs below; one relation at a time.

    Frame: relation, kind, from_stage (1-based), from_revision, from_role, to_revision, to_role, n.
    """
    stages = list(context.flow_revisions)
    if frame.is_empty() or len(stages) < 2:
        return empty_figure("role flows need at least two stored revisions")
    kinds = kinds_in(frame)
    relations = relations_in(frame)
    domains = _kind_domains(frame, kinds)
    fig = go.Figure()
    for relation in relations:
        for kind in kinds:
            fig.add_trace(_sankey(frame.filter(pl.col("relation") == relation, pl.col("kind") == kind), stages, kind, relation, domains[kind]))
    visible = lambda chosen: {"visible": [r == chosen for r in relations for _ in kinds]}  # noqa: E731
    for i, revision in enumerate(stages):
        x = i / (len(stages) - 1)
        fig.add_annotation(
            text=f"<b>{revision}</b>",
            x=x,
            y=1.0,
            xref="paper",
            yref="paper",
            showarrow=False,
            xanchor="left" if i == 0 else "right" if i == len(stages) - 1 else "center",
            yanchor="bottom",
        )
    for kind in kinds:
        fig.add_annotation(
            text=KIND_TITLES[kind], x=-0.01, y=sum(domains[kind]) / 2, xref="paper", yref="paper", showarrow=False, textangle=-90, xanchor="right"
        )
    fig.update_layout(updatemenus=[relation_menu(relations, visible)])
    return base_layout(fig, height=640, margin={"l": 60, "t": 150})


def _kind_domains(frame: pl.DataFrame, kinds: list[str], top: float = 0.94, gap: float = 0.07, least: float = 0.05) -> dict[str, list[float]]:
    """Each kind's vertical share of the figure, in proportion to its components (heads above, FFNs below), so
    that one component is about as tall in both Sankeys: 4 FFNs are not drawn as tall as 64 heads. A kind
    gets at least ``least``, to stay legible."""
    if len(kinds) == 1:
        return {kinds[0]: [0.0, top]}
    first = frame.filter(pl.col("relation") == frame["relation"][0], pl.col("from_stage") == 1)
    counts = {kind: first.filter(pl.col("kind") == kind)["n"].sum() for kind in kinds}
    room = top - gap
    ffn = min(max(room * counts["ffn"] / max(sum(counts.values()), 1), least), room - least)
    return {"head": [ffn + gap, top], "ffn": [0.0, ffn]}


def _sankey(flows: pl.DataFrame, stages: list[str], kind: str, relation: str, domain: list[float]) -> go.Sankey:
    """One Sankey: a node per (stage, role) that carries flow, placed in its stage's column in role order."""
    stage_of = {name: i for i, name in enumerate(stages)}
    # A middle node receives and sends the same components: count each node's size once.
    size: dict[tuple[int, str], int] = {}
    for row in flows.iter_rows(named=True):
        key = (stage_of[row["from_revision"]], row["from_role"])
        size[key] = size.get(key, 0) + row["n"]
    for row in flows.iter_rows(named=True):
        key = (stage_of[row["to_revision"]], row["to_role"])
        if key[0] == len(stages) - 1:
            size[key] = size.get(key, 0) + row["n"]
    nodes = sorted(size, key=lambda key: (key[0], ROLES.index(key[1])))
    index = {key: i for i, key in enumerate(nodes)}
    totals = {s: sum(v for (stage, _), v in size.items() if stage == s) for s in range(len(stages))}
    x, y = [], []
    for stage, role in nodes:
        above = sum(v for (s, r), v in size.items() if s == stage and ROLES.index(r) < ROLES.index(role))
        x.append(min(max(stage / (len(stages) - 1), 0.001), 0.999))
        y.append(min(max((above + size[(stage, role)] / 2) / max(totals[stage], 1), 0.001), 0.999))
    unit = KIND_TITLES[kind]
    return go.Sankey(
        domain={"x": [0.0, 1.0], "y": domain},
        arrangement="snap",
        visible=relation == ALL_RELATIONS,
        name=f"{unit}, {relation_label(relation)}",
        node={
            "label": [role for _, role in nodes],
            "x": x,
            "y": y,
            "pad": 8,
            "thickness": 16,
            "color": [ROLE_COLOURS[role] for _, role in nodes],
            "customdata": [stages[s] for s, _ in nodes],
            "hovertemplate": f"%{{label}} at %{{customdata}}: %{{value}} {unit}<extra></extra>",
        },
        link={
            "source": [index[(stage_of[r["from_revision"]], r["from_role"])] for r in flows.iter_rows(named=True)],
            "target": [index[(stage_of[r["to_revision"]], r["to_role"])] for r in flows.iter_rows(named=True)],
            "value": flows["n"].to_list(),
            "color": [with_alpha(ROLE_COLOURS[r["from_role"]], 0.35) for r in flows.iter_rows(named=True)],
            "customdata": [[r["from_revision"], r["to_revision"]] for r in flows.iter_rows(named=True)],
            "hovertemplate": (f"%{{source.label}} at %{{customdata[0]}} → %{{target.label}} at %{{customdata[1]}}: %{{value}} {unit}<extra></extra>"),
        },
    )
