"""One revision's ablation plan, pure: which configurations run and on which prompts (issue #16).

- Per fact f (its own prompt only): ``clean`` (nothing ablated), ``circuit_only`` (every head and FFN
  outside the union of f's circuits ablated), ``complement`` (the circuit ablated), ``none`` (everything).
- Per role set, on the role prompts (every fact, or a fixed sample per relation): ``role`` ablates the
  components holding role r for relation q (general and entity sets do not depend on q: one set each,
  relation None), ``random`` the same numbers of heads and FFNs drawn from those not in the set (``draws``
  draws, a fixed seed). Empty sets are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajectory.ablation.masks import FACT_TARGETS, Ablation, fact_ablations, random_like
from trajectory.roles.scores import ROLES

ROLE_SETS = ("general", "entity", "relation", "fact")  # the roles ablated as sets (not "deactivated")
_RELATION_FREE = ("general", "entity")  # the same components for every relation (trajectory.roles.scores)


@dataclass
class AblationPlan:
    """C configurations and K measured rows (configuration, prompt), with each configuration's labels."""

    ablation: Ablation  # [C]
    target: list[str]  # clean | circuit_only | complement | none | role | random
    role: list[str | None]
    relation: list[str | None]  # the relation whose role set is ablated (None: fact targets, general, entity)
    draw: list[int | None]  # the control's draw
    config_of_row: torch.Tensor  # [K]
    prompt_of_row: torch.Tensor  # [K]


def role_sets(head_roles: torch.Tensor, ffn_roles: torch.Tensor, relations: list[str]
              ) -> tuple[list[tuple[str, str | None]], torch.Tensor, torch.Tensor]:
    """The non-empty role sets: labels (role, relation), heads [S, L, H] and FFNs [S, L] bool.

    head_roles [Q, L, H], ffn_roles [Q, L]: role codes (indices into ROLES) per relation."""
    labels, heads, ffns = [], [], []
    for role in ROLE_SETS:
        code = ROLES.index(role)
        for q, relation in enumerate(relations):
            if role in _RELATION_FREE and q > 0:
                break
            h, f = head_roles[q] == code, ffn_roles[q] == code
            if h.any() or f.any():
                labels.append((role, None if role in _RELATION_FREE else relation))
                heads.append(h)
                ffns.append(f)
    if not labels:
        return [], head_roles.new_zeros((0, *head_roles.shape[1:]), dtype=torch.bool), ffn_roles.new_zeros((0, ffn_roles.shape[1]), dtype=torch.bool)
    return labels, torch.stack(heads), torch.stack(ffns)


def revision_plan(circuit_heads: torch.Tensor, circuit_ffns: torch.Tensor, head_roles: torch.Tensor, ffn_roles: torch.Tensor,
                  relations: list[str], role_prompts: torch.Tensor, draws: int, generator: torch.Generator) -> AblationPlan:
    """circuit_heads [F, L, H], circuit_ffns [F, L]: fact f's circuit (prompt f); head_roles [Q, L, H] and
    ffn_roles [Q, L]: role codes per relation; role_prompts [P]: the prompts the role sets are measured on."""
    n_facts = circuit_heads.shape[0]
    facts = fact_ablations(circuit_heads, circuit_ffns)  # row f·4 + k
    labels, set_heads, set_ffns = role_sets(head_roles, ffn_roles, relations)
    controls = random_like(set_heads, set_ffns, draws, generator)  # row s·draws + d
    ablation = Ablation(torch.cat([facts.heads, set_heads, controls.heads]), torch.cat([facts.ffns, set_ffns, controls.ffns]))

    target = [FACT_TARGETS[k] for _ in range(n_facts) for k in range(len(FACT_TARGETS))]
    role: list[str | None] = [None] * len(target)
    relation: list[str | None] = [None] * len(target)
    draw: list[int | None] = [None] * len(target)
    target += ["role"] * len(labels) + ["random"] * (len(labels) * draws)
    role += [r for r, _ in labels] + [r for r, _ in labels for _ in range(draws)]
    relation += [q for _, q in labels] + [q for _, q in labels for _ in range(draws)]
    draw += [None] * len(labels) + [d for _ in labels for d in range(draws)]

    fact_rows = torch.arange(len(facts))
    set_configs = torch.arange(len(facts), len(ablation))
    config_of_row = torch.cat([fact_rows, set_configs.repeat_interleave(len(role_prompts))])
    prompt_of_row = torch.cat([fact_rows // len(FACT_TARGETS), role_prompts.repeat(len(set_configs))])
    return AblationPlan(ablation, target, role, relation, draw, config_of_row, prompt_of_row)


def sample_per_relation(relation_of: torch.Tensor, per_relation: int, generator: torch.Generator) -> torch.Tensor:
    """Prompt indices: ``per_relation`` prompts of each relation drawn without replacement (all of a
    relation's when it has fewer; all prompts when ``per_relation`` is 0), in increasing order.
    relation_of [B] -> [P]."""
    if per_relation <= 0:
        return torch.arange(len(relation_of))
    keys = torch.rand(len(relation_of), generator=generator)
    chosen = []
    for q in relation_of.unique():  # a loop over relations (ten), not prompts
        members = (relation_of == q).nonzero()[:, 0]
        chosen.append(members[keys[members].argsort()[:per_relation]])
    return torch.cat(chosen).sort().values
