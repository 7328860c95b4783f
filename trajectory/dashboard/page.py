"""HTML pages that open with no network: plotly.js written once per output folder (``plotly.min.js``) and
loaded by a relative path, so each page carries only its own figures."""

from __future__ import annotations

import html
import os
import re
from functools import lru_cache
from pathlib import Path

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1280px; padding: 0 24px 48px; color: #222; }
header { border-bottom: 1px solid #ddd; margin-bottom: 12px; }
h1 { font-size: 24px; margin: 20px 0 4px; } h2 { font-size: 18px; margin: 28px 0 4px; }
.meta { color: #555; font-size: 14px; margin: 4px 0 12px; } .caption { color: #444; font-size: 14px; max-width: 980px; }
nav a, li a { color: #0072B2; } nav { font-size: 14px; margin-bottom: 8px; } code { background: #f3f3f3; padding: 0 3px; }
section { margin-bottom: 18px; }
.picker { font-size: 14px; } .picker input { font-size: 14px; }
button.csv, button.copy-link { font-size: 12px; color: #0072B2; background: none; border: 1px solid #ccc; border-radius: 3px; cursor: pointer; }
"""
# Each figure's "CSV" button writes what the figure draws (its shown traces; bands left out): for lines and bars
# one row per point (trace, x, y), for heatmaps one per cell (trace, x, y, value), for a Sankey one per flow.
CSV_SCRIPT = r"""
function figureCsv(gd) {
  const rows = [["trace", "x", "y", "value"]];
  for (const t of gd.data) {
    if (t.visible === false || t.visible === "legendonly" || t.fill === "toself") continue;
    const name = t.name || t.type || "";
    if (t.type === "sankey") {
      Array.from(t.link.source).forEach((s, i) => rows.push([name, t.node.label[s], t.node.label[t.link.target[i]], t.link.value[i]]));
    } else if (t.z) {
      Array.from(t.z).forEach((row, i) => Array.from(row).forEach((v, j) => rows.push([name, t.x ? t.x[j] : j, t.y ? t.y[i] : i, v])));
    } else {
      const n = (t.x || t.y || []).length;
      for (let i = 0; i < n; i++) rows.push([name, t.x ? t.x[i] : i, t.y ? t.y[i] : "", ""]);
    }
  }
  const cell = v => { const s = v == null || (typeof v === "number" && isNaN(v)) ? "" : String(v);
                      return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
  return rows.map(r => r.map(cell).join(",")).join("\n") + "\n";
}
document.addEventListener("click", event => {
  const button = event.target.closest("button.csv");
  if (!button) return;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([figureCsv(document.getElementById(button.dataset.figure))], {type: "text/csv"}));
  link.download = button.dataset.figure + ".csv";
  document.body.appendChild(link); link.click(); link.remove();
});
"""
# Links that reopen a view: every slider position and menu choice of a page's figures is kept in the URL's fragment
# (#view:<figure>.s<slider>=<step>&<figure>.m<menu>=<button>) as it changes, and restored on load by applying the
# step's or button's own plotly call, so a copied link opens the page as it was shown. "copy link" copies it.
VIEW_SCRIPT = r"""
(function () {
  const PREFIX = "#view:";
  const state = new Map();
  function write() {
    const text = [...state].map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join("&");
    if (!text && !location.hash.startsWith(PREFIX)) return;  // a section's anchor stays until a view is chosen
    history.replaceState(null, "", location.pathname + location.search + (text ? PREFIX + text : ""));
  }
  async function apply(gd, kind, index, active) {
    const holder = kind === "s" ? gd.layout.sliders : gd.layout.updatemenus;
    const control = holder && holder[index];
    const choice = control && (kind === "s" ? control.steps : control.buttons)[active];
    if (!choice) return false;
    if (choice.method && choice.method !== "skip") await Plotly[choice.method](gd, ...(choice.args || []));
    await Plotly.relayout(gd, {[`${kind === "s" ? "sliders" : "updatemenus"}[${index}].active`]: active});
    return true;
  }
  // A page's own choices (the component page's picker) register a handler under their key: viewHandlers[key](value)
  // applies a value from the URL and says whether it could; viewSet(key, value) records a choice made on the page.
  window.viewSet = (key, value) => { state.set(key, encodeURIComponent(value)); write(); };
  async function restore() {
    if (!location.hash.startsWith(PREFIX)) return;
    const handlers = window.viewHandlers || {};
    for (const part of location.hash.slice(PREFIX.length).split("&")) {
      const [key, value] = part.split("=");
      const name = decodeURIComponent(key || "");
      if (Object.hasOwn(handlers, name)) {
        if (await handlers[name](decodeURIComponent(value || ""))) state.set(name, value);
        continue;
      }
      const match = /^(.+)\.([sm])(\d+)$/.exec(name);
      const gd = match && document.getElementById(match[1]);
      if (gd && gd.layout && await apply(gd, match[2], Number(match[3]), Number(value))) state.set(match[0], Number(value));
    }
  }
  function follow(gd) {
    gd.on("plotly_sliderchange", (e) => { state.set(`${gd.id}.s${e.slider._index}`, e.slider.active); write(); });
    gd.on("plotly_buttonclicked", (e) => { state.set(`${gd.id}.m${e.menu._index}`, e.active); write(); });
  }
  window.viewRestored = (async () => {
    const figures = [...document.querySelectorAll(".js-plotly-plot")];
    await restore();
    figures.forEach(follow);
    write();
  })();
  document.addEventListener("click", (event) => {
    if (!event.target.closest("button.copy-link")) return;
    const text = location.href;
    const done = () => { event.target.textContent = "link copied"; setTimeout(() => { event.target.textContent = "copy link"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => prompt("this view's link", text));
    else { prompt("this view's link", text); }
  });
})();
"""
# A trace whose meta names a link (meta.link, with {x}, {y} or {c<i>}: the clicked point's x, y or customdata[i])
# opens it on a click: a component named in a figure opens its page, a fact its routes.
CLICK_SCRIPT = r"""
document.querySelectorAll(".js-plotly-plot").forEach((gd) => gd.on("plotly_click", (event) => {
  const point = event.points && event.points[0];
  const link = point && point.data.meta && point.data.meta.link;
  if (!link) return;
  const data = Array.isArray(point.customdata) ? point.customdata : [];
  const value = (name) => name === "x" ? point.x : name === "y" ? point.y : data[Number(name.slice(1))];
  location.href = link.replace(/\{(x|y|c\d+)\}/g, (_, name) => encodeURIComponent(value(name)));
}));
"""
# The component page's picker: one component's traces shown at a time (meta.component), chosen by name in a searchable
# list or stepped through; the choice is kept in the URL (#view:component=L2H5).
COMPONENT_SCRIPT = r"""
(function () {
  const input = document.getElementById("component-picker");
  const keys = [...document.querySelectorAll("#component-list option")].map((o) => o.value);
  const said = document.getElementById("component-said");
  async function show(key) {
    if (!keys.includes(key)) { said.textContent = `no component named ${key}: write one as L2H5 or L2FFN`; return false; }
    input.value = key; said.textContent = "";
    for (const gd of document.querySelectorAll(".js-plotly-plot")) {
      if (!gd.data.some((t) => t.meta && t.meta.component)) continue;
      await Plotly.restyle(gd, {visible: gd.data.map((t) => !(t.meta && t.meta.component) || t.meta.component === key)});
      // A figure with nothing stored for the component says so (an FFN or head no measured fact needs, say).
      const kept = (gd.layout.annotations || []).filter((a) => a.name !== "component-none");
      const none = !gd.data.some((t) => t.meta && t.meta.component === key);
      const note = {name: "component-none", text: `nothing stored for ${key} here`, showarrow: false, x: 0.5, y: 0.5,
                    xref: "paper", yref: "paper", font: {size: 15, color: "#666"}};
      await Plotly.relayout(gd, {annotations: none ? [...kept, note] : kept});
    }
    return true;
  }
  async function choose(key) { if (await show(key)) window.viewSet("component", key); }
  window.viewHandlers = Object.assign(window.viewHandlers || {}, {component: show});
  input.addEventListener("change", () => choose(input.value.trim()));
  document.querySelectorAll("button.component-step").forEach((b) => b.addEventListener("click", () => {
    const at = Math.max(0, keys.indexOf(input.value));
    choose(keys[(at + Number(b.dataset.step) + keys.length) % keys.length]);
  }));
})();
"""


def component_picker(keys: list[str]) -> str:
    """The picker of the component page: a searchable list of the components' names, first one shown."""
    options = "".join(f'<option value="{html.escape(k)}">' for k in keys)
    return (
        '<p class="picker"><label>component <input id="component-picker" list="component-list" size="10" '
        f'value="{html.escape(keys[0] if keys else "")}" title="a head as L2H5 (layer 2, head 5), an FFN as L2FFN"></label>'
        f'<datalist id="component-list">{options}</datalist> '
        '<button class="component-step" type="button" data-step="-1">previous</button> '
        '<button class="component-step" type="button" data-step="1">next</button> '
        f'<span class="meta">{len(keys)} components; every figure below shows the one chosen</span> '
        '<span id="component-said" class="meta"></span></p>'
    )


COPY_LINK = '<button class="copy-link" type="button" title="a link that reopens this page as shown now">copy link</button>'


@lru_cache(maxsize=1)
def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def inline_markup(text: str) -> str:
    """Escape, then render `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


PLOTLY_FILE = "plotly.min.js"
NO_ICON = '<link rel="icon" href="data:,">'  # no favicon request (a 404 in every served page's console)


def write_plotly(out: Path) -> Path:
    """plotly.js beside the pages, once per output folder (rewritten only when plotly changed)."""
    path = Path(out) / PLOTLY_FILE
    text = plotly_js()
    if not path.is_file() or path.stat().st_size != len(text.encode("utf-8")):
        write_atomically(path, text)
    return path


def _document(title: str, body: str, plotly_src: str | None) -> str:
    script = f'<script type="text/javascript" src="{html.escape(plotly_src)}"></script>' if plotly_src else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>{NO_ICON}'
        f"<style>{STYLE}</style>{script}</head>\n<body>\n{body}\n</body></html>\n"
    )


def page_links(links: list[tuple[str, str | None]]) -> str:
    """The pages row of a page's header: (title, relative link; None for the page itself)."""
    return "pages: " + " · ".join(
        f"<b>{html.escape(t)}</b>" if href is None else f'<a href="{html.escape(href)}">{html.escape(t)}</a>' for t, href in links
    )


def render_page(
    title: str,
    meta: list[str],
    sections: list[tuple[str, str, str, str]],
    pages: str = "",
    plotly_src: str = PLOTLY_FILE,
    components: list[str] | None = None,
) -> str:
    """``sections``: (figure id, title, caption, figure HTML div); ``pages``: the row linking the index and the
    sibling pages (:func:`page_links`); ``plotly_src``: plotly.js relative to the page; ``components``: the names
    the component picker offers (a page with a picker)."""
    nav = " · ".join(f'<a href="#{fid}-section">{html.escape(t)}</a>' for fid, t, _, _ in sections)
    parts = [
        f"<header><h1>{html.escape(title)}</h1>",
        *(f'<p class="meta">{inline_markup(line)}</p>' for line in meta),
        f'<nav class="pages">{pages}</nav>' if pages else "",
        f"<nav>{nav} {COPY_LINK}</nav>",
        component_picker(components) if components is not None else "",
        "</header>",
    ]
    for fid, _, caption, div in sections:
        button = f'<button class="csv" data-figure="{html.escape(fid)}" title="what the figure shows, as CSV">CSV</button>'
        parts.append(f'<section id="{fid}-section">{div}<p class="caption">{inline_markup(caption)} {button}</p></section>')
    picker = f"<script>{COMPONENT_SCRIPT}</script>" if components is not None else ""
    parts.append(f"<script>{CSV_SCRIPT}</script>{picker}<script>{VIEW_SCRIPT}</script><script>{CLICK_SCRIPT}</script>")
    return _document(title, "\n".join(parts), plotly_src)


def render_index(title: str, entries: list[tuple[str, list[tuple[str, str, list[str]]], str]]) -> str:
    """``entries``: (model or analysis, [(page title, relative link, headline results)], one-line summary): the
    index opens with what each page shows, written from the store's own numbers."""
    items = []
    for model, links, summary in entries:
        pages = []
        for page_title, link, said in links:
            results = "".join(f"<li>{inline_markup(line)}</li>" for line in said)
            pages.append(f'<li><a href="{html.escape(link)}">{html.escape(page_title)}</a>' + (f"<ul>{results}</ul>" if results else "") + "</li>")
        items.append(f"<li><b>{html.escape(model)}</b><br><span class='meta'>{inline_markup(summary)}</span><ul>{''.join(pages)}</ul></li>")
    body = f"<header><h1>{html.escape(title)}</h1></header><ul>{''.join(items)}</ul>"
    return _document(title, body, None)


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename: a reader never sees half a page, a crash leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
