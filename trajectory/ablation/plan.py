"""One revision's ablation plan, pure: which configurations run and on which prompts (issues #16, #36).

- Per fact f (its own prompt only): ``clean`` (nothing ablated), ``circuit_only`` (every head and FFN
  outside the union of f's circuits ablated), ``complement`` (the circuit ablated), ``none`` (everything).
- Per role set: ``role`` ablates the components holding role r for relation q (general and entity sets do not
  depend on q: one set each, relation None), ``random`` the same numbers of heads and FFNs drawn from those
  not in the set (a fixed seed). Empty sets are skipped. The role sets are defined on one half of each
  relation's facts (:func:`split_halves`) and measured on the other, held-out half only, so that no fact tests
  a set it helped define: on every held-out fact of the set's relation (all held-out facts for general and
  entity), where the role-causality test reads them, and on a sample of held-out facts of every relation (the
  role × relation matrix). ``draws`` controls run on both; controls ``draws`` … ``test_draws`` − 1 only on the
  set's own held-out facts (the test's draws, at the revisions it runs on).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trajectory.ablation.masks import FACT_TARGETS, fact_ablations, random_like
from trajectory.masks import Ablation
from trajectory.role_codes import ROLES

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


def role_sets(
    head_roles: torch.Tensor, ffn_roles: torch.Tensor, relations: list[str]
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


def revision_plan(
    circuit_heads: torch.Tensor,
    circuit_ffns: torch.Tensor,
    head_roles: torch.Tensor,
    ffn_roles: torch.Tensor,
    relations: list[str],
    relation_of: torch.Tensor,
    held_out: torch.Tensor,
    role_prompts: torch.Tensor,
    draws: int,
    test_draws: int,
    generator: torch.Generator,
) -> AblationPlan:
    """circuit_heads [F, L, H], circuit_ffns [F, L]: fact f's circuit (prompt f); head_roles [Q, L, H] and
    ffn_roles [Q, L]: role codes per relation (defined on the other half); relation_of [F] in [0, Q);
    held_out [F] bool: the facts the sets are measured on; role_prompts [P] (held out): the matrix's sample.
    ``draws`` controls per set on every prompt the set is measured on, up to ``test_draws`` on its own held-out
    facts."""
    n_facts = circuit_heads.shape[0]
    facts = fact_ablations(circuit_heads, circuit_ffns)  # row f·4 + k
    labels, set_heads, set_ffns = role_sets(head_roles, ffn_roles, relations)
    n_controls = max(draws, test_draws)
    controls = random_like(set_heads, set_ffns, n_controls, generator)  # row s·n_controls + d
    ablation = Ablation(torch.cat([facts.heads, set_heads, controls.heads]), torch.cat([facts.ffns, set_ffns, controls.ffns]))

    target = [FACT_TARGETS[k] for _ in range(n_facts) for k in range(len(FACT_TARGETS))]
    role: list[str | None] = [None] * len(target)
    relation: list[str | None] = [None] * len(target)
    draw: list[int | None] = [None] * len(target)
    target += ["role"] * len(labels) + ["random"] * (len(labels) * n_controls)
    role += [r for r, _ in labels] + [r for r, _ in labels for _ in range(n_controls)]
    relation += [q for _, q in labels] + [q for _, q in labels for _ in range(n_controls)]
    draw += [None] * len(labels) + [d for _ in labels for d in range(n_controls)]

    fact_rows = torch.arange(len(facts))
    configs, prompts = [fact_rows], [fact_rows // len(FACT_TARGETS)]
    in_sample = torch.zeros(n_facts, dtype=torch.bool)
    in_sample[role_prompts] = True
    for s, (_, q) in enumerate(labels):  # a loop over role sets (at most 2 + 2Q), each a few tensor ops
        own = held_out if q is None else held_out & (relation_of == relations.index(q))
        measured = (own | in_sample).nonzero()[:, 0]  # the set and its first ``draws`` controls
        tested = own.nonzero()[:, 0]  # the test's further controls
        first = torch.tensor([len(facts) + s] + [len(facts) + len(labels) + s * n_controls + d for d in range(draws)])
        further = len(facts) + len(labels) + s * n_controls + torch.arange(draws, n_controls)
        configs += [first.repeat_interleave(len(measured)), further.repeat_interleave(len(tested))]
        prompts += [measured.repeat(len(first)), tested.repeat(len(further))]
    return AblationPlan(ablation, target, role, relation, draw, torch.cat(configs), torch.cat(prompts))


def split_halves(relation_of: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """defining [N] bool: per relation, ⌈n/2⌉ of its n facts drawn at random define the role sets; the others
    (⌊n/2⌋: none for a relation of one fact) are held out to measure them. relation_of [N] -> [N]."""
    keys = torch.rand(len(relation_of), generator=generator)
    defining = torch.zeros(len(relation_of), dtype=torch.bool)
    for q in relation_of.unique():  # a loop over relations, not facts
        members = (relation_of == q).nonzero()[:, 0]
        defining[members[keys[members].argsort()[: (len(members) + 1) // 2]]] = True
    return defining


def sample_per_relation(relation_of: torch.Tensor, per_relation: int, generator: torch.Generator, among: torch.Tensor | None = None) -> torch.Tensor:
    """Prompt indices: ``per_relation`` prompts of each relation drawn without replacement (all of a
    relation's when it has fewer; all prompts when ``per_relation`` is 0), in increasing order; only prompts
    where ``among`` [B] bool is true, when given. relation_of [B] -> [P]."""
    among = torch.ones(len(relation_of), dtype=torch.bool) if among is None else among
    if per_relation <= 0:
        return among.nonzero()[:, 0]
    keys = torch.rand(len(relation_of), generator=generator)
    chosen = []
    for q in relation_of.unique():  # a loop over relations (ten), not prompts
        members = ((relation_of == q) & among).nonzero()[:, 0]
        chosen.append(members[keys[members].argsort()[:per_relation]])
    return torch.cat(chosen).sort().values
