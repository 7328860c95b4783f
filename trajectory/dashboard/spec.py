"""Dashboard definitions: ``dashboards/*.toml`` parsed into frozen dataclasses, strictly validated.

A dashboard is a titled page of figures; each figure names a chart builder and an SQL query in
``sql/dashboards/``. Unknown keys, unknown charts and missing queries are errors naming the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from trajectory.dashboard.charts import CHARTS
from trajectory.errors import TrajectoryError
from trajectory.paths import DASHBOARDS_DIR, SQL_DIR

QUERY_DIR = SQL_DIR / "dashboards"
_PAGE_KEYS = {"name", "title", "scope", "requires", "picker", "figures"}
PICKERS = ("component",)
SCOPES = ("analysis", "comparison")
_FIGURE_KEYS = {"id", "chart", "query", "title", "caption"}


@dataclass(frozen=True)
class FigureSpec:
    id: str  # the figure's HTML id, unique on its page
    chart: str  # a key of trajectory.dashboard.charts.CHARTS
    query: str  # sql/dashboards/<query>.sql
    title: str
    caption: str = ""

    @property
    def sql(self) -> str:
        return (QUERY_DIR / f"{self.query}.sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class DashboardSpec:
    name: str
    title: str
    figures: tuple[FigureSpec, ...]
    # "analysis": one page per analysis ($analysis); "comparison": one page per model with two or more
    # analyses drawn ($analyses, the list compared).
    scope: str = "analysis"
    # Tables the page's analysis must have rows in, any of them (e.g. "ocr": pages of a stage that may not have
    # run); written "a|b" in the file.
    requires: tuple[str, ...] = ()
    # "component": one head or FFN at a time, chosen in the page's picker (trajectory.dashboard.components).
    picker: str = ""


def load_dashboards(folder: Path = DASHBOARDS_DIR) -> list[DashboardSpec]:
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise TrajectoryError(f"no dashboard definitions (*.toml) in {folder}")
    return [load_dashboard(path) for path in paths]


def load_dashboard(path: Path) -> DashboardSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise TrajectoryError(f"{path}: invalid TOML: {err}") from None
    _check_keys(path, "", data, _PAGE_KEYS, required={"title", "figures"})
    figures = []
    for number, raw in enumerate(data["figures"], start=1):
        where = f"figures[{number}]"
        _check_keys(path, where + ".", raw, _FIGURE_KEYS, required={"id", "chart", "query", "title"})
        figure = FigureSpec(**raw)
        if figure.chart not in CHARTS:
            raise TrajectoryError(f"{path}: {where}.chart {figure.chart!r} is not one of: {', '.join(sorted(CHARTS))}")
        if not (QUERY_DIR / f"{figure.query}.sql").is_file():
            raise TrajectoryError(f"{path}: {where}.query {figure.query!r}: no file {QUERY_DIR / figure.query}.sql")
        figures.append(figure)
    ids = [f.id for f in figures]
    if len(set(ids)) != len(ids):
        raise TrajectoryError(f"{path}: figure ids must be unique, got {ids}")
    scope = data.get("scope", "analysis")
    if scope not in SCOPES:
        raise TrajectoryError(f"{path}: scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    requires = tuple(data["requires"].split("|")) if "requires" in data else ()
    if not all(table.isidentifier() for table in requires):
        raise TrajectoryError(f"{path}: requires must name a table or several as a|b, got {data['requires']!r}")
    picker = data.get("picker", "")
    if picker and picker not in PICKERS:
        raise TrajectoryError(f"{path}: picker must be one of {', '.join(PICKERS)}, got {picker!r}")
    return DashboardSpec(name=data.get("name", path.stem), title=data["title"], figures=tuple(figures), scope=scope, requires=requires, picker=picker)


def _check_keys(path: Path, where: str, data: dict, known: set[str], required: set[str]) -> None:
    for key, value in data.items():
        if key not in known:
            raise TrajectoryError(f"{path}: unknown key {where}{key} (known: {', '.join(sorted(known))})")
        if key != "figures" and not isinstance(value, str):
            raise TrajectoryError(f"{path}: {where}{key} must be a string, got {value!r}")
    missing = sorted(required - data.keys())
    if missing:
        raise TrajectoryError(f"{path}: missing {', '.join(where + m for m in missing)}")
