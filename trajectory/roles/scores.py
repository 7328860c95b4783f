"""Role scores and roles of components (METHOD.md §4): activity maps in, scores and role codes out.

A "component" is a head (l, h) or an FFN l; heads and FFNs go through the same functions with their
activity maps flattened to C components. N prompts, T positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajectory.role_codes import DEACTIVATED, ENTITY, FACT, GENERAL, RELATION, ROLES

__all__ = ["DEACTIVATED", "ENTITY", "FACT", "GENERAL", "RELATION", "ROLES", "RoleScores", "assign_roles", "role_scores"]


@dataclass
class RoleScores:
    """general [C], entity [C], relation [R, C], fact [N, C] in [0, 1]."""

    general: torch.Tensor
    entity: torch.Tensor
    relation: torch.Tensor
    fact: torch.Tensor


def role_scores(
    activity: torch.Tensor,
    valid: torch.Tensor,
    subject: torch.Tensor,
    predicting: torch.Tensor,
    relation_of: torch.Tensor,
    n_relations: int,
) -> RoleScores:
    """Scores from activity maps.

    activity [N, T, C] bool: component c active in prompt x's circuit rooted at t (M_{x,t}).
    valid [N, T] bool; subject [N, T] bool (S_x); predicting [N, T] bool (A_x − 1, the positions that
    predict answer subtokens); relation_of [N] int64 in [0, R).

    general  c^g = (1/N) Σ_x mean_{t valid} M_{x,t}
    entity   c^e = Σ_x [Σ_{t∈S_x} M_{x,t} + Σ_{t∈A_x} M_{x,t−1}] / Σ_x (|S_x| + |A_x|)
    relation c^r = Σ_{x∈r} Σ_{t∈A_x} M_{x,t−1} / Σ_{x∈r} |A_x|
    fact     c^f = (1/|A_x|) Σ_{t∈A_x} M_{x,t−1}
    """
    m = activity.float()
    valid_f, subject_f, predicting_f = valid.float(), subject.float(), predicting.float()
    per_prompt_mean = torch.einsum("ntc,nt->nc", m, valid_f) / valid_f.sum(1, keepdim=True)
    general = per_prompt_mean.mean(0)
    entity_weight = subject_f + predicting_f  # a position both in S_x and A_x − 1 counts for both
    entity = torch.einsum("ntc,nt->c", m, entity_weight) / entity_weight.sum()
    answer_hits = torch.einsum("ntc,nt->nc", m, predicting_f)  # Σ_{t∈A_x} M_{x,t−1}, [N, C]
    answer_count = predicting_f.sum(1)  # |A_x|
    fact = answer_hits / answer_count.unsqueeze(1)
    membership = torch.nn.functional.one_hot(relation_of, n_relations).float()  # [N, R]
    relation = (membership.T @ answer_hits) / (membership.T @ answer_count).clamp(min=1).unsqueeze(1)
    return RoleScores(general, entity, relation, fact)


def assign_roles(scores: RoleScores, relation_of: torch.Tensor, n_relations: int, theta: float) -> torch.Tensor:
    """Role code per relation and component, [R, C] int64 (indices into ROLES).

    By successive differencing: general if c^g > θ; else entity if c^e > θ; else relation if
    c^r > θ for that relation; else fact if c^f > θ for any fact of that relation; else deactivated.
    """
    general = scores.general > theta  # [C]
    entity = scores.entity > theta
    relation = scores.relation > theta  # [R, C]
    membership = torch.nn.functional.one_hot(relation_of, n_relations).T.float()  # [R, N]
    fact_any = (membership @ (scores.fact > theta).float()) > 0  # [R, C]
    roles = torch.full(relation.shape, DEACTIVATED, dtype=torch.long)
    roles[fact_any] = FACT
    roles[relation] = RELATION
    roles[:, entity] = ENTITY
    roles[:, general] = GENERAL
    return roles
