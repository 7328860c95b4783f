"""The exported page in a real headless Chromium: every figure renders with no console error, and
moving a slider (with the mouse) or choosing a relation (from the menu) changes the figure as expected.

Needs Debian's ``chromium`` and the ``playwright`` package (the dev extra). Skipped when either is
missing, unless TRAJECTORY_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure. A full-page
screenshot is kept in $TRAJECTORY_ARTIFACTS (default: artifacts/ in the repository) for CI.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from synthetic_store import HEADS, LAYERS, N_REVISIONS, head_role, write_synthetic_store

from trajectory.dashboard.build import build_dashboards
from trajectory.paths import REPO_ROOT
from trajectory.roles.scores import ROLES

CHROMIUM_FLAGS = [  # no network at all: the page must not need any
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser_page():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        missing = "chromium" if chromium is None else "the playwright package"
        if os.environ.get("TRAJECTORY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{missing} is required (TRAJECTORY_REQUIRE_BROWSER=1)")
        pytest.skip(f"{missing} not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        yield page
        browser.close()


TRAINING_PAGE: list[str] = []  # the synthetic store's training page (later tests take the shared page elsewhere)


@pytest.fixture(scope="module")
def dashboard(browser_page, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    store = write_synthetic_store(folder / "synthetic.duckdb")
    page = next(p for p in build_dashboards(store, folder / "out", progress=False) if p.name == "training.html")
    problems = watch(browser_page)
    TRAINING_PAGE.append(page.as_uri())
    browser_page.goto(page.as_uri())
    browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6")
    return browser_page, problems


def watch(page) -> list[str]:
    """Console errors and warnings, page errors and failed requests of the page, as they come."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    return problems


def choose_from_menu(page, figure_id: str, text: str) -> None:
    """Open the figure's (first) dropdown menu and click the entry showing ``text``, as a person would."""
    header = page.locator(f"#{figure_id} .updatemenu-header").first
    header.scroll_into_view_if_needed()
    header.click()
    page.locator(f"#{figure_id} .updatemenu-dropdown-button", has_text=text).click()
    page.wait_for_timeout(300)


def figure_state(page, figure_id: str) -> dict:
    return page.evaluate(
        """id => { const gd = document.getElementById(id);
                   return {active: gd.layout.sliders ? gd.layout.sliders[0].active : null,
                           z: gd.data.filter(t => t.type === 'heatmap').map(t => t.z),
                           visible: gd.data.map(t => t.visible)}; }""",
        figure_id,
    )


