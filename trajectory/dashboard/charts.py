"""The chart registry: a query's polars frame in, a plotly figure out.

Every builder takes the frame of its figure's query (``sql/dashboards/<query>.sql``) and a
:class:`~trajectory.dashboard.controls.ChartContext`, and returns a figure whose axes, legend and
title say what they show: a plotly Figure, or the figure's dict where its data is too large for
plotly's copying validation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import plotly.graph_objects as go
import polars as pl

from trajectory.dashboard import causal, comparison, components, extractive, grafting, role_maps, time_series
from trajectory.dashboard.controls import ChartContext


@dataclass(frozen=True)
class Chart:
    build: Callable[[pl.DataFrame, ChartContext], go.Figure | dict]
    # Query parameters beyond $model, $analysis and $analyses, from the context.
    params: Callable[[ChartContext], dict] = field(default=lambda context: {})


CHARTS: dict[str, Chart] = {
    "role_areas": Chart(time_series.role_areas),
    "role_iou": Chart(time_series.role_iou),
    "accuracy_lines": Chart(time_series.accuracy_lines),
    "loss_and_accuracy": Chart(time_series.loss_and_accuracy),
    "transition_heatmap": Chart(role_maps.transition_heatmap),
    "role_grid": Chart(role_maps.role_grid),
    "role_sankey": Chart(role_maps.role_sankey, params=lambda context: {"revisions": list(context.flow_revisions)}),
    "compare_iou": Chart(comparison.compare_iou),
    "compare_counts": Chart(comparison.compare_counts),
    "ocr_lines": Chart(extractive.ocr_lines),
    "score_heatmaps": Chart(extractive.score_heatmaps),
    "share_areas": Chart(extractive.share_areas),
    "transition_scores": Chart(extractive.transition_scores),
    "pathway_lines": Chart(grafting.pathway_lines),
    "component_heatmap": Chart(grafting.component_heatmap),
    "relation_type_bars": Chart(grafting.relation_type_bars),
    "group_lines": Chart(causal.group_lines),
    "role_effect_heatmap": Chart(causal.role_effect_heatmap),
    "onset_dumbbells": Chart(causal.onset_dumbbells),
    "topk_curves": Chart(causal.topk_curves),
    "effect_heatmap": Chart(causal.effect_heatmap),
    "component_roles": Chart(components.component_roles),
    "component_lines": Chart(components.component_lines),
    "component_facts": Chart(components.component_facts),
    "component_attention": Chart(components.component_attention),
}
