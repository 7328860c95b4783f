"""Turn one revision's tensors into the store's tables (polars frames, vectorised, no row loops)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import torch

from trajectory.ifr.routes import RouteEdges
from trajectory.ifr.trace import IFRResult
from trajectory.lens.answer import AnswerLens
from trajectory.prompts import EncodedProbes, first_answer_ranks
from trajectory.roles.scores import ROLES, RoleScores, assign_roles, role_scores

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

KINDS = ("head", "ffn")


def component_index(kind: str, n_layers: int, n_heads: int) -> tuple[np.ndarray, np.ndarray | None]:
    """layer and head per flattened component (head None for FFNs)."""
    if kind == "head":
        flat = np.arange(n_layers * n_heads)
        return flat // n_heads, flat % n_heads
    return np.arange(n_layers), None


def revision_frames(
    analysis_id: str, model: str, revision: str, encoded: EncodedProbes, result: IFRResult, theta: float, with_circuits: bool
) -> tuple[dict[str, pl.DataFrame], dict[str, float]]:
    """accuracy, component_scores, roles (and circuits) of one revision in one analysis; plus a summary for the log."""
    relations = sorted({f.relation for f in encoded.facts})
    relation_of = torch.tensor([relations.index(f.relation) for f in encoded.facts])
    fact_ids = np.array([f.fact_id for f in encoded.facts])
    valid = encoded.attention_mask.bool()
    subject, predicting = encoded.masks()
    batch, length, n_layers, n_heads = result.heads.shape
    activity = {"head": result.heads.reshape(batch, length, n_layers * n_heads), "ffn": result.ffns}

    score_frames, role_frames, summary = [], [], {}
    for kind in KINDS:
        layers, heads = component_index(kind, n_layers, n_heads)
        scores = role_scores(activity[kind], valid, subject, predicting, relation_of, len(relations))
        roles = assign_roles(scores, relation_of, len(relations), theta)
        score_frames.append(_score_frame(kind, layers, heads, scores, relations, fact_ids, [f.relation for f in encoded.facts]))
        role_frames.append(_role_frame(kind, layers, heads, roles, relations))
        summary[f"active_{kind}s"] = int((roles != ROLES.index("deactivated")).any(0).sum())

    ranks = first_answer_ranks(result.next_token_rank, encoded).numpy()
    accuracy = pl.DataFrame(
        {
            "fact_id": fact_ids.astype(np.int32),
            "answer_rank": ranks.astype(np.int32),
            "top1": ranks == 0,
            "top10": ranks < 10,
        }
    )
    summary["top1"] = float((ranks == 0).mean())
    frames = {
        "accuracy": accuracy,
        "component_scores": pl.concat(score_frames, how="vertical_relaxed"),
        "roles": pl.concat(role_frames, how="vertical_relaxed"),
    }
    if with_circuits:
        frames["circuits"] = _circuit_frame(result, fact_ids)
    if result.routes is not None:
        roots = np.array([a[0] - 1 for a in encoded.answer_positions])
        frames["routes"] = route_frame(result.routes, fact_ids, roots)
    keys = (pl.lit(analysis_id).alias("analysis_id"), pl.lit(model).alias("model"), pl.lit(revision).alias("revision"))
    keyed = {name: frame.with_columns(*keys) for name, frame in frames.items()}
    return keyed, summary


def _score_frame(
    kind: str, layers: list[int], heads: list[int | None], scores: RoleScores, relations: list[str], fact_ids: list[int], fact_relations: list[str]
) -> pl.DataFrame:
    n = len(layers)
    blocks = []

    def block(scope: str, values: np.ndarray, relation: str | None, fact_id: int | None) -> None:
        rows = values.shape[0] if values.ndim == 2 else 1
        blocks.append(
            pl.DataFrame(
                {
                    "kind": [kind] * (rows * n),
                    "layer": np.tile(layers, rows).astype(np.int32),
                    "head": None if heads is None else np.tile(heads, rows).astype(np.int32),
                    "scope": [scope] * (rows * n),
                    "relation": np.repeat(np.array(relation, dtype=object), n) if relation is not None else None,
                    "fact_id": np.repeat(fact_id, n).astype(np.int32) if fact_id is not None else None,
                    "score": values.reshape(-1).astype(np.float64),
                },
                schema_overrides={"head": pl.Int32, "relation": pl.Utf8, "fact_id": pl.Int32},
            )
        )

    block("general", scores.general.numpy(), None, None)
    block("entity", scores.entity.numpy(), None, None)
    block("relation", scores.relation.numpy(), relations, None)
    block("fact", scores.fact.numpy(), fact_relations, fact_ids)
    return pl.concat(blocks, how="vertical_relaxed")


def _role_frame(kind: str, layers: list[int], heads: list[int | None], roles: torch.Tensor, relations: list[str]) -> pl.DataFrame:
    n_rel, n = roles.shape
    return pl.DataFrame(
        {
            "relation": np.repeat(np.array(relations, dtype=object), n),
            "kind": [kind] * (n_rel * n),
            "layer": np.tile(layers, n_rel).astype(np.int32),
            "head": None if heads is None else np.tile(heads, n_rel).astype(np.int32),
            "role": np.array(ROLES, dtype=object)[roles.reshape(-1).numpy()],
        },
        schema_overrides={"head": pl.Int32, "relation": pl.Utf8, "role": pl.Utf8},
    )


def _circuit_frame(result: IFRResult, fact_ids: np.ndarray) -> pl.DataFrame:
    h = result.heads.nonzero().numpy()  # [k, 4]: prompt, root, layer, head
    f = result.ffns.nonzero().numpy()  # [k, 3]: prompt, root, layer
    heads = pl.DataFrame(
        {
            "fact_id": fact_ids[h[:, 0]].astype(np.int32),
            "root": h[:, 1].astype(np.int32),
            "kind": "head",
            "layer": h[:, 2].astype(np.int32),
            "head": h[:, 3].astype(np.int32),
        }
    )
    ffns = pl.DataFrame(
        {"fact_id": fact_ids[f[:, 0]].astype(np.int32), "root": f[:, 1].astype(np.int32), "kind": "ffn", "layer": f[:, 2].astype(np.int32)}
    ).with_columns(pl.lit(None, dtype=pl.Int32).alias("head"))
    return pl.concat([heads, ffns], how="vertical_relaxed")


def route_frame(routes: RouteEdges, fact_ids: np.ndarray, roots: np.ndarray) -> pl.DataFrame:
    """Table ``routes`` (without its keys): one row per edge, the heads of each attention edge as lists."""
    edges = pl.DataFrame(
        {
            "fact_id": fact_ids[routes.prompt.numpy()].astype(np.int32),
            "root": roots[routes.prompt.numpy()].astype(np.int16),
            "layer": routes.layer.numpy().astype(np.int16),
            "kind": np.array(routes.kind_names, dtype=object)[routes.kind.numpy()],
            "source": routes.source.numpy().astype(np.int16),
            "target": routes.target.numpy().astype(np.int16),
            "weight": routes.weight.numpy(),
            "residual": routes.residual.numpy(),
        },
        schema_overrides={"kind": pl.Utf8},
    ).with_row_index("edge")
    parts = (
        pl.DataFrame(
            {
                "edge": routes.part_edge.numpy().astype(np.uint32),
                "head": routes.part_head.numpy().astype(np.int16),
                "part": routes.part_weight.numpy(),
            }
        )
        .group_by("edge")
        .agg(heads=pl.col("head"), head_weights=pl.col("part"))
    )
    return edges.join(parts, on="edge", how="left").sort("edge").drop("edge")


def prompt_frame(probe_set_id: str, model: str, encoded: EncodedProbes, tokens: list[list[str]] | None = None) -> pl.DataFrame:
    """The tokenised probe set of a model: token count, S_x and A_x per located fact, and the tokens as text."""
    return pl.DataFrame(
        {
            "probe_set_id": [probe_set_id] * len(encoded.facts),
            "model": [model] * len(encoded.facts),
            "fact_id": [f.fact_id for f in encoded.facts],
            "n_tokens": encoded.lengths.tolist(),
            "subject_positions": encoded.subject_positions,
            "answer_positions": encoded.answer_positions,
            "tokens": tokens,
        },
        schema_overrides={
            "fact_id": pl.Int32,
            "n_tokens": pl.Int32,
            "subject_positions": pl.List(pl.Int32),
            "answer_positions": pl.List(pl.Int32),
            "tokens": pl.List(pl.Utf8),
        },
    )


def token_texts(tokenizer: PreTrainedTokenizerBase, input_ids: torch.Tensor, lengths: list[int]) -> list[list[str]]:
    """Each prompt's tokens as text, each decoded alone (one batch call), up to its length: input_ids [B, T]."""
    flat = tokenizer.batch_decode(input_ids.reshape(-1, 1))
    width = input_ids.shape[1]
    return [flat[row * width : row * width + int(n)] for row, n in enumerate(lengths)]


def lens_frame(analysis_id: str, model: str, revision: str, encoded: EncodedProbes, lens: AnswerLens) -> pl.DataFrame:
    """Table ``logit_lens``: one row per (fact, layer)."""
    n_facts, n_layers = lens.rank_last.shape
    fact_ids = np.array([f.fact_id for f in encoded.facts], dtype=np.int32)
    return pl.DataFrame(
        {
            "analysis_id": analysis_id,
            "model": model,
            "revision": revision,
            "fact_id": np.repeat(fact_ids, n_layers),
            "layer": np.tile(np.arange(n_layers, dtype=np.int32), n_facts),
            "rank_last": lens.rank_last.reshape(-1).numpy().astype(np.int32),
            "rank_subject": lens.rank_subject.reshape(-1).numpy().astype(np.int32),
        }
    )
