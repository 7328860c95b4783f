"""Shared pieces of the chart builders: the chart context, layout, and plotly menus and sliders.

Interactive choices (relation, x axis, revision) are plotly menus and sliders, so the exported HTML
works with no server.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

from trajectory.dashboard.style import ALL_RELATIONS, KIND_TITLES, LAYOUT, relation_label, with_alpha

X_AXES = {"step": ("x_step", "training step"), "tokens": ("x_tokens", "tokens seen")}


@dataclass(frozen=True)
class ChartContext:
    model: str
    revisions: tuple[str, ...]  # in training order
    flow_revisions: tuple[str, ...] = ()  # the revisions the role-flow Sankey connects
    analysis: str = ""  # the page's analysis id ($analysis in its queries)
    analyses: tuple[str, ...] = ()  # the analyses a comparison page compares ($analyses), in order
    label: str = ""  # what the figure titles name: the analysis, or the model compared


def relations_in(frame: pl.DataFrame) -> list[str]:
    """All relations first, then the rest alphabetically."""
    names = sorted(frame["relation"].unique().to_list())
    return sorted(names, key=lambda r: (r != ALL_RELATIONS, r))


def kinds_in(frame: pl.DataFrame) -> list[str]:
    """Component kinds present, heads first."""
    present = set(frame["kind"].to_list())
    return [k for k in KIND_TITLES if k in present]


def series(frame: pl.DataFrame, column: str) -> list:
    return frame[column].to_list()


def base_layout(fig: go.Figure, height: int = 460, **overrides: Any) -> go.Figure:
    """The shared look, then the figure's own ``overrides`` (merged key by key, as plotly updates do).

    The page sets the title text from the figure's definition.
    """
    fig.update_layout(**LAYOUT, height=height, title={"x": 0.0, "xanchor": "left", "y": 0.98})
    fig.update_layout(**overrides)
    return fig


def empty_figure(reason: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=reason, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 15})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return base_layout(fig, height=220)


def menu(buttons: list[dict], x: float, label: str, active: int = 0) -> dict:
    """A dropdown above the plot area; ``label`` prefixes every button's text."""
    for button in buttons:
        button["label"] = f"{label}: {button['label']}"
    return {
        "type": "dropdown",
        "buttons": buttons,
        "active": active,
        "direction": "down",
        "showactive": True,
        "x": x,
        "xanchor": "left",
        "y": 1.09,
        "yanchor": "bottom",
        "pad": {"t": 2, "b": 2},
    }


def x_axis_menu(frames: list[pl.DataFrame], n_axes: int, x: float) -> dict | None:
    """Switch every trace's x between training step and tokens seen (None when no tokens are known)."""
    if not frames or any(f["x_tokens"].null_count() for f in frames):
        return None
    buttons = []
    for key, (column, axis_title) in X_AXES.items():
        titles = {f"xaxis{'' if i == 1 else i}.title.text": axis_title for i in range(1, n_axes + 1)}
        buttons.append({"label": key, "method": "update", "args": [{"x": [series(f, column) for f in frames]}, titles]})
    return menu(buttons, x, "x")


DECADES = 2  # values spanning this many powers of ten or more get a linear/log choice