def drag_slider(page, figure_id: str, fraction: float) -> None:
    """Press the slider's grip and drag it to ``fraction`` of the rail, as a person would."""
    page.locator(f"#{figure_id} .slider-rail-rect").scroll_into_view_if_needed()
    rail = page.locator(f"#{figure_id} .slider-rail-rect").bounding_box()
    grip = page.locator(f"#{figure_id} .slider-grip-rect").bounding_box()
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    page.mouse.move(rail["x"] + fraction * rail["width"], grip["y"] + grip["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)


def test_every_figure_renders_without_console_errors(dashboard):
    page, problems = dashboard
    rendered = page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd =>
               [gd.id, gd.data.length, gd.querySelectorAll('.main-svg').length, !!gd._fullLayout])"""
    )
    assert [r[0] for r in rendered] == [
        "role-counts",
        "role-iou",
        "role-transitions",
        "role-grid",
        "accuracy",
        "training-loss",
        "forgetting",
        "role-flows",
    ]
    assert all(n_traces > 0 and n_svg > 0 and laid_out for _, n_traces, n_svg, laid_out in rendered)
    # Drawn marks, not empty axes: lines, heatmap cells, Sankey links.
    assert page.locator("#role-counts .scatterlayer .js-line").count() > 0
    assert page.locator("#role-grid .hm image, #role-grid .heatmaplayer image").count() > 0
    assert page.locator("#role-flows .sankey-link").count() > 0
    assert page.locator("#forgetting .scatterlayer .js-line").count() > 0
    assert page.locator("button.csv").count() == len(rendered)  # every figure downloads its data
    assert problems == []


def test_moving_the_grid_slider_shows_that_revision(dashboard):
    page, problems = dashboard
    before = figure_state(page, "role-grid")
    assert before["active"] == N_REVISIONS - 1
    drag_slider(page, "role-grid", 0.0)
    after = figure_state(page, "role-grid")
    assert after["active"] == 0
    # The company_ceo grid (third heatmap) now shows the first revision's roles.
    expected = [[ROLES.index(head_role(0, 1, layer, head)) for head in range(HEADS)] for layer in range(LAYERS)]
    assert [row[:HEADS] for row in after["z"][2]] == expected
    assert after["z"] != before["z"]
    page.screenshot(path=str(_artifacts() / "dashboard-grid-first-revision.png"), full_page=False)
    assert problems == []


def test_moving_the_transition_slider_and_choosing_a_relation(dashboard):
    page, problems = dashboard
    pooled = figure_state(page, "role-transitions")
    drag_slider(page, "role-transitions", 1.0)
    last_pair = figure_state(page, "role-transitions")
    assert last_pair["active"] == N_REVISIONS - 1 and last_pair["z"] != pooled["z"]
    # The relation menu of the grid: open it, pick company ceo; only that heatmap is visible.
    choose_from_menu(page, "role-grid", "company ceo")
    visible = figure_state(page, "role-grid")["visible"]
    assert visible[:3] == [False, False, True]
    page.screenshot(path=str(_artifacts() / "dashboard.png"), full_page=True)
    assert problems == []


def test_the_comparison_page_renders_both_analyses(browser_page, tmp_path):
    """Two analyses of one model: the comparison page draws one line per role and analysis, and the
    relation menu switches the lines, with no console error."""
    store = write_synthetic_store(tmp_path / "two.duckdb")
    write_synthetic_store(store, analysis="synthetic02", name="synthetic/facts/tau=0.02/theta=0.1", shift=1)
    pages = build_dashboards(store, tmp_path / "out", analysis="all", progress=False)
    (compare,) = [p for p in pages if p.name == "compare.html"]
    problems = watch(browser_page)
    browser_page.goto(compare.as_uri())
    browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2")
    names = browser_page.evaluate("() => document.getElementById('compare-iou').data.map(t => t.name)")
    assert {n.split(" · ")[1] for n in names} == {"facts/tau=0.01/theta=0.1", "facts/tau=0.02/theta=0.1"}
    assert browser_page.locator("#compare-counts .scatterlayer .trace path.js-line").count() > 0
    before = browser_page.evaluate("() => document.getElementById('compare-counts').data.map(t => t.y)")
    choose_from_menu(browser_page, "compare-counts", "company ceo")
    assert browser_page.evaluate("() => document.getElementById('compare-counts').data.map(t => t.y)") != before
    browser_page.screenshot(path=str(_artifacts() / "dashboard-compare.png"), full_page=True)
    assert problems == []


def _artifacts() -> Path:
    folder = Path(os.environ.get("TRAJECTORY_ARTIFACTS", REPO_ROOT / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_extractive_page_renders_and_its_menus_switch(browser_page, small_store, tmp_path):
    """The extractive-structures page of an ingested reference: four figures, the OCR curve with its
    chance lines, and the measure menu of the heatmaps switching to a finetune hop."""
    pages = build_dashboards(small_store, tmp_path / "out", progress=False)
    (page_path,) = [p for p in pages if p.name == "extractive.html"]
    problems = watch(browser_page)
    browser_page.goto(page_path.as_uri())
    browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")
    ids = browser_page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => gd.id)")
    assert ids == ["ocr-curve", "extractive-layers", "extractive-shares", "extractive-transitions"]
    names = browser_page.evaluate("() => document.getElementById('ocr-curve').data.map(t => t.name)")
    assert {"first hop: chance", "second hop: chance", "first hop: implications", "second hop: implications"} <= set(names)
    assert browser_page.locator("#extractive-layers .hm image, #extractive-layers .heatmaplayer image").count() >= 3
    before = figure_state(browser_page, "extractive-layers")["z"]
    choose_from_menu(browser_page, "extractive-layers", "finetune, first hop")
    after = figure_state(browser_page, "extractive-layers")["z"]
    assert after != before and len(after[0][0]) == len(before[0][0]) + 1  # finetune rows include the last revision
    browser_page.screenshot(path=str(_artifacts() / "dashboard-extractive.png"), full_page=True)
    assert problems == []


def test_a_loss_spanning_decades_can_be_drawn_on_a_log_axis(browser_page, tmp_path):
    """Issue #38 item 7: the training page's loss (6 down to 0.01) gets a linear/log menu for its axis alone."""
    store = write_synthetic_store(tmp_path / "loss.duckdb")
    with duckdb.connect(str(store)) as con:
        model = con.execute("SELECT any_value(model) FROM analyses").fetchone()[0]
        con.executemany("INSERT INTO training_loss VALUES (?, ?, ?)", [(model, step, 6.0 * 0.8**step) for step in range(1, 40)])
    (page_path,) = [p for p in build_dashboards(store, tmp_path / "out", progress=False) if p.name == "training.html"]
    problems = watch(browser_page)
    browser_page.goto(page_path.as_uri())
    browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6")
    scaled = browser_page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter(gd => (gd.layout.updatemenus || [])
                   .some(m => m.buttons.some(b => b.label === 'y: log'))).map(gd => gd.id)"""
    )
    assert len(scaled) == 1, scaled  # the loss figure; no other figure of the page spans decades
    types = f"() => {{ const l = document.getElementById('{scaled[0]}').layout; return [l.yaxis.type, l.yaxis2 && l.yaxis2.type]; }}"
    before = browser_page.evaluate(types)
    assert before[0] == "linear"
    browser_page.locator(f"#{scaled[0]} .updatemenu-header").last.click()
    browser_page.locator(f"#{scaled[0]} .updatemenu-dropdown-button", has_text="y: log").click()
    browser_page.wait_for_timeout(200)
    assert browser_page.evaluate(types) == ["log", before[1]]  # top-1's axis stays linear
    assert problems == []


def test_the_grafting_page_draws_the_stored_recoveries(browser_page, tmp_path):
    """The grafting page of the hand-made store: one line per position graft over the consecutive pairs
    with the literal recoveries (the chosen pair left out), the metric menu, the pair slider of the
    component heatmap, and the training-band menu of the relation-type bars."""
    from synthetic_store import FACTS, GRAFT_PAIRS, write_synthetic_grafts
    from test_grafting_views import literal_recovery

    store = write_synthetic_grafts(write_synthetic_store(tmp_path / "grafts.duckdb"))
    (page_path,) = [p for p in build_dashboards(store, tmp_path / "out", progress=False) if p.name == "grafting.html"]
    problems = watch(browser_page)
    browser_page.goto(page_path.as_uri())
    browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3")
    ids = browser_page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => gd.id)")
    assert ids == ["graft-pathways", "graft-components", "graft-relation-types"]
    facts = [f for f, _ in FACTS]

    def lines():
        return browser_page.evaluate("() => document.getElementById('graft-pathways').data.filter(t => t.fill !== 'toself').map(t => [t.name, t.y])")

    expected = {c: [literal_recovery(p, c, facts)["learned_top1"] for p in range(3)] for c in ("FE", "LT", "FE+LT")}
    assert {name: y for name, y in lines()} == expected
    choose_from_menu(browser_page, "graft-pathways", "top-1 recovery")
    assert {name: y for name, y in lines()} == {c: [literal_recovery(p, c, facts)["top1_recovery"] for p in range(3)] for c in expected}
    pooled = figure_state(browser_page, "graft-components")
    drag_slider(browser_page, "graft-components", 1.0)
    last = figure_state(browser_page, "graft-components")
    assert last["active"] == 3 and last["z"] != pooled["z"]
    rows = {"o": "LT:o@last_half", "ffn": "LT:ffn@first_half", "o+ffn": "LT:o+ffn@last_quarter"}
    cells = {(r, c): v for r, row in zip(("o", "ffn", "o+ffn"), last["z"][0]) for c, v in zip(("first_half", "last_half", "last_quarter"), row)}
    for component, config in rows.items():
        layers = config.split("@")[1]
        assert cells[(component, layers)] == literal_recovery(2, config, facts)["learned_top1"]
    before = browser_page.evaluate("() => document.getElementById('graft-relation-types').data.map(t => t.y)")
    choose_from_menu(browser_page, "graft-relation-types", "early third")
    assert browser_page.evaluate("() => document.getElementById('graft-relation-types').data.map(t => t.y)") != before
    assert len(GRAFT_PAIRS) == 4
    browser_page.screenshot(path=str(_artifacts() / "dashboard-grafting.png"), full_page=True)
    assert problems == []


def test_the_causal_page_draws_the_stored_checks(browser_page, tmp_path):
    """The causal-checks page of the hand-made store: five figures; the faithfulness line over all facts is
    the literal median per revision, the grouping menu swaps relations for frequency buckets, and the
    role × relation slider shows the chosen revision's role effect minus its control's."""
    import statistics

    from synthetic_store import CAUSAL_DRAWS, FACTS, REVISIONS, write_synthetic_ablations
    from test_causal_views import faithfulness, literal_effects

    store = write_synthetic_store(tmp_path / "causal.duckdb")
    rewards, sets, _ = write_synthetic_ablations(store)
    with duckdb.connect(str(store)) as con:  # a set with no member at the last revision: its row would be blank
        con.execute(
            "DELETE FROM ablations WHERE revision = ? AND target IN ('role', 'random') AND role = 'relation' AND relation = 'company_ceo'",
            [REVISIONS[-1][0]],
        )
    (page_path,) = [p for p in build_dashboards(store, tmp_path / "out", progress=False) if p.name == "causal.html"]
    problems = watch(browser_page)
    browser_page.goto(page_path.as_uri())
    browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 9")
    ids = browser_page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => gd.id)")
    assert ids == [
        "causal-faithfulness",
        "causal-agreement",
        "causal-component-effects",
        "causal-role-effects",
        "causal-onset",
        "causal-emergence",
        "causal-circuit-shape",
        "causal-topk-curve",
        "causal-topk",
    ]
    traces = browser_page.evaluate("() => document.getElementById('causal-faithfulness').data.map(t => [t.name, t.y, t.visible])")
    (whole,) = [y for name, y, visible in traces if name == "all facts" and visible]
    for k, (revision, _, _) in enumerate(REVISIONS):
        values = [v for f, _ in FACTS if (v := faithfulness(rewards, revision, f)) is not None]
        assert whole[k] == (pytest.approx(statistics.median(values)) if values else None)
    assert {name for name, _, visible in traces if visible and "interval" not in name} == {"all facts", "city in country", "company ceo"}
    choose_from_menu(browser_page, "causal-faithfulness", "faithfulness")  # the first menu: the measure
    browser_page.locator("#causal-faithfulness .updatemenu-header").nth(1).click()
    browser_page.locator("#causal-faithfulness .updatemenu-dropdown-button", has_text="bucket").click()
    browser_page.wait_for_timeout(300)
    shown = browser_page.evaluate(
        "() => document.getElementById('causal-faithfulness').data.filter(t => t.visible === true && t.fill !== 'toself').map(t => t.name)"
    )
    assert sorted(shown) == ["all facts", "high", "low", "medium"]
    cells = browser_page.evaluate("() => { const t = document.getElementById('causal-role-effects').data[0]; return [t.z, t.text]; }")
    blank = [text for zs, texts in zip(*cells) for z, text in zip(zs, texts) if z is None]
    assert blank and all(text in ("no member", "not measured") for text in blank), blank  # no blank cell left unexplained
    effects = literal_effects(sets, rewards)
    last = figure_state(browser_page, "causal-role-effects")
    assert last["active"] == len(REVISIONS) - 1
    drag_slider(browser_page, "causal-role-effects", 0.0)
    first = figure_state(browser_page, "causal-role-effects")
    assert first["active"] == 0 and first["z"] != last["z"]
    revision = REVISIONS[0][0]
    rows = [("general", "*"), ("relation", "city_in_country"), ("relation", "company_ceo")]
    for row, (role, relation) in zip(first["z"][0], rows):
        for value, measured in zip(row, ["city_in_country", "company_ceo"]):
            facts = [f for f, rel in FACTS if rel == measured]
            control = statistics.mean(
                statistics.mean(sets[(revision, role, None if relation == "*" else relation, d, f)] - rewards[(revision, f, "clean")] for f in facts)
                for d in range(CAUSAL_DRAWS)
            )
            assert value == pytest.approx(effects[(revision, role, relation, measured)][0] - control)
    never = browser_page.evaluate(
        """() => { const gd = document.getElementById('causal-onset'), area = gd.querySelector('.nsewdrag').getBoundingClientRect();
                   return Array.from(gd.querySelectorAll('.textpoint text')).map(t => { const b = t.getBoundingClientRect();
                     return [t.textContent.trim(), b.left >= area.left - 1 && b.right <= area.right + 1]; }); }"""
    )
    assert never and all(text == "never causal" and inside for text, inside in never), never  # none clipped at an edge
    browser_page.set_viewport_size({"width": 1100, "height": 900})  # a laptop's window: long titles reach the right edge
    browser_page.wait_for_timeout(600)  # plotly redraws responsive figures after a resize
    for figure_id in ids:  # the toolbar, shown on hover, covers no title
        browser_page.locator(f"#{figure_id} .nsewdrag").first.hover()
        overlap = browser_page.evaluate(
            """(id) => { const gd = document.getElementById(id), bar = gd.querySelector('.modebar'), title = gd.querySelector('.gtitle');
                         if (!bar || !title) return null; const a = bar.getBoundingClientRect(), b = title.getBoundingClientRect();
                         return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom; }""",
            figure_id,
        )
        assert overlap is False, figure_id
    browser_page.set_viewport_size({"width": 1300, "height": 900})
    browser_page.screenshot(path=str(_artifacts() / "dashboard-causal.png"), full_page=True)
    assert problems == []


def test_the_accuracy_figure_draws_the_stored_intervals_as_bands_with_n_in_the_hover(browser_page, tmp_path):
    from trajectory.pipeline.intervals import IntervalSettings, store_intervals
    from trajectory.store.query import run_sql

    store = write_synthetic_store(tmp_path / "synthetic.duckdb")
    analysis_id = run_sql(store, "SELECT analysis_id FROM analyses")["analysis_id"][0]
    stored = store_intervals(store, analysis_id, IntervalSettings(resamples=200))["intervals"]
    page_path = next(p for p in build_dashboards(store, tmp_path / "out", progress=False) if p.name == "training.html")
    problems = watch(browser_page)
    browser_page.goto(page_path.as_uri())
    browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6")
    figure = browser_page.evaluate(
        """() => { const gd = document.getElementById('accuracy');
                   return gd.data.map(t => ({name: t.name, fill: t.fill || null, y: t.y, hover: t.hovertemplate || ''})); }"""
    )
    bands = [t for t in figure if t["fill"] == "toself"]
    # top-1 and top-10 of each relation type
    assert [b["name"] for b in bands] == ["all location facts: 95 % interval"] * 2 + ["all name facts: 95 % interval"] * 2
    location = stored.filter((stored["measure"] == "top1") & (stored["scope"] == "location"))
    n = len(location)
    assert bands[0]["y"][:n] == location["upper"].to_list() and bands[0]["y"][n:] == location["lower"].to_list()[::-1]
    assert browser_page.locator("#accuracy .scatterlayer .fills path").count() >= 2  # drawn, not only in the data
    assert all("of n = %{customdata[1]} facts" in t["hover"] for t in figure if t["fill"] is None)
    browser_page.locator("#accuracy").screenshot(path=str(_artifacts() / "dashboard-accuracy-bands.png"))
    # The figure's CSV button writes what it draws: one row per point of each shown line (bands left out).
    with browser_page.expect_download() as download:
        browser_page.locator("#accuracy-section button.csv").click()
    rows = list(csv.reader(Path(download.value.path()).read_text().splitlines()))
    assert download.value.suggested_filename == "accuracy.csv" and rows[0] == ["trace", "x", "y", "value"]
    lines = [t for t in figure if t["fill"] is None]
    shown = browser_page.evaluate(
        "() => document.getElementById('accuracy').data.filter(t => t.visible !== false && t.visible !== "
        "'legendonly' && t.fill !== 'toself').map(t => [t.name, Array.from(t.y)])"
    )
    assert len(rows) - 1 == sum(len(y) for _, y in shown) and len(shown) <= len(lines)
    first_name, first_y = shown[0]  # rows come trace by trace, in the figure's order
    assert [r[0] for r in rows[1 : len(first_y) + 1]] == [first_name] * len(first_y)
    assert [float(r[2]) for r in rows[1 : len(first_y) + 1]] == pytest.approx(first_y)
    assert problems == []


def test_role_counts_iou_and_causal_lines_draw_their_stored_intervals(browser_page, small_store, tmp_path):
    """On a real ingest: each role line of the training page and each group line of the causal page has a band
    whose ends are the stored interval's, drawn in the page, and a hover that names the interval and its n."""
    from trajectory.store.query import run_sql

    pages = build_dashboards(small_store, tmp_path / "out", progress=False)
    stored = run_sql(small_store, "SELECT i.* FROM intervals i JOIN revisions v USING (analysis_id, revision) ORDER BY v.ordinal")
    problems = watch(browser_page)
    training = next(p for p in pages if p.name == "training.html")
    browser_page.goto(training.as_uri())
    browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6")
    traces = browser_page.evaluate(
        """() => document.getElementById('role-counts').data.map(t => ({name: t.name, fill: t.fill || null, y: t.y,
                 xaxis: t.xaxis || 'x', hover: t.hovertemplate || ''}))"""
    )
    bands = [t for t in traces if t["fill"] == "toself"]
    assert len(bands) == len(traces) // 2 > 0
    general = next(b for b in bands if b["name"] == "general: 95 % interval" and b["xaxis"] == "x")
    want = stored.filter(
        (stored["measure"] == "role_count") & (stored["scope"] == "head") & (stored["category"] == "general") & (stored["relation"] == "*")
    )
    n = want.height
    assert general["y"][:n] == want["upper"].to_list() and general["y"][n:] == want["lower"].to_list()[::-1]
    assert all("of %{customdata[3]}" in t["hover"] for t in traces if t["fill"] is None)
    assert browser_page.locator("#role-counts .scatterlayer .fills path").count() >= len(bands) // 2
    causal = next(p for p in pages if p.name == "causal.html")
    browser_page.goto(causal.as_uri())
    browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5")
    traces = browser_page.evaluate(
        """() => document.getElementById('causal-emergence').data.map(t => ({name: t.name, fill: t.fill || null, y: t.y,
                 hover: t.hovertemplate || '', visible: t.visible}))"""
    )
    whole = next(t for t in traces if t["name"] == "all facts: 95 % interval")
    want = stored.filter((stored["measure"] == "subject_first") & (stored["scope"] == "*"))  # the measure it opens on
    order = run_sql(small_store, "SELECT revision FROM revisions ORDER BY ordinal")["revision"].to_list()
    upper, lower = (dict(zip(want["revision"].to_list(), want[end].to_list())) for end in ("upper", "lower"))
    # NULL where no fact's last token ever gets the answer: a break in the band (each run of revisions with an interval
    # its own outline, separated by a null), not a 0 and not a wedge across the gap.
    outlines, run = [], []
    for revision in [*order, None]:
        if revision is not None and upper.get(revision) is not None:
            run.append(revision)
        elif run:
            outlines.append([upper[r] for r in run] + [lower[r] for r in run][::-1])
            run = []
    assert whole["y"] == [v for k, outline in enumerate(outlines) for v in ([None] if k else []) + outline]
    assert any(v is not None for v in whole["y"])
    assert all("of n = %{customdata[1]} facts" in t["hover"] for t in traces if t["fill"] is None)
    browser_page.locator("#causal-emergence").screenshot(path=str(_artifacts() / "dashboard-lens-bands.png"))
    assert problems == []


def _shown_edges(page) -> set[tuple]:
    shown = page.evaluate("() => window.routesShown")
    return shown, {(e["layer"], e["kind"], e["source"], e["target"]) for e in shown["edges"]}


def _stored_edges(store, analysis_id: str, fact: int, revision: str) -> dict[tuple, float]:
    from trajectory.store.query import run_sql

    rows = run_sql(
        store,
        f"SELECT layer, kind, source, target, weight FROM routes WHERE analysis_id = '{analysis_id}' "
        f"AND fact_id = {fact} AND revision = '{revision}'",
    )
    return {(r["layer"], r["kind"], r["source"], r["target"]): r["weight"] for r in rows.iter_rows(named=True)}


def test_the_routes_page_draws_a_facts_stored_edges_at_any_revision_and_threshold(browser_page, small_store, tmp_path):
    """Choose a fact, move the revision slider, raise the threshold: the drawn edges are the stored ones of that
    fact and revision, and those at or below the threshold (or cut off from the answer) disappear."""
    from trajectory.store.query import run_sql

    pages = build_dashboards(small_store, tmp_path / "out", progress=False)
    (routes,) = [p for p in pages if p.name == "routes.html"]
    analysis_id, tau = run_sql(small_store, "SELECT analysis_id, tau FROM analyses").row(0)
    problems = watch(browser_page)
    browser_page.goto(routes.as_uri())
    browser_page.wait_for_function("window.routesShown !== undefined")
    facts = browser_page.evaluate("() => Array.from(document.querySelectorAll('#fact option')).map(o => Number(o.value))")
    assert len(facts) == 160
    browser_page.locator("#search").fill("no fact is called this")  # nothing matches: the page says so, draws nothing
    browser_page.wait_for_timeout(200)
    assert browser_page.locator("#status").inner_text() == "no fact matches the search"
    assert browser_page.evaluate("() => window.routesShown.fact") is None
    assert browser_page.locator("#graph .scatterlayer .trace").count() == 0
    browser_page.locator("#search").fill("Fault in Our Stars")  # search, then pick from the narrowed list
    browser_page.wait_for_timeout(200)
    fact = browser_page.evaluate("() => Number(document.getElementById('fact').value)")
    browser_page.locator("#fact").select_option(str(fact))
    browser_page.wait_for_timeout(300)
    shown, last = _shown_edges(browser_page)
    assert shown["fact"] == fact and shown["revision"] == "main"
    assert last == set(_stored_edges(small_store, analysis_id, fact, "main")) and last
    assert browser_page.locator("#revision-label").inner_text().startswith("main")
    for figure in ("rank", "lens"):  # log rank axes: labels written in full (never "10, 2, 5, 100"), at least two
        ticks = browser_page.evaluate(
            f"() => Array.from(document.querySelectorAll('#{figure} text')).filter(t => "
            "t.closest('.yaxislayer-above, .yaxislayer-below') || (t.getAttribute('class') || '').includes('ytick'))"
            ".map(t => t.textContent)"
        )
        values = [int(t) for t in ticks]
        assert len(values) >= 2 and values == sorted(values) and all(set(str(v)[1:]) <= {"0"} for v in values), (figure, ticks)
    browser_page.locator("#revision").press("Home")  # the slider to the first revision
    browser_page.wait_for_timeout(300)
    shown, first = _shown_edges(browser_page)
    assert shown["revision"] != "main" and browser_page.locator("#revision-label").inner_text().startswith(shown["revision"])
    assert first == set(_stored_edges(small_store, analysis_id, fact, shown["revision"])) and first != last
    for _ in range(60):  # the slider is logarithmic: τ · (1/τ)^(60/200)
        browser_page.locator("#threshold").press("ArrowRight")
    browser_page.wait_for_timeout(300)
    shown, raised = _shown_edges(browser_page)
    stored = _stored_edges(small_store, analysis_id, fact, shown["revision"])
    assert shown["threshold"] == pytest.approx(tau * (1 / tau) ** (60 / 200)) and raised < first
    assert all(stored[e] > shown["threshold"] for e in raised)
    assert browser_page.locator("#graph .scatterlayer .js-line").count() > 0  # drawn, not only computed
    legend = browser_page.evaluate(
        "() => document.getElementById('graph').data.filter(t => t.showlegend).map(t => [t.name, t.line.width])"
    )  # one absolute width scale, the same at every revision
    assert [name for name, _ in legend] == [f"weight {k / 5:.1f}–{(k + 1) / 5:.1f}" for k in range(5)]
    assert [width for _, width in legend] == sorted(width for _, width in legend)
    n_revisions = run_sql(small_store, "SELECT count(*) AS n FROM revisions")["n"][0]
    assert browser_page.text_content("#embedded") == f"This file embeds the edges of all {n_revisions} revisions."
    # A click on a node, then on an edge's middle: the panel lists that node's (that block's) stored top tokens.
    browser_page.locator("#graph").scroll_into_view_if_needed()
    for trace_name in ("nodes", "edges"):
        x, y, key = browser_page.evaluate(
            """(name) => { const gd = document.getElementById('graph'), t = gd.data.find(d => d.name === name),
                         xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect(), i = t.x.length - 1;
                         return [box.left + xa._offset + xa.l2p(t.x[i]), box.top + ya._offset + ya.l2p(t.y[i]), t.customdata[i]]; }""",
            trace_name,
        )
        browser_page.mouse.move(x, y)
        browser_page.wait_for_timeout(100)
        browser_page.mouse.click(x, y)
        browser_page.wait_for_timeout(200)
        node, layer, position = key.split("/")
        stored = run_sql(
            small_store,
            f"SELECT tokens, probs FROM node_lens WHERE analysis_id = '{analysis_id}' AND fact_id = {fact} AND revision = "
            f"'{shown['revision']}' AND node = '{node}' AND layer = {layer} AND position = {position}",
        )
        lens = browser_page.evaluate("() => window.lensShown")
        assert lens["key"] == key and stored.height == 1, (trace_name, key)
        assert lens["entry"][0] == stored["tokens"][0].to_list()
        assert lens["entry"][1] == pytest.approx(stored["probs"][0].to_list(), abs=5e-4)
        panel = browser_page.text_content("#node-lens")
        assert "top tokens: " in panel and stored["tokens"][0][0] in panel, panel
    browser_page.screenshot(path=str(_artifacts() / "dashboard-routes.png"), full_page=True)
    assert problems == []


def test_serve_traces_your_own_prompt_and_draws_its_graph(browser_page, small_store, small_suite):
    """In `trajectory serve`, type a prompt: the graph drawn is trace()'s route graph of that prompt at the revision."""
    import subprocess
    import sys

    import torch

    from trajectory.config import load_pipeline
    from trajectory.ifr import trace
    from trajectory.ifr.routes import EDGE_KINDS
    from trajectory.pipeline.sources import cache_source
    from trajectory.store.query import run_sql

    proc = subprocess.Popen(
        [sys.executable, "-m", "trajectory", "serve", "--db", str(small_store), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = proc.stdout.readline().split(" at ")[1].split()[0]
        problems = watch(browser_page)
        index = browser_page.goto(url)
        assert index.ok
        browser_page.locator("a", has_text="Routes").first.click()
        browser_page.wait_for_function("window.routesShown !== undefined")
        assert browser_page.locator("#own").is_visible()
        prompt = "The capital city of France is"
        browser_page.locator("#own-prompt").fill(prompt)
        browser_page.locator("#own button[type=submit]").click()
        browser_page.wait_for_function("window.routesShown && window.routesShown.fact === null", timeout=60_000)
        shown, edges = _shown_edges(browser_page)
        tau = run_sql(small_store, "SELECT tau FROM analyses")["tau"][0]
        model, tokenizer = cache_source(load_pipeline("reference-small")).load(shown["revision"])
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        routes = trace(model, ids, threshold=tau, route_roots=torch.tensor([ids.shape[1] - 1])).routes
        want = {(int(l), EDGE_KINDS[k], int(s), int(t)) for l, k, s, t in zip(routes.layer, routes.kind, routes.source, routes.target)}
        assert edges == want and edges
        # The fact menu and the fact's panels are set aside; the slider re-traces the prompt at the revision it shows.
        assert browser_page.locator("#fact").is_disabled()
        assert browser_page.evaluate("() => ['rank', 'lens', 'roles'].map(id => (document.getElementById(id).data || []).length)") == [0, 0, 0]
        browser_page.locator("#revision").press("Home")
        browser_page.wait_for_function(f"window.routesShown.revision !== {shown['revision']!r} && window.routesShown.fact === null", timeout=60_000)
        moved, moved_edges = _shown_edges(browser_page)
        assert browser_page.locator("#revision-label").inner_text().startswith(moved["revision"])
        model, _ = cache_source(load_pipeline("reference-small")).load(moved["revision"])
        routes = trace(model, ids, threshold=tau, route_roots=torch.tensor([ids.shape[1] - 1])).routes
        assert moved_edges == {(int(l), EDGE_KINDS[k], int(s), int(t)) for l, k, s, t in zip(routes.layer, routes.kind, routes.source, routes.target)}
        browser_page.locator("#own-clear").click()
        browser_page.wait_for_function("window.routesShown.fact !== null")
        assert not browser_page.locator("#fact").is_disabled()
        browser_page.locator("#own-prompt").fill("word " * 80)  # too long: one line on the page, no stack trace
        browser_page.locator("#own button[type=submit]").click()
        browser_page.wait_for_function("document.getElementById('status').textContent.startsWith('error')")
        assert "limit is 64" in browser_page.locator("#status").inner_text()
        assert all("status of 400" in p for p in problems)  # only the refused prompt's HTTP 400
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_fact_whose_text_opens_an_html_comment_leaves_the_routes_page_whole(browser_page, small_store, tmp_path):
    """The embedded data escapes every "<", so a fact text holding "<!--<script>" or "</script>" can neither end
    the data's element nor swallow the page: every fact stays listed and the graph draws."""
    import shutil

    from trajectory.store.db import writer

    db = tmp_path / "hostile.duckdb"
    shutil.copy(small_store, db)
    with writer(db) as con:
        con.execute("UPDATE facts SET subject = subject || ' <!--<script>alert(1)</script>' WHERE fact_id = 3")
    (routes,) = [p for p in build_dashboards(db, tmp_path / "out", progress=False) if p.name == "routes.html"]
    assert "<!--<script>" not in routes.read_text()
    problems = watch(browser_page)
    browser_page.goto(routes.as_uri())
    browser_page.wait_for_function("window.routesShown !== undefined")
    assert browser_page.evaluate("() => document.querySelectorAll('#fact option').length") == 160
    texts = browser_page.evaluate("() => Array.from(document.querySelectorAll('#fact option')).map(o => o.textContent)")
    assert any("<!--<script>alert(1)</script>" in t for t in texts)  # shown as text, never run
    assert problems == []


def test_a_copied_link_reopens_the_figures_as_they_were_shown(dashboard):
    """Every slider move and menu choice is written into the URL; opening that URL afresh shows the same revision,
    the same relation and the same cells (issue #38, item 2)."""
    page, _ = dashboard
    problems = watch(page)  # this test's own: the shared page has served other tests since the fixture's
    page.goto(TRAINING_PAGE[0])
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6 && window.viewRestored")
    drag_slider(page, "role-grid", 0.0)
    choose_from_menu(page, "role-grid", "company ceo")
    drag_slider(page, "role-transitions", 1.0)
    shown = {figure: figure_state(page, figure) for figure in ("role-grid", "role-transitions")}
    link = page.evaluate("() => location.href")
    assert "#view:" in link and "role-grid.s0=0" in link and "role-grid.m0=" in link and f"role-transitions.s0={N_REVISIONS - 1}" in link
    page.goto("about:blank")
    page.goto(link)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6 && window.viewRestored")
    page.evaluate("() => window.viewRestored")
    for figure, state in shown.items():
        assert figure_state(page, figure) == state, figure
    plain = link.split("#")[0]
    page.goto("about:blank")
    page.goto(plain)  # without a view: the default revision (the last) again
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6 && window.viewRestored")
    page.evaluate("() => window.viewRestored")
    assert figure_state(page, "role-grid")["active"] == N_REVISIONS - 1
    assert page.locator("button.copy-link").count() == 1
    assert problems == []


def test_a_copied_routes_link_reopens_the_fact_revision_and_threshold(browser_page, small_store, tmp_path):
    pages = build_dashboards(small_store, tmp_path / "out", progress=False)
    (routes,) = [p for p in pages if p.name == "routes.html"]
    problems = watch(browser_page)
    browser_page.goto(routes.as_uri())
    browser_page.wait_for_function("window.routesShown !== undefined")
    facts = browser_page.evaluate("() => Array.from(document.querySelectorAll('#fact option')).map(o => o.value)")
    browser_page.locator("#fact").select_option(facts[37])
    browser_page.locator("#revision").press("Home")
    for _ in range(4):
        browser_page.locator("#threshold").press("ArrowRight")
    browser_page.wait_for_timeout(300)
    shown, edges = _shown_edges(browser_page)
    link = browser_page.evaluate("() => location.href")
    assert f"fact={facts[37]}" in link and shown["revision"] != "main"
    browser_page.goto("about:blank")
    browser_page.goto(link)
    browser_page.wait_for_function("window.routesShown !== undefined")
    browser_page.evaluate("() => window.routesReady")
    again, edges_again = _shown_edges(browser_page)
    assert (again["fact"], again["revision"], again["threshold"]) == (shown["fact"], shown["revision"], shown["threshold"])
    assert edges_again == edges and browser_page.evaluate("() => document.getElementById('fact').value") == facts[37]
    browser_page.goto("about:blank")
    browser_page.goto(routes.as_uri() + "#view:fact=999999&revision=nowhere&threshold=7")  # nothing valid: the defaults
    browser_page.wait_for_function("window.routesShown !== undefined")
    browser_page.evaluate("() => window.routesReady")
    default, _ = _shown_edges(browser_page)
    assert default["revision"] == "main" and default["threshold"] == pytest.approx(
        browser_page.evaluate("() => JSON.parse(document.getElementById('routes-data').textContent).tau")
    )
    assert problems == []


def _shown_components(page) -> list[list[str]]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => [...new Set(gd.data
             .filter(t => t.visible !== false && t.meta && t.meta.component).map(t => t.meta.component))])"""
    )


def test_the_component_page_draws_where_a_head_looks_from_the_answers_token(browser_page, small_store, tmp_path):
    """Issue #38 item 1: the head's attention from each fact's root at the last revision, as stored (each row sums to
    1), on the facts it serves most; an FFN's says there is none."""
    from trajectory.store.query import run_sql

    pages = build_dashboards(small_store, tmp_path / "out", progress=False)
    (page,) = [p for p in pages if p.name == "components.html"]
    problems = watch(browser_page)
    browser_page.goto(page.as_uri() + "#view:component=L1H2")
    browser_page.wait_for_function("window.viewRestored !== undefined")
    browser_page.evaluate("() => window.viewRestored")
    shown = browser_page.evaluate(
        """() => { const t = document.getElementById('component-attention').data.find(d => d.visible !== false);
                   return [t.meta.component, t.y, t.z, t.customdata.map(row => row[0][1])]; }"""
    )
    component, labels, z, facts = shown
    assert component == "L1H2" and 0 < len(facts) <= 12
    last = run_sql(small_store, "SELECT revision FROM revisions ORDER BY ordinal DESC LIMIT 1").item()
    for fact, row in zip(facts, z):
        stored = run_sql(small_store, f"SELECT weights FROM root_attention WHERE revision = '{last}' AND fact_id = {fact} AND layer = 1 AND head = 2")
        weights = [w for w in row if w is not None]
        assert weights == pytest.approx(stored["weights"][0].to_list(), abs=1e-6) and sum(weights) == pytest.approx(1, abs=1e-4)
    browser_page.fill("#component-picker", "L0FFN")
    browser_page.dispatch_event("#component-picker", "change")
    browser_page.wait_for_function("location.hash.includes('component=L0FFN')")
    assert "nothing stored for L0FFN here" in browser_page.text_content("#component-attention")
    assert problems == []


def test_the_component_page_shows_one_component_from_its_link_and_figures_lead_to_it(browser_page, tmp_path):
    """Issue #38 item 1: a page per head or FFN. A link names the component; the picker changes it (and the link), and
    says so when a name is unknown; a click on a fact opens its routes at that revision, a click on a component in the
    role grid or the causal effect map opens the component's page. (test_effect_views checks the drawn values.)"""
    from test_effect_views import write_effects_store

    db, _ = write_effects_store(tmp_path / "effects.duckdb")
    pages = build_dashboards(db, tmp_path / "out", progress=False)
    by_name = {p.name: p for p in pages}
    assert "routes.html" not in by_name  # the synthetic store holds no routes: a stand-in page receives the click
    (by_name["components.html"].parent / "routes.html").write_text("<!DOCTYPE html><title>routes</title>")
    problems = watch(browser_page)
    browser_page.goto(by_name["components.html"].as_uri() + "#view:component=L1H2")
    browser_page.wait_for_function("window.viewRestored !== undefined")
    browser_page.evaluate("() => window.viewRestored")
    assert _shown_components(browser_page) == [["L1H2"], ["L1H2"], ["L1H2"], []]
    assert browser_page.input_value("#component-picker") == "L1H2"

    browser_page.fill("#component-picker", "L0FFN")
    browser_page.dispatch_event("#component-picker", "change")
    browser_page.wait_for_function("location.hash.includes('component=L0FFN')")
    assert _shown_components(browser_page) == [["L0FFN"], ["L0FFN"], ["L0FFN"], []]
    browser_page.fill("#component-picker", "L9H99")
    browser_page.dispatch_event("#component-picker", "change")
    assert "no component named L9H99" in browser_page.text_content("#component-said")
    assert _shown_components(browser_page) == [["L0FFN"], ["L0FFN"], ["L0FFN"], []] and "component=L0FFN" in browser_page.url

    facts = browser_page.locator("#component-facts .nsewdrag").first
    facts.scroll_into_view_if_needed()
    box = facts.bounding_box()
    row, column, rows, columns, fact = browser_page.evaluate(
        """() => { const t = document.getElementById('component-facts').data.find(t => t.visible !== false);
                   const i = t.z.findIndex(line => line[line.length - 1] !== null), j = t.z[0].length - 1;
                   return [i, j, t.z.length, t.z[0].length, t.customdata[i][j]]; }"""
    )
    browser_page.mouse.click(box["x"] + box["width"] * (column + 0.5) / columns, box["y"] + box["height"] * (row + 0.5) / rows)
    browser_page.wait_for_function("location.pathname.endsWith('routes.html')")
    first_fact = fact
    assert browser_page.url.endswith(f"routes.html#view:fact={first_fact[0]}&revision={first_fact[1]}")

    for page_name, figure in (("training.html", "role-grid"), ("causal.html", "causal-component-effects")):
        browser_page.goto(by_name[page_name].as_uri())
        browser_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6 && window.viewRestored")
        cells = browser_page.locator(f"#{figure} .nsewdrag").first
        cells.scroll_into_view_if_needed()
        box = cells.bounding_box()
        rows, columns = browser_page.evaluate(f"() => {{ const t = document.getElementById('{figure}').data[0]; return [t.y.length, t.x.length]; }}")
        browser_page.mouse.click(box["x"] + box["width"] * 0.5 / columns, box["y"] + box["height"] * 0.5 / rows)  # the first column
        browser_page.wait_for_function("location.pathname.endsWith('components.html') && window.viewRestored")
        browser_page.evaluate("() => window.viewRestored")
        chosen = browser_page.input_value("#component-picker")
        assert chosen in ("L0H0", "L1H0") and _shown_components(browser_page)[0] == [chosen], page_name
    assert problems == []
