"""The component page: one head or FFN over training, chosen in the page's picker (trajectory.dashboard.page
COMPONENT_SCRIPT). Every trace carries ``meta.component`` (``L2H5``, ``L3FFN``); the picker shows one component's
traces at a time, the first in :func:`component_order` on load. Cells that name a fact open its routes at that
revision (``meta.link``, trajectory.dashboard.page CLICK_SCRIPT)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots
from scipy import stats

from trajectory.dashboard.controls import ChartContext, band_frame, band_trace, base_layout, empty_figure, relations_in, series
from trajectory.dashboard.style import DIVERGING, ROLE_COLOURS, relation_label
from trajectory.roles.scores import ROLES

LEVEL = 0.95
# Where a figure naming a component sends a click (trajectory.dashboard.page CLICK_SCRIPT fills the placeholders).
COMPONENT_LINK = "components.html#view:component={component}"


def component_key(kind: str, layer: int, head: int | None) -> str:
    """``L2H5`` for head 5 of layer 2, ``L2FFN`` for its FFN: the picker's, the URL's and the links' name."""
    return f"L{layer}FFN" if kind == "ffn" else f"L{layer}H{head}"


def component_order(frame: pl.DataFrame) -> list[tuple[str, int, int]]:
    """(kind, layer, head) of the frame's components, layer by layer, the FFN after the layer's heads."""
    rows = frame.select("kind", "layer", pl.col("head").fill_null(-1)).unique().rows()
    return sorted(rows, key=lambda r: (r[1], r[0] == "ffn", r[2]))


def _of(frame: pl.DataFrame, kind: str, layer: int, head: int) -> pl.DataFrame:
    return frame.filter((pl.col("kind") == kind) & (pl.col("layer") == layer) & (pl.col("head").fill_null(-1) == head))


def _role_scale() -> list:
    scale = []
    for k, role in enumerate(ROLES):
        scale += [[k / len(ROLES), ROLE_COLOURS[role]], [(k + 1) / len(ROLES), ROLE_COLOURS[role]]]
    return scale


def component_roles(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Relation (rows; 'all relations' first: the strongest role over them) × revision → the component's role,
    one heatmap per component; hover: the four scores."""
    if frame.is_empty():
        return empty_figure("no roles stored for this analysis")
    relations = relations_in(frame)
    revisions = frame.select("ordinal", "revision").unique().sort("ordinal")["revision"].to_list()
    fig = go.Figure()
    for index, (kind, layer, head) in enumerate(component_order(frame)):
        part = _of(frame, kind, layer, head)
        at = {(r["relation"], r["revision"]): r for r in part.iter_rows(named=True)}
        cells = [[at.get((relation, revision)) for revision in revisions] for relation in relations]
        fig.add_trace(
            go.Heatmap(
                x=revisions,
                y=[relation_label(r) for r in relations],
                z=[[None if c is None else c["role_order"] for c in row] for row in cells],
                text=[["" if c is None else c["role"] for c in row] for row in cells],
                customdata=[
                    [[None] * 4 if c is None else [c["general_score"], c["entity_score"], c["relation_score"], c["fact_score"]] for c in row]
                    for row in cells
                ],
                zmin=-0.5,
                zmax=len(ROLES) - 0.5,
                colorscale=_role_scale(),
                showscale=False,
                xgap=1,
                ygap=2,
                visible=index == 0,
                name=component_key(kind, layer, head),
                meta={"component": component_key(kind, layer, head)},
                hovertemplate=(
                    "%{x}, %{y}: <b>%{text}</b><br>general %{customdata[0]:.3f}<br>entity %{customdata[1]:.3f}<br>"
                    "relation %{customdata[2]:.3f}<br>fact (mean over facts) %{customdata[3]:.3f}<extra>%{fullData.name}</extra>"
                ),
            )
        )
    for role in ROLES:  # legend entries for the discrete colours
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=role, marker={"size": 12, "symbol": "square", "color": ROLE_COLOURS[role]}))
    fig.update_xaxes(title_text="revision", tickangle=-60, tickfont={"size": 9})
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, height=max(380, 200 + 28 * len(relations)), margin={"l": 190, "b": 130}, legend={"orientation": "h", "y": 1.12})


def t_interval(mean: np.ndarray, sd: np.ndarray, n: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Student's t interval of a mean from its sample's standard deviation and size (NaN where n < 2)."""
    n = n.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + level / 2, np.where(n > 1, n - 1, np.nan)) * sd / np.sqrt(n)
    return mean - half, mean + half


