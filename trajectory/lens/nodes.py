"""What each node of a fact's route graph says under the logit lens (a click on a node or edge of the routes
page shows it, as llm-transparency-tool does): pure tensors in, tensors out, plus the route graph's nodes.

Nodes, named as the routes page names them (trajectory/dashboard/assets/routes.js): ``X`` the embedding at a
position (layer −1: the residual stream entering layer 0), ``A`` the residual stream after layer l's attention
(sequential blocks only), ``I`` after layer l; and what a block writes at a position: ``attn`` layer l's
attention output, ``ffn`` its FFN output (the edges' components). Each is read through the model's final norm
and unembedding, as the logit lens reads the residual stream; the top ``k`` tokens with their probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import torch

from trajectory.models.capture import LayerParts

NODE_KINDS = ("X", "A", "I", "attn", "ffn")
READ_ROWS = 256  # hidden states read through the unembedding at a time: [READ_ROWS, V] logits, whatever the model


def top_tokens(hidden: torch.Tensor, readout: Callable[[torch.Tensor], torch.Tensor], k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """hidden [N, d] -> (token ids [N, k] int64, probabilities [N, k] float32) of the readout's softmax, best first."""
    ids, probs = [], []
    for start in range(0, hidden.shape[0], READ_ROWS):
        p = torch.softmax(readout(hidden[start : start + READ_ROWS]).float(), dim=-1)
        top = p.topk(k, dim=-1)
        ids.append(top.indices)
        probs.append(top.values)
    return torch.cat(ids), torch.cat(probs)


@dataclass
class NodeLens:
    """Top tokens of every node kind at every layer and position of every prompt: ids [B, 5, L, T, k] (−1 where not
    read: padding, X beyond layer 0, A of parallel blocks) and probs [B, 5, L, T, k], kinds in :data:`NODE_KINDS`
    order (X stored at layer index 0)."""

    ids: torch.Tensor
    probs: torch.Tensor

    @classmethod
    def of(cls, n_prompts: int, n_layers: int, length: int, k: int = 5) -> NodeLens:
        shape = (n_prompts, len(NODE_KINDS), n_layers, length, k)
        return cls(torch.full(shape, -1, dtype=torch.int32), torch.zeros(shape, dtype=torch.float32))

    def observe(self, rows: torch.Tensor, layer: int, parts: LayerParts, readout: Callable[[torch.Tensor], torch.Tensor], parallel: bool) -> None:
        """One chunk's layer: rows [b] (the chunk's prompt indices), its parts [b, T', d] from the IFR pass."""
        states = {"I": parts.output, "attn": parts.attn_branch, "ffn": parts.ffn_branch}
        if layer == 0:
            states["X"] = parts.residual
        if not parallel:
            states["A"] = parts.residual + parts.attn_branch
        k = self.ids.shape[-1]
        for name, hidden in states.items():
            b, t, d = hidden.shape
            ids, probs = top_tokens(hidden.reshape(-1, d), readout, k)
            self.ids[rows, NODE_KINDS.index(name), layer, :t] = ids.view(b, t, k).to("cpu", torch.int32)
            self.probs[rows, NODE_KINDS.index(name), layer, :t] = probs.view(b, t, k).cpu()


def route_nodes(routes: pl.DataFrame) -> pl.DataFrame:
    """The nodes and block outputs that a route graph's edges touch: routes (fact_id, layer, kind, source, target)
    -> unique (fact_id, node, layer, position), as routes.js's ``edgeEnds`` places each edge (X at layer −1)."""
    layer, kind, source, target = pl.col("layer"), pl.col("kind"), pl.col("source"), pl.col("target")
    below = pl.when(layer == 0).then(pl.lit("X")).otherwise(pl.lit("I"))
    below_layer = pl.when(layer == 0).then(pl.lit(-1)).otherwise(layer - 1)
    attention = kind.is_in(["attention", "block_attention"])
    ffn = kind.is_in(["ffn", "ffn_residual"])
    ends = [
        # where the edge starts: the residual below the block (attention: at the source; an FFN's edge: after attention)
        (
            pl.when(ffn).then(pl.lit("A")).otherwise(below),
            pl.when(ffn).then(layer).otherwise(below_layer),
            pl.when(attention).then(source).otherwise(target),
        ),
        # where it ends: after attention (a sequential attention edge), else after the layer
        (pl.when(kind == "attention").then(pl.lit("A")).otherwise(pl.lit("I")), layer, target),
        # the block the edge crosses, at its target (the FFN's residual edge crosses no block)
        (pl.when(attention).then(pl.lit("attn")).when(kind == "ffn_residual").then(pl.lit(None)).otherwise(pl.lit("ffn")), layer, target),
    ]
    parts = [
        routes.select("fact_id", node.alias("node"), where.cast(pl.Int16).alias("layer"), position.cast(pl.Int16).alias("position"))
        for node, where, position in ends
    ]
    return pl.concat(parts).drop_nulls("node").unique().sort("fact_id", "node", "layer", "position")


def node_lens_frame(nodes: pl.DataFrame, lens: NodeLens, prompt_of: dict[int, int], decode: Callable[[list[int]], list[str]]) -> pl.DataFrame:
    """Table ``node_lens`` (without its keys): each node's top tokens (as text) and probabilities, best first.
    ``prompt_of``: fact id -> its row in the lens; ``decode``: token ids -> their texts, one each."""

    def index(column: str, mapping: dict | None = None) -> torch.Tensor:
        """The column as int64 indices (through ``mapping`` where given)."""
        values = nodes[column] if mapping is None else nodes[column].replace_strict(mapping, return_dtype=pl.Int64)
        return torch.from_numpy(values.cast(pl.Int64).to_numpy(writable=True))

    prompt, kind = index("fact_id", prompt_of), index("node", {name: i for i, name in enumerate(NODE_KINDS)})
    layer, position = index("layer").clamp(min=0), index("position")  # X lives at index 0
    ids, probs = lens.ids[prompt, kind, layer, position], lens.probs[prompt, kind, layer, position]  # [N, k]
    k = lens.ids.shape[-1]
    flat = pl.DataFrame(
        {
            "row": torch.arange(len(nodes)).repeat_interleave(k).numpy().astype("uint32"),
            "id": ids.reshape(-1).numpy(),
            "prob": probs.reshape(-1).numpy(),
        }
    ).filter(pl.col("id") >= 0)
    unique = flat["id"].unique().sort().to_list()
    flat = flat.with_columns(token=pl.col("id").replace_strict(unique, decode(unique), return_dtype=pl.String))
    listed = flat.group_by("row", maintain_order=True).agg(tokens=pl.col("token"), probs=pl.col("prob"))
    return nodes.with_row_index("row").join(listed, on="row", how="left").drop("row")