def _numbers(values: Any) -> np.ndarray:
    """A trace's coordinates as float64 (plotly's typed arrays decoded; text and missing values left out)."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).astype(float).ravel()
    numbers = [v for v in (values if isinstance(values, (list, tuple)) else []) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return np.asarray(numbers, dtype=float)


def scale_menu(fig: dict) -> dict | None:
    """A linear/log choice for the y axes whose line values are all positive and span two decades or more (ranks,
    losses, shares), placed at the right; None where no axis does."""
    values: dict[str, list[np.ndarray]] = {}
    for trace in fig.get("data", []):
        if trace.get("type", "scatter") == "scatter" and trace.get("fill") != "toself":  # interval bands follow their line
            values.setdefault("yaxis" + trace.get("yaxis", "y")[1:], []).append(_numbers(trace.get("y")))
    axes = []
    for axis, parts in sorted(values.items()):
        numbers = np.concatenate(parts)
        numbers = numbers[np.isfinite(numbers)]
        if numbers.size and numbers.min() > 0 and math.log10(numbers.max() / numbers.min()) >= DECADES:
            axes.append(axis)
    if not axes:
        return None
    layout = fig.get("layout", {})
    log = all(layout.get(axis, {}).get("type") == "log" for axis in axes)
    buttons = [{"label": kind, "method": "relayout", "args": [{f"{axis}.type": kind for axis in axes}]} for kind in ("linear", "log")]
    return menu(buttons, 1.0, "y", active=int(log)) | {"xanchor": "right"}


def relation_menu(relations: list[str], data_per_relation: Callable[[str], dict], x: float = 0.0) -> dict:
    """A relation dropdown; ``data_per_relation(r)`` gives the restyle dict (trace attribute -> list per trace)."""
    buttons = [{"label": relation_label(r), "method": "restyle", "args": [data_per_relation(r)]} for r in relations]
    return menu(buttons, x, "relation")


def revision_slider(steps: list[dict], active: int, prefix: str) -> dict:
    """A slider under the plot; step labels are hidden when too many to read (the current one shows above)."""
    crowded = len(steps) > 12
    return {
        "active": active,
        "steps": steps,
        "x": 0.0,
        "len": 1.0,
        "y": -0.08,
        "yanchor": "top",
        "pad": {"t": 10, "b": 0},
        # The current value always legible: it would inherit the slider's font, transparent when the labels crowd.
        "currentvalue": {"prefix": prefix, "font": {"size": 13, "color": "#222222"}, "xanchor": "left", "visible": True},
        "font": {"color": "rgba(0,0,0,0)" if crowded else "#444", "size": 10},
        "ticklen": 3 if crowded else 6,
    }


def banded(part: pl.DataFrame, low: str) -> bool:
    """Whether a series carries a stored interval (its ``low`` column has a value somewhere)."""
    return low in part.columns and part[low].null_count() < part.height


def band_frame(part: pl.DataFrame, low: str, high: str) -> pl.DataFrame:
    """A band's outline for ``fill="toself"``: forward along the upper ends, back along the lower ones (column
    ``band``), with every x column of ``part``. Where a row has no interval the band breaks: one outline per run of
    rows with one, separated by a row of nulls (plotly closes each apart), never a wedge drawn across the gap."""
    known = (part[low].is_not_null() & part[high].is_not_null()).to_list()
    outlines = []
    start = None
    for i, ok in enumerate(known + [False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            run = part.slice(start, i - start)
            outlines.append(pl.concat([run, run.reverse()]).with_columns(band=pl.concat([run[high], run[low].reverse()])))
            start = None
    if not outlines:
        return part.clear().with_columns(band=pl.lit(None, pl.Float64))
    gap = pl.DataFrame([pl.Series(name, [None], dtype=dtype) for name, dtype in outlines[0].schema.items()])
    return pl.concat([piece for outline in outlines for piece in (gap, outline)][1:])


def band_trace(band: pl.DataFrame, colour: str, name: str, legendgroup: str, visible: bool | str = True) -> go.Scatter:
    """The stored interval as a translucent band under its line (no hover: the line's hover states it)."""
    return go.Scatter(
        x=series(band, "x_step"),
        y=series(band, "band"),
        fill="toself",
        mode="lines",
        line={"width": 0},
        fillcolor=with_alpha(colour, 0.18),
        hoverinfo="skip",
        showlegend=False,
        legendgroup=legendgroup,
        name=f"{name}: 95 % interval",
        visible=visible,
    )


def restyle_drawn(traces: list[tuple[str, pl.DataFrame]], value: str, custom: Callable[[pl.DataFrame], list]) -> dict:
    """The restyle dict of a figure drawn as (``band`` | ``line``, frame) traces: x and y of each (a band's outline
    from :func:`band_frame`, a line's ``value``), and each line's hover data ``custom(frame)``."""
    return {
        "x": [series(f, "x_step") for _, f in traces],
        "y": [series(f, "band" if what == "band" else value) for what, f in traces],
        "customdata": [None if what == "band" else custom(f) for what, f in traces],
    }
