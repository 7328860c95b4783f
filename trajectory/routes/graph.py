"""Route graphs from the stored edges (table ``routes``, trajectory.ifr.routes): nodes named as METHOD.md §3
names them, ("X", t) the embeddings, ("A", l, t) after layer l's attention, ("M", l, t) its FFN and ("I", l, t)
the layer's output; llm-transparency-tool draws the same graph.

    from trajectory.routes.graph import load_route
    graph = load_route("trajectory.duckdb", analysis=None, fact=12, revision="main")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import polars as pl

from trajectory.errors import TrajectoryError
from trajectory.paths import SQL_DIR


@dataclass(frozen=True)
class Route:
    """One fact's stored route graph: edges (sql/routes/fact_route.sql's columns) and its prompt."""

    analysis_id: str
    revision: str
    fact_id: int
    relation: str
    subject: str
    answer: str
    tokens: list[str]
    root: int
    edges: pl.DataFrame
    parallel: bool = False  # GPT-NeoX blocks: no A node


def _input_node(layer: int, position: int) -> tuple:
    return ("X", position) if layer == 0 else ("I", layer - 1, position)


def route_graph(route: Route, threshold: float | None = None) -> nx.DiGraph:
    """The route graph as a DiGraph from the embeddings to ("I", L − 1, root). With ``threshold`` above the
    analysis's τ, edges at or below it are dropped and so is whatever no longer reaches the root (as raising
    llm-transparency-tool's slider does); weights stay as renormalised at τ."""
    edges = route.edges if threshold is None else route.edges.filter(pl.col("weight") > threshold)
    graph = nx.DiGraph(
        analysis_id=route.analysis_id,
        revision=route.revision,
        fact_id=route.fact_id,
        relation=route.relation,
        subject=route.subject,
        answer=route.answer,
        root=route.root,
    )
    for row in edges.iter_rows(named=True):
        layer, source, target = row["layer"], row["source"], row["target"]
        attrs = {"weight": float(row["weight"]), "kind": row["kind"], "layer": layer}
        if row["kind"] in ("attention", "block_attention"):
            heads = row["heads"] or []
            attrs |= {
                "residual": float(row["residual"]),
                "heads": ",".join(map(str, heads)),
                "head_weights": ",".join(f"{w:.4f}" for w in (row["head_weights"] or [])),
            }
            graph.add_edge(_input_node(layer, source), ("I", layer, target) if route.parallel else ("A", layer, target), **attrs)
        elif row["kind"] in ("ffn", "block_ffn"):
            start = _input_node(layer, target) if route.parallel else ("A", layer, target)
            graph.add_edge(start, ("M", layer, target), **attrs)
            graph.add_edge(("M", layer, target), ("I", layer, target), **attrs)
        else:
            graph.add_edge(("A", layer, target), ("I", layer, target), **attrs)
    if graph.number_of_nodes():
        top = max(layer for node in graph if node[0] == "I" for layer in [node[1]])
        root = ("I", top, route.root)
        keep = nx.ancestors(graph, root) | {root} if root in graph else set()
        graph.remove_nodes_from([n for n in list(graph) if n not in keep])
    for node in graph:
        position = node[-1]
        graph.nodes[node].update(
            kind=node[0],
            layer=-1 if node[0] == "X" else node[1],
            position=position,
            token=route.tokens[position] if position < len(route.tokens) else "",
        )
    return graph


def load_route(db: str | Path, analysis: str | None, fact: int, revision: str) -> Route:
    """A fact's stored route graph (``analysis``: a name or id, None for the store's only or latest one)."""
    from trajectory.hub.revisions import unknown_revision_message
    from trajectory.store.analyses import choose
    from trajectory.store.db import reader

    with reader(Path(db)) as con:
        chosen = choose(con, analysis)
        if chosen.height != 1:
            raise TrajectoryError(f"--analysis names one analysis; {chosen.height} chosen ('trajectory analyses' lists them)")
        analysis_id = chosen["analysis_id"][0]
        params = {"analysis": analysis_id, "fact": fact, "revision": revision}
        prompt = con.execute((SQL_DIR / "routes" / "fact_prompt.sql").read_text(), {"analysis": analysis_id, "fact": fact}).fetchall()
        if not prompt:
            raise TrajectoryError(f"fact {fact} is not in the probe set of analysis {chosen['name'][0]}")
        edges = pl.from_arrow(con.sql((SQL_DIR / "routes" / "fact_route.sql").read_text(), params=params).to_arrow_table())
        if edges.is_empty():
            revisions = [r for (r,) in con.execute("SELECT revision FROM revisions WHERE analysis_id = ? ORDER BY ordinal", [analysis_id]).fetchall()]
            if revision not in revisions:
                raise TrajectoryError(f"--revision: {unknown_revision_message(revision, revisions)}")
            raise TrajectoryError(
                f"no route graph of fact {fact} at {revision} in analysis {chosen['name'][0]}: its ingest "
                "stored no routes (set store.routes = true and run trajectory ingest --force)"
            )
    fact_id, relation, _, subject, answer, tokens, n_tokens, _, _ = prompt[0]
    return Route(
        analysis_id,
        revision,
        fact_id,
        relation,
        subject,
        answer,
        list(tokens or [f"t{i}" for i in range(n_tokens or 0)]),
        int(edges["root"][0]),
        edges.drop("root"),
        parallel=bool(edges["kind"].str.starts_with("block_").any()),
    )
