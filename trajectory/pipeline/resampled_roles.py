"""Roles of every revision of one analysis under resampled probe sets, re-classified from the stored per-fact
circuits (trajectory.stats.roles): the same resamples at every revision, so that a role set at revision k
and at the final revision are compared under one draw of facts. Needs the circuits table (store.circuits)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from trajectory.stats import stratified_resamples
from trajectory.stats.roles import fact_activity, resample_weights, resampled_roles


@dataclass
class ResampledRoles:
    """roles [K, B + 1, R, C] int8 over the analysis's K revisions; row 0 of the second axis is the probe set
    as stored (every fact once), rows 1.. the B resamples. kinds, layers, heads [C]: each component's kind
    ('head' or 'ffn'), layer and head (-1 for an FFN); heads come first, layer-major, then the FFNs. fact_ids,
    relation_of [N]: the facts in the order of weights [B + 1, N], how many times each row draws each fact (so
    that another classification, e.g. of causal circuits, can use the same draws)."""

    ordinals: list[int]
    relations: list[str]
    kinds: np.ndarray
    layers: np.ndarray
    heads: np.ndarray
    roles: torch.Tensor
    fact_ids: np.ndarray
    relation_of: torch.Tensor
    weights: torch.Tensor


def resample_roles(
    members: pl.DataFrame, facts: pl.DataFrame, theta: float, resamples: int, seed: int = 0, weights: dict[int, torch.Tensor] | None = None
) -> ResampledRoles | None:
    """From the stored circuits' members (sql/findings/circuit_members.sql) and the facts' positions
    (fact_positions.sql) of one analysis; None when it stored no circuits (or no prompts to place them).

    ``weights``: instead of the bootstrap, classify under these weightings of the facts: fact_id -> [W] weights;
    rows of ``roles`` are then the W weightings (e.g. one per template: its facts alone)."""
    facts = facts.drop_nulls("n_tokens")  # a fact without its stored prompt cannot be placed (its positions unknown)
    members = members.filter(pl.col("fact_id").is_in(facts["fact_id"].implode()))
    if members.is_empty():
        return None
    n_layers = int(members["layer"].max()) + 1
    n_heads = int(members["head"].max()) + 1
    n_facts, length = facts.height, int(facts["n_tokens"].max())
    relations = sorted(set(facts["relation"].to_list()))
    relation_of = torch.tensor([relations.index(r) for r in facts["relation"].to_list()])
    positions = torch.arange(length)
    valid = positions[None, :] < torch.tensor(facts["n_tokens"].to_list())[:, None]
    subject = torch.zeros(n_facts, length, dtype=torch.bool)
    predicting = torch.zeros(n_facts, length, dtype=torch.bool)
    for row, (s_pos, a_pos) in enumerate(zip(facts["subject_positions"].to_list(), facts["answer_positions"].to_list())):
        subject[row, s_pos] = True
        predicting[row, [a - 1 for a in a_pos]] = True
    if weights is None:
        draws = stratified_resamples(facts["relation"].to_numpy(), resamples, seed)
        weights = torch.cat([torch.ones(1, n_facts, dtype=torch.double), resample_weights(draws, n_facts)])
    else:
        weights = torch.stack([weights[f] for f in facts["fact_id"].to_list()], dim=1).double()  # [W, N]
    # Components: heads (layer-major), then FFNs.
    layer, head = members["layer"].to_numpy().astype(np.int64), members["head"].to_numpy().astype(np.int64)
    component = np.where(members["is_head"].to_numpy(), layer * n_heads + head, n_layers * n_heads + layer)
    fact_ids = facts["fact_id"].to_numpy()
    by_id = np.argsort(fact_ids)
    fact_rows = by_id[np.searchsorted(fact_ids[by_id], members["fact_id"].to_numpy())]  # each member's row among the facts
    ordinal_of_row = members["ordinal"].to_numpy()
    ordinals = sorted(set(ordinal_of_row.tolist()))
    roles = []
    for ordinal in ordinals:  # one revision at a time: a dense activity map, then all resamples at once
        here = ordinal_of_row == ordinal
        activity = torch.zeros(n_facts, length, n_layers * n_heads + n_layers, dtype=torch.bool)
        activity[fact_rows[here], members["root"].to_numpy()[here].astype(np.int64), component[here]] = True
        roles.append(resampled_roles(fact_activity(activity, valid, subject, predicting), weights, relation_of, len(relations), theta))
    kinds = np.array(["head"] * (n_layers * n_heads) + ["ffn"] * n_layers)
    layers = np.concatenate([np.repeat(np.arange(n_layers), n_heads), np.arange(n_layers)])
    heads = np.concatenate([np.tile(np.arange(n_heads), n_layers), np.full(n_layers, -1)])
    return ResampledRoles(ordinals, relations, kinds, layers, heads, torch.stack(roles), fact_ids, relation_of, weights)
