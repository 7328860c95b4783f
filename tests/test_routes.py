"""Route graphs as stored by an ingest (table routes): equal to a fresh trace, as networkx graphs and GraphML, as
the routes page and `trajectory serve` hand them out."""

from __future__ import annotations

import networkx as nx
import polars as pl
import torch

from trajectory.cli import main
from trajectory.store.query import run_sql


def _analysis(store) -> tuple[str, float]:
    return run_sql(store, "SELECT analysis_id, tau FROM analyses").row(0)


def test_stored_routes_equal_a_fresh_trace_of_the_same_revision(small_store):
    from trajectory.config import load_pipeline
    from trajectory.facts import load_probe_set
    from trajectory.ifr import trace
    from trajectory.ifr.routes import EDGE_KINDS
    from trajectory.pipeline.sources import cache_source
    from trajectory.prompts import encode_probe_set

    analysis_id, tau = _analysis(small_store)
    model, tokenizer = cache_source(load_pipeline("reference-small")).load("main")
    encoded = encode_probe_set(tokenizer, load_probe_set("builtin"))
    roots = torch.tensor([a[0] - 1 for a in encoded.answer_positions])
    routes = trace(model, encoded.input_ids, encoded.attention_mask, threshold=tau, route_roots=roots).routes
    stored = run_sql(
        small_store,
        f"SELECT fact_id, layer, kind, source, target, weight, root FROM routes WHERE analysis_id = '{analysis_id}' AND revision = 'main'",
    )
    fact_ids = [f.fact_id for f in encoded.facts]
    fresh = {
        (fact_ids[p], int(l), EDGE_KINDS[k], int(s), int(t)): float(w)
        for p, l, k, s, t, w in zip(routes.prompt, routes.layer, routes.kind, routes.source, routes.target, routes.weight)
    }
    kept = {(r["fact_id"], r["layer"], r["kind"], r["source"], r["target"]): r["weight"] for r in stored.iter_rows(named=True)}
    assert kept.keys() == fresh.keys() and len(kept) > 160
    assert max(abs(kept[k] - fresh[k]) for k in kept) < 1e-4  # another batching: float32 rounding only
    assert (stored["root"] == stored["fact_id"].replace_strict(dict(zip(fact_ids, roots.tolist())))).all()


def _reaching(edges: list[tuple], root: tuple, cut: float) -> set[tuple]:
    """Literal: the (from, to, weight) edges above ``cut`` from which ``root`` can be reached, by repeated sweeps."""
    alive = {root}
    kept: set[tuple] = set()
    changed = True
    while changed:
        changed = False
        for edge in edges:
            if edge[2] > cut and edge[1] in alive and edge not in kept:
                kept.add(edge)
                alive.add(edge[0])
                changed = True
    return kept


def test_a_route_graph_from_the_store_is_a_networkx_graph_reaching_the_answer(small_store):
    from trajectory.routes.graph import load_route, route_graph

    analysis_id, tau = _analysis(small_store)
    route = load_route(small_store, None, 3, "main")
    graph = route_graph(route)
    layers = run_sql(small_store, "SELECT max(layer) + 1 AS n FROM roles")["n"][0]
    root = ("I", layers - 1, route.root)
    assert root in graph and all(nx.has_path(graph, node, root) for node in graph)
    attention = route.edges.filter(pl.col("kind") == "attention")
    drawn = [(u, v) for u, v, kind in graph.edges(data="kind") if kind == "attention"]
    assert len(drawn) == attention.height and graph.nodes[("X", 0)]["token"] == route.tokens[0]
    # A raised threshold: the literal sweep over the stored edges keeps what the graph keeps.
    flat = [(u, v, w) for u, v, w in graph.edges(data="weight")]
    for cut in (tau, 0.1, 0.3):
        want = _reaching(flat, root, cut)
        got = route_graph(route, cut)
        assert {(u, v) for u, v in got.edges} == {(u, v) for u, v, _ in want}
    assert route_graph(route, 0.3).number_of_edges() < graph.number_of_edges()


def test_the_routes_command_writes_graphml_and_says_what_is_wrong(small_store, tmp_path, capsys):
    out = tmp_path / "fact3.graphml"
    assert main(["routes", "--db", str(small_store), "--fact", "3", "--revision", "main", "--graphml", str(out)]) == 0
    said = capsys.readouterr().out
    read = nx.read_graphml(out)
    from trajectory.routes.graph import load_route

    stored = load_route(small_store, None, 3, "main").edges.height  # the store's rows, as the routes page counts them
    assert f", {stored} edges (" in said and f"the GraphML has {read.number_of_edges()}" in said and read.number_of_edges() > stored
    assert all(data["kind"] in ("attention", "ffn", "ffn_residual") for _, _, data in read.edges(data=True))
    assert main(["routes", "--db", str(small_store), "--fact", "3", "--revision", "nope"]) == 2
    assert "unknown revision 'nope'" in capsys.readouterr().err
    assert main(["routes", "--db", str(small_store), "--fact", "99999", "--revision", "main"]) == 2
    assert "fact 99999 is not in the probe set" in capsys.readouterr().err


def test_serve_answers_any_revisions_edges_and_a_page_embeds_what_fits(small_store):
    from trajectory.dashboard.routes_page import embedded_ordinals, encode_edges, encode_lens, routes_data
    from trajectory.dashboard.serve import route_answer
    from trajectory.store.db import reader

    analysis_id, _ = _analysis(small_store)
    status, body = route_answer(small_store, f"/api/routes/{analysis_id}/3/1")
    revision = run_sql(small_store, f"SELECT revision FROM revisions WHERE ordinal = 1 AND analysis_id = '{analysis_id}'")["revision"][0]
    stored = run_sql(
        small_store,
        f"SELECT * FROM routes WHERE analysis_id = '{analysis_id}' AND fact_id = 3 AND revision = '{revision}' ORDER BY layer, kind, target, source",
    )
    lens = run_sql(
        small_store,
        f"SELECT * FROM node_lens WHERE analysis_id = '{analysis_id}' AND fact_id = 3 AND revision = '{revision}' ORDER BY node, layer, position",
    )
    assert status == 200 and body == encode_edges(stored) | {"lens": encode_lens(lens)} and lens.height  # served with its node lens
    assert route_answer(small_store, f"/api/routes/{analysis_id}/3/99")[0] == 404
    assert route_answer(small_store, "/api/routes/x")[0] == 404
    assert embedded_ordinals([10] * 5, limit=100) == [0, 1, 2, 3, 4]
    picked = embedded_ordinals([10] * 41, limit=100)
    assert picked[0] == 0 and picked[-1] == 40 and sum(10 for _ in picked) <= 100 and len(picked) == 10
    assert embedded_ordinals([300] * 41, limit=500) == [40]  # not even two revisions fit: the final one
    with reader(small_store) as con:  # a page with room for one revision's node lens embeds the last one's
        data = routes_data(con, analysis_id, lens_limit=run_sql(small_store, "SELECT count(*) FROM node_lens WHERE revision = 'main'").item())
    last = len(data["revisions"]) - 1
    assert data["lens_embedded"] == [last] and data["embedded"] == list(range(last + 1))
    assert {key.split("|")[1] for key, edges in data["edges"].items() if "lens" in edges} == {"main"}
