"""The routes page: one fact's route graph at any revision, drawn as llm-transparency-tool draws a prompt's
graph (tokens along x, layers up y, edges as wide as their contribution, the heads of an attention edge on
hover), with a threshold slider applied in the page, and beside it the answer's rank over training, the logit
lens at the last token and the subject, and the roles the fact's relation gives each head.

The page embeds every fact's edges at the revisions that fit in ``EMBED_EDGES`` (all of them on the
reference; evenly spaced ones, first and last included, for larger models); ``trajectory serve`` answers the
rest on demand (``/api/routes/<analysis>/<fact>/<ordinal>``), so a served page reaches every revision. The
drawing is ``assets/routes.js``; the data come from ``sql/routes/``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import duckdb
import polars as pl

from trajectory.dashboard.style import ROLE_COLOURS
from trajectory.paths import SQL_DIR
from trajectory.roles.scores import ROLES

EMBED_EDGES = 150_000  # edges a static page carries (about 7 MB of JSON); serve answers the rest
EMBED_LENS = 60_000  # node-lens entries it carries (about 3 MB): at evenly spaced embedded revisions, the last included
ASSET = Path(__file__).parent / "assets" / "routes.js"


def _query(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> pl.DataFrame:
    sql = (SQL_DIR / "routes" / f"{name}.sql").read_text()
    return pl.from_arrow(con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).to_arrow_table())


def embedded_ordinals(edges_per_revision: list[int], limit: int = EMBED_EDGES) -> list[int]:
    """The revisions (ordinals) whose edges a static page embeds: all when they fit, else the most evenly
    spaced ones (first and last) whose edges fit in ``limit``, or the final one alone when two do not."""
    n = len(edges_per_revision)
    if sum(edges_per_revision) <= limit:
        return list(range(n))
    mean = sum(edges_per_revision) / n
    count = min(n, int(limit // max(mean, 1)))
    if count <= 1:  # not even two fit: the final revision alone
        return [n - 1]
    return sorted({round(k * (n - 1) / (count - 1)) for k in range(count)})


def encode_edges(edges: pl.DataFrame) -> dict[str, list]:
    """One fact's edges at one revision as parallel arrays (weights in millionths, rounded up so that an edge above
    τ stays above it in the page), the heads of each attention edge as "head:weight" pairs: the page's compact form."""
    heads = [
        " ".join(f"{h}:{w:.3f}" for h, w in zip(hs or [], ws or [])) for hs, ws in zip(edges["heads"].to_list(), edges["head_weights"].to_list())
    ]
    return {
        "layer": edges["layer"].to_list(),
        "kind": edges["kind"].to_list(),
        "source": edges["source"].to_list(),
        "target": edges["target"].to_list(),
        "weight": (edges["weight"].cast(pl.Float64) * 1e6).ceil().cast(pl.Int64).to_list(),
        "residual": (edges["residual"].cast(pl.Float64) * 1e6).round().cast(pl.Int64).to_list(),
        "heads": heads,
    }


def encode_lens(nodes: pl.DataFrame) -> dict[str, list]:
    """One fact's node lens at one revision: ``"<node>/<layer>/<position>"`` -> [tokens, probabilities (3 decimals)]."""
    keys = (nodes["node"] + "/" + nodes["layer"].cast(pl.String) + "/" + nodes["position"].cast(pl.String)).to_list()
    probs = nodes["probs"].list.eval(pl.element().cast(pl.Float64).round(3)).to_list()
    return {key: [tokens, p] for key, tokens, p in zip(keys, nodes["tokens"].to_list(), probs)}


def fact_edges(con: duckdb.DuckDBPyConnection, analysis_id: str, revisions: list[str], lens_revisions: list[str] | None = None) -> dict[str, dict]:
    """``"<fact>|<revision>"`` -> its encoded edges, for the given revisions; with its node lens (``"lens"``) at those
    of ``lens_revisions`` (default: all of them) that stored one."""
    rows = _query(con, "page_edges", {"analysis": analysis_id, "revisions": revisions})
    edges = {
        f"{fact}|{revision}": encode_edges(part)
        for (fact, revision), part in rows.partition_by(["fact_id", "revision"], as_dict=True, maintain_order=True).items()
    }
    lens = _query(con, "page_node_lens", {"analysis": analysis_id, "revisions": revisions if lens_revisions is None else lens_revisions})
    for (fact, revision), part in lens.partition_by(["fact_id", "revision"], as_dict=True, maintain_order=True).items():
        if f"{fact}|{revision}" in edges:
            edges[f"{fact}|{revision}"]["lens"] = encode_lens(part)
    return edges