def component_lines(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Top: the component's IFR general score (the share of the probe facts' circuits holding it) at every
    revision. Bottom, where the component-effects stage ran: its mean ΔR over the measured facts when ablated
    alone, with a 95 % t-interval over those facts, and its mean IFR importance in the hover."""
    if frame.is_empty():
        return empty_figure("no component scores stored for this analysis")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.45, 0.55])
    for index, (kind, layer, head) in enumerate(component_order(frame)):
        key = component_key(kind, layer, head)
        part = _of(frame, kind, layer, head).sort("ordinal")
        shown = index == 0
        fig.add_trace(
            go.Scatter(
                x=series(part, "x_step"),
                y=series(part, "general_score"),
                customdata=series(part, "revision"),
                mode="lines+markers",
                line={"color": ROLE_COLOURS["general"]},
                name=f"{key}: IFR general score",
                meta={"component": key},
                visible=shown,
                hovertemplate="%{customdata}: general score %{y:.3f}<extra>" + key + "</extra>",
            ),
            row=1,
            col=1,
        )
        effects = part.filter(pl.col("mean_effect").is_not_null())
        low, high = t_interval(effects["mean_effect"].to_numpy(), effects["sd_effect"].fill_null(np.nan).to_numpy(), effects["n_facts"].to_numpy())
        effects = effects.with_columns(low=pl.Series(low).fill_nan(None), high=pl.Series(high).fill_nan(None))
        band = band_trace(band_frame(effects, "low", "high"), "#000000", key, key, visible=shown)  # broken where a revision has none
        band.meta = {"component": key}
        fig.add_trace(band, row=2, col=1)
        fig.add_trace(
            go.Scatter(
                x=series(effects, "x_step"),
                y=series(effects, "mean_effect"),
                customdata=effects.select("revision", "low", "high", "n_facts", "mean_importance").rows(),
                mode="lines+markers",
                line={"color": "#000000"},
                name=f"{key}: mean ΔR when ablated alone",
                meta={"component": key},
                visible=shown,
                hovertemplate=(
                    "%{customdata[0]}: mean ΔR %{y:.3f} logits<br>95 % t-interval [%{customdata[1]:.3f}, %{customdata[2]:.3f}] over "
                    "n = %{customdata[3]} facts<br>mean IFR importance %{customdata[4]:.4f}<extra>" + key + "</extra>"
                ),
            ),
            row=2,
            col=1,
        )
    fig.add_hline(y=0, line={"color": "#999", "width": 1}, row=2, col=1)
    fig.update_yaxes(title_text="IFR general score", range=[-0.02, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="mean ΔR (logits)", row=2, col=1)
    fig.update_xaxes(title_text="training step", row=2, col=1)
    return base_layout(fig, height=620, showlegend=False)


def component_facts(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """The 12 facts the component's ablation costs most on average (rows) × the revisions with effects → ΔR on the
    fact; the hover gives its IFR importance and whether the fact's IFR and causal circuits hold it. A click opens
    the fact's routes at that revision."""
    if frame.is_empty():
        return empty_figure("no single-component effects stored (effects.enabled), or no fact's model beats its fully ablated self by 1 logit")
    revisions = frame.select("ordinal", "revision").unique().sort("ordinal")["revision"].to_list()
    fig = go.Figure()
    for index, (kind, layer, head) in enumerate(component_order(frame)):
        key = component_key(kind, layer, head)
        part = _of(frame, kind, layer, head)
        facts = part.select("fact_id", "subject", "relation", "object", "rank_effect").unique().sort("rank_effect", "fact_id").rows()
        at = {(r["fact_id"], r["revision"]): r for r in part.iter_rows(named=True)}
        cells = [[at.get((fact[0], revision)) for revision in revisions] for fact in facts]
        bound = float(part["effect"].abs().max() or 0.0) or 1.0  # its own scale: an FFN's effects are ten times a head's
        fig.add_trace(
            go.Heatmap(
                x=revisions,
                y=[f"{subject} → {obj} ({relation_label(relation)}) #{fact_id}" for fact_id, subject, relation, obj, _ in facts],
                z=[[None if c is None else c["effect"] for c in row] for row in cells],
                customdata=[
                    [
                        [fact[0], revision, None, "", ""]
                        if c is None
                        else [fact[0], revision, c["importance"], "yes" if c["in_ifr"] else "no", "yes" if c["causal"] else "no"]
                        for c, revision in zip(row, revisions)
                    ]
                    for row, fact in zip(cells, facts)
                ],
                colorscale=DIVERGING,
                zmid=0,
                zmin=-bound,
                zmax=bound,
                colorbar={"title": {"text": "ΔR"}},
                xgap=1,
                ygap=1,
                visible=index == 0,
                name=key,
                meta={"component": key, "link": "routes.html#view:fact={c0}&revision={c1}"},
                hovertemplate=(
                    "%{y} at %{x}<br>ΔR %{z:.3f} logits when ablated alone<br>IFR importance %{customdata[2]:.4f}<br>"
                    "in the fact's IFR circuit: %{customdata[3]}; in its causal circuit: %{customdata[4]}<br>"
                    "click: the fact's routes here<extra>%{fullData.name}</extra>"
                ),
            )
        )
    fig.update_xaxes(title_text="revision (with effects)", tickangle=-60, tickfont={"size": 9})
    fig.update_yaxes(autorange="reversed", tickfont={"size": 10})
    return base_layout(fig, height=560, margin={"l": 330, "b": 130})


