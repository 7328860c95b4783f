"""Roles re-classified for resampled probe sets, from per-fact circuit memberships, without tracing again.

Every role score is a sum over facts of a per-fact quantity (trajectory.roles.scores), so a resample, given
as how many times it draws each fact (weights [B, N]), needs one weighted sum per score: all resamples at
once, as matrix products. N facts, C components (heads then FFNs, as the caller lays them out), R relations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trajectory.role_codes import DEACTIVATED, ENTITY, FACT, GENERAL, RELATION


@dataclass
class FactActivity:
    """Per fact, what its share of each role score is made of.

    general [N, C]: mean over the prompt's positions of M_{x,t}; entity_hits [N, C]: Σ_{t∈S_x} M_{x,t} +
    Σ_{t∈A_x} M_{x,t−1}; entity_count [N]: |S_x| + |A_x|; answer_hits [N, C]: Σ_{t∈A_x} M_{x,t−1};
    answer_count [N]: |A_x|."""

    general: torch.Tensor
    entity_hits: torch.Tensor
    entity_count: torch.Tensor
    answer_hits: torch.Tensor
    answer_count: torch.Tensor


def fact_activity(activity: torch.Tensor, valid: torch.Tensor, subject: torch.Tensor, predicting: torch.Tensor) -> FactActivity:
    """activity [N, T, C] bool (M_{x,t}), valid, subject (S_x), predicting (A_x − 1) [N, T] bool."""
    m = activity.double()
    valid_f, subject_f, predicting_f = valid.double(), subject.double(), predicting.double()
    weight = subject_f + predicting_f
    return FactActivity(
        torch.einsum("ntc,nt->nc", m, valid_f) / valid_f.sum(1, keepdim=True),
        torch.einsum("ntc,nt->nc", m, weight),
        weight.sum(1),
        torch.einsum("ntc,nt->nc", m, predicting_f),
        predicting_f.sum(1),
    )


def resample_weights(draws: np.ndarray, n_facts: int) -> torch.Tensor:
    """[B, N] how many times each resample (rows of fact indices, trajectory.stats.stratified_resamples) draws each fact."""
    rows = np.repeat(np.arange(len(draws)), draws.shape[1])
    weights = np.zeros((len(draws), n_facts))
    np.add.at(weights, (rows, draws.reshape(-1)), 1.0)
    return torch.from_numpy(weights)


def resampled_roles(facts: FactActivity, weights: torch.Tensor, relation_of: torch.Tensor, n_relations: int, theta: float) -> torch.Tensor:
    """Role codes [B, R, C] (indices into ROLES) of each resample: the scores of trajectory.roles.scores over the
    drawn facts (a fact drawn twice counts twice), the roles by the same successive differencing."""
    w = weights.double()
    member = torch.nn.functional.one_hot(relation_of, n_relations).T.double()  # [R, N]
    general = (w @ facts.general) / w.sum(1, keepdim=True) > theta  # [B, C]
    entity = (w @ facts.entity_hits) / (w @ facts.entity_count).unsqueeze(1) > theta
    # Weights per relation [B, R, N] first, then one matrix product: never the [B, R, N, C] a 3-way einsum may build.
    per_relation = w.unsqueeze(1) * member.unsqueeze(0)
    relation_hits = per_relation @ facts.answer_hits  # [B, R, C]
    relation_count = (per_relation @ facts.answer_count).clamp(min=1)  # [B, R]
    relation = relation_hits / relation_count.unsqueeze(2) > theta  # [B, R, C]
    above = (facts.answer_hits / facts.answer_count.unsqueeze(1) > theta).double()  # c^f > θ, [N, C]
    fact_any = ((w > 0).double().unsqueeze(1) * member.unsqueeze(0)) @ above > 0
    roles = torch.full(relation.shape, DEACTIVATED, dtype=torch.int8)
    roles[fact_any] = FACT
    roles[relation] = RELATION
    roles[entity.unsqueeze(1).expand_as(roles)] = ENTITY
    roles[general.unsqueeze(1).expand_as(roles)] = GENERAL
    return roles


def set_iou(roles: torch.Tensor, final: torch.Tensor, role: int, per_relation: bool = False) -> torch.Tensor:
    """IoU of the members (relation, component) holding ``role`` at a revision and at the final revision, per
    resample: roles, final [B, R, C] -> [B] (relations pooled) or [B, R] (``per_relation``); NaN where both sets
    are empty."""
    here, there = roles == role, final == role
    over = (2,) if per_relation else (1, 2)
    union = (here | there).sum(over).double()
    return torch.where(union > 0, (here & there).sum(over).double() / union.clamp(min=1), torch.tensor(float("nan"), dtype=torch.double))