def routes_data(con: duckdb.DuckDBPyConnection, analysis_id: str, limit: int = EMBED_EDGES, lens_limit: int = EMBED_LENS) -> dict | None:
    """Everything the page draws for one analysis (None when it stored no routes): ``limit`` edges and ``lens_limit``
    node-lens entries embedded at most."""
    params = {"analysis": analysis_id}
    counts = dict(con.execute("SELECT revision, count(*) FROM routes WHERE analysis_id = ? GROUP BY 1", [analysis_id]).fetchall())
    if not counts:
        return None
    axis = con.execute("SELECT revision, ordinal, x_step FROM revision_axis WHERE analysis_id = ? ORDER BY ordinal", [analysis_id]).fetchall()
    revisions = [r for r, _, _ in axis]
    embedded = embedded_ordinals([counts.get(r, 0) for r in revisions], limit)
    lens_counts = dict(con.execute("SELECT revision, count(*) FROM node_lens WHERE analysis_id = ? GROUP BY 1", [analysis_id]).fetchall())
    with_lens = embedded_ordinals([lens_counts.get(revisions[o], 0) for o in embedded], lens_limit)
    lens_embedded = [embedded[i] for i in with_lens if lens_counts.get(revisions[embedded[i]])]
    ((tau, name),) = con.execute("SELECT tau, name FROM analyses WHERE analysis_id = ?", [analysis_id]).fetchall()
    facts = _query(con, "page_facts", params)
    over = _query(con, "page_facts_over_training", params)
    roles = _query(con, "page_roles", params)
    n_layers = int(con.execute("SELECT max(layer) + 1 FROM roles WHERE analysis_id = ?", [analysis_id]).fetchall()[0][0])
    n_heads = int(con.execute("SELECT max(head) + 1 FROM roles WHERE analysis_id = ? AND kind = 'head'", [analysis_id]).fetchall()[0][0])
    parallel = bool(con.execute("SELECT count(*) FROM routes WHERE analysis_id = ? AND kind LIKE 'block_%'", [analysis_id]).fetchall()[0][0])
    ordinal_of = {r: o for r, o, _ in axis}
    role_grid: dict[str, dict[int, list[list[int]]]] = {}
    deactivated = ROLES.index("deactivated")
    for (relation, ordinal), part in roles.partition_by(["relation", "ordinal"], as_dict=True, maintain_order=True).items():
        grid = [[deactivated] * (n_heads + 1) for _ in range(n_layers)]
        for kind, layer, head, role in part.select("kind", "layer", "head", "role").iter_rows():
            grid[layer][head if kind == "head" else n_heads] = ROLES.index(role)
        role_grid.setdefault(relation, {})[ordinal] = grid
    histories = {fact: part.sort("ordinal") for (fact,), part in over.partition_by(["fact_id"], as_dict=True, maintain_order=True).items()}

    def history(fact: int, column: str) -> list:
        part = histories.get(fact)
        values = {} if part is None else dict(zip(part["ordinal"].to_list(), part[column].to_list()))
        return [values.get(o) for o in range(len(revisions))]

    return {
        "analysis_id": analysis_id,
        "name": name,
        "tau": tau,
        "parallel": parallel,
        "layers": n_layers,
        "heads": n_heads,
        "revisions": revisions,
        "steps": [x for _, _, x in axis],
        "embedded": embedded,
        "roles": list(ROLES),
        "role_colours": [ROLE_COLOURS[r] for r in ROLES],
        "facts": [
            {
                "id": r["fact_id"],
                "relation": r["relation"],
                "type": r["relation_type"],
                "subject": r["subject"],
                "answer": r["answer"],
                "root": r["root"],
                "tokens": r["tokens"] or [f"t{i}" for i in range(r["root"] + 1)],
                "subject_positions": r["subject_positions"],
                "rank": history(r["fact_id"], "answer_rank"),
                "lens_last": history(r["fact_id"], "lens_last"),
                "lens_subject": history(r["fact_id"], "lens_subject"),
            }
            for r in facts.iter_rows(named=True)
        ],
        "lens_embedded": lens_embedded,
        "edges": fact_edges(con, analysis_id, [revisions[o] for o in embedded], [revisions[o] for o in lens_embedded]),
        "role_grid": {relation: {str(o): grid for o, grid in grids.items()} for relation, grids in role_grid.items()},
        "ordinal_of": ordinal_of,
    }