def component_attention(frame: pl.DataFrame, context: ChartContext) -> go.Figure:
    """Where the head looks from the token that predicts the answer, at the last revision that stored it: its facts
    (rows: those it serves most) × the prompt's positions → its attention weight; the hover names the token. An FFN
    has no trace (the picker says so)."""
    if frame.is_empty():
        return empty_figure("no attention stored (store.routes off when this analysis was ingested)")
    fig = go.Figure()
    width = int(frame["weights"].list.len().max())
    for index, (kind, layer, head) in enumerate(component_order(frame)):
        key = component_key(kind, layer, head)
        part = _of(frame, kind, layer, head).sort("place")
        weights = [list(w) + [None] * (width - len(w)) for w in part["weights"].to_list()]
        tokens = [list(t or []) + [""] * (width - len(t or [])) for t in part["tokens"].to_list()]
        fig.add_trace(
            go.Heatmap(
                x=list(range(width)),
                y=[f"{s} → {o} ({relation_label(r)}) #{f}" for f, s, r, o in part.select("fact_id", "subject", "relation", "object").rows()],
                z=weights,
                customdata=[[[token, f] for token in row] for row, f in zip(tokens, part["fact_id"].to_list())],
                colorscale="Blues",
                zmin=0,
                zmax=1,
                colorbar={"title": {"text": "weight"}},
                xgap=1,
                ygap=1,
                visible=index == 0,
                name=key,
                meta={"component": key, "link": f"routes.html#view:fact={{c1}}&revision={part['revision'][0]}"},
                hovertemplate="%{y}<br>from the answer's token to %{customdata[0]} (position %{x}): %{z:.3f}<br>"
                "click: the fact's routes<extra>%{fullData.name}</extra>",
            )
        )
    revision = frame["revision"][0]
    fig.update_xaxes(title_text=f"prompt position (at {revision}; hover for the token)")
    fig.update_yaxes(autorange="reversed", tickfont={"size": 10})
    return base_layout(fig, height=520, margin={"l": 330})