def embedded_json(data: object) -> str:
    """JSON to embed in a <script> element: no "<", ">" or "&" anywhere in it (a fact's text may hold "</script>"
    or "<!--", which would end or derail the element), and only ASCII (U+2028 and U+2029 escaped)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)  # these characters occur only inside strings
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_routes_page(title: str, meta: list[str], nav: str, data: dict, plotly_src: str) -> str:
    """The page: controls, the graph and its three companions; plotly.js from ``plotly_src`` (a relative path)."""
    from trajectory.dashboard.page import NO_ICON, STYLE, inline_markup

    payload = embedded_json(data)
    controls = """
<div id="controls">
  <label>fact <input id="search" type="search" placeholder="search subject, answer or relation"></label>
  <select id="fact"></select>
  <label>revision <input id="revision" type="range" min="0" value="0" step="1"> <b id="revision-label"></b></label>
  <label>threshold (log scale) <input id="threshold" type="range"> <b id="threshold-label"></b></label>
  <button type="button" id="copy-link" title="a link that reopens this fact, revision and threshold">copy link</button>
  <p id="status" class="meta"></p><p id="embedded" class="meta"></p>
  <form id="own" style="display:none"><label>your own prompt <input id="own-prompt" type="text" size="60"
    placeholder="e.g. The capital city of France is"></label> <button type="submit">trace at this revision</button>
    <button type="button" id="own-clear">back to the fact</button></form>
</div>"""
    body = (
        f"<header><h1>{html.escape(title)}</h1>"
        + "".join(f'<p class="meta">{inline_markup(line)}</p>' for line in meta)
        + f"<nav>{nav}</nav></header>{controls}"
        + '<div id="graph" style="height:640px"></div><p id="node-lens" class="meta"></p>'
        + '<div id="companions" style="display:grid;grid-template-columns:1fr 1fr 1fr;gap:8px">'
        '<div id="rank" style="height:320px"></div><div id="lens" style="height:320px"></div>'
        '<div id="roles" style="height:320px"></div></div>'
        + '<p class="caption">The graph: the fact\'s prompt along x (its last token predicts the answer), layers up y; '
        'per layer a row after attention and a row after the FFN. Edges: attention (blue, as wide as Σ of its heads\' '
        'contributions, the residual included where a token reads itself), FFN (orange) and the FFN\'s residual (grey), '
        'each as wide as its weight on one scale for every revision (the legend); '
        'hover an edge\'s middle for its heads; click a node for the top tokens of the residual stream there, or an edge\'s '
        'middle for what its block writes (the logit lens: read through the final norm and unembedding). Raising the threshold drops the edges at or below it and whatever then no '
        'longer reaches the answer; weights stay as renormalised at the analysis\'s τ. Beside it: the answer\'s rank over '
        'training (1 = top-1, as on every page) with the revision shown; the logit lens at that revision (the answer\'s rank after each '
        'layer at the last token, and its best rank over the subject\'s tokens); the role the fact\'s relation gives each '
        'head (and FFN, last column) at that revision.</p>'
        + f'<script id="routes-data" type="application/json">{payload}</script>'
        + f"<script>{ASSET.read_text()}</script>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>{NO_ICON}'
        f'<style>{STYLE} #controls label {{ margin-right: 18px; }} #controls input[type=range] {{ width: 240px; vertical-align: middle; }}'
        f' #fact {{ max-width: 420px; }}</style><script src="{html.escape(plotly_src)}"></script></head>\n<body>\n{body}\n</body></html>\n'
    )
