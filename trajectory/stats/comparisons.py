"""Comparisons that make a finding: learning order between two groups of facts, a set against random
controls, and many tests at once."""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from trajectory.stats.resampling import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    Estimate,
    percentile_interval,
    stratified_resamples,
)


def learning_steps(top1: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Each fact's learning step: the first revision's step from which its answer is top-1 at that revision
    and every later one; ``inf`` for a fact never learned (right-censored: later than the last revision); NaN for
    a fact first stable at a revision whose step is unknown (NaN in ``steps``: learned, at a step after every known
    one, never guessed).

    top1 [F, R] bool over revisions in training order; steps [R] float. Returns [F] float."""
    top1 = np.asarray(top1, dtype=bool)
    stays = np.logical_and.accumulate(top1[:, ::-1], axis=1)[:, ::-1]  # right from here to the end
    first = np.where(stays.any(axis=1), stays.argmax(axis=1), -1)
    return np.where(first >= 0, np.asarray(steps, dtype=float)[np.maximum(first, 0)], np.inf)


@dataclass(frozen=True)
class EmergenceOrder:
    """Learning steps of group a against group b: the difference of their median learning steps (facts pooled;
    NaN where a median fact is never learned) with its interval, a test statistic and its p, and what was counted:
    n_a, n_b the units the test permutes (relations, or facts), facts_a, facts_b the facts."""

    n_a: int
    n_b: int
    facts_a: int
    facts_b: int
    difference: Estimate
    statistic: float
    p: float


# The most label assignments the relation-type test lists (C(20, 10) = 184,756 would not be; 7 against 3 is 120).
EXACT_ASSIGNMENTS = 100_000


def _ranked(steps: np.ndarray) -> np.ndarray:
    """Learning steps ranked: a fact learned at an unknown step (NaN) half a step past the last known one, a
    never-learned fact (inf) one past it (last, tied)."""
    finite = steps[np.isfinite(steps)]
    last = finite.max() if len(finite) else 0.0
    return np.where(np.isnan(steps), last + 0.5, np.where(np.isinf(steps), last + 1, steps))


def _as_medians_see_them(steps: np.ndarray) -> np.ndarray:
    """An unknown step (NaN) as inf for a median: a median that falls on one is as undefined as a never-learned one."""
    return np.where(np.isnan(steps), np.inf, steps)


def _median_difference(a: np.ndarray, b: np.ndarray) -> float:
    with np.errstate(invalid="ignore"):
        ma, mb = np.median(_as_medians_see_them(a)), np.median(_as_medians_see_them(b))
    return float(ma - mb) if np.isfinite(ma) and np.isfinite(mb) else float("nan")


def pooled_medians(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The median of each row's pooled sample, value i repeated weights[b, i] times (whole counts), as np.median
    of that sample computes it (the mean of its two middle elements): values [N], weights [B, N] -> [B]."""
    order = np.argsort(values, kind="stable")
    ordered, cumulative = values[order], np.cumsum(weights[:, order], axis=1)  # [N], [B, N]
    total = cumulative[:, -1]
    lower = (cumulative > ((total - 1) // 2)[:, None]).argmax(1)  # the element at position (n − 1) // 2
    upper = (cumulative > (total // 2)[:, None]).argmax(1)
    return np.where(total > 0, (ordered[lower] + ordered[upper]) / 2, np.nan)


def relation_type_order(
    steps: np.ndarray, relations: np.ndarray, in_a: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = DEFAULT_LEVEL
) -> EmergenceOrder:
    """Two groups of relations (e.g. location against name) compared with the relation as the unit (METHOD.md §8:
    facts of one relation are not independent evidence about its type). Exact while the assignments number at most
    EXACT_ASSIGNMENTS; beyond, ``resamples`` random assignments and p = (1 + #{as extreme}) / (1 + B).

    steps [N] learning steps (inf: never learned), relations [N] each fact's relation, in_a [N] bool whether the
    fact's relation is in group a. Statistic: the median of group a's relation medians minus group b's (never-learned
    facts ranked last); p: the exact two-sided permutation p over every assignment of the group sizes to the
    relations (the share of assignments at least as extreme, the observed one included; with 7 against 3 relations
    the smallest is 1/120). Estimate: the difference of the groups' median learning steps over their facts, with a
    bootstrap interval that resamples relations within each group (and carries their facts)."""
    steps, relations, in_a = np.asarray(steps, dtype=float), np.asarray(relations), np.asarray(in_a, dtype=bool)
    names = np.unique(relations)
    ranked = _ranked(steps)
    steps = _as_medians_see_them(steps)
    medians = np.array([np.median(ranked[relations == r]) for r in names])  # one per relation (a loop over relations)
    group = np.array([bool(in_a[relations == r][0]) for r in names])
    observed = np.median(medians[group]) - np.median(medians[~group])
    k, rng = int(group.sum()), np.random.default_rng(seed)
    exact = math.comb(len(names), k) <= EXACT_ASSIGNMENTS
    if exact:  # every assignment of the labels (120 for 7 against 3 relations)
        assignments = np.zeros((math.comb(len(names), k), len(names)), dtype=bool)
        for row, chosen in enumerate(itertools.combinations(range(len(names)), k)):
            assignments[row, list(chosen)] = True
    else:  # too many to list (e.g. 20 against 20 relations): B random assignments
        assignments = rng.random((resamples, len(names))).argsort(1) < k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        permuted = np.nanmedian(np.where(assignments, medians, np.nan), axis=1) - np.nanmedian(np.where(assignments, np.nan, medians), axis=1)
    extreme = int((np.abs(permuted) >= abs(observed) - 1e-9).sum())
    p = float(extreme / len(assignments) if exact else (1 + extreme) / (1 + resamples))
    # Relations drawn with replacement within each group: how often each relation is drawn [B, R], then each fact
    # weighted by its relation's count.
    rng = np.random.default_rng(seed)
    counts = np.zeros((resamples, len(names)))
    for g in (group, ~group):
        drawn = np.flatnonzero(g)[rng.integers(0, int(g.sum()), size=(resamples, int(g.sum())))]
        np.add.at(counts, (np.arange(resamples)[:, None], drawn), 1.0)
    weights = counts[:, np.searchsorted(names, relations)]  # [B, N]
    with np.errstate(invalid="ignore"):
        medians_a, medians_b = pooled_medians(steps, weights * in_a), pooled_medians(steps, weights * ~in_a)
        differences = np.where(np.isfinite(medians_a) & np.isfinite(medians_b), medians_a - medians_b, np.nan)
    low, high = percentile_interval(differences, level)
    point = _median_difference(steps[in_a], steps[~in_a])
    return EmergenceOrder(
        int(group.sum()), int((~group).sum()), int(in_a.sum()), int((~in_a).sum()), Estimate(point, low, high, len(steps)), float(observed), p
    )


def within_relation_order(
    steps: np.ndarray, relations: np.ndarray, in_a: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = 0, level: float = DEFAULT_LEVEL
) -> EmergenceOrder:
    """Two groups of facts that cut across relations (e.g. high- against low-frequency facts), compared within
    relations, so that what differs between relations (their type) cannot make the difference.

    steps [N], relations [N], in_a [N] bool (facts of neither group left out before). Per relation holding both
    groups, the difference of their median learning steps; the statistic is their mean weighted by
    n_a·n_b / (n_a + n_b) (van Elteren's weights) over never-learned facts ranked last; p: the group labels shuffled
    within each relation B times, two-sided, 2·(1 + #{as extreme on the observed side}) / (1 + B); estimate: the same
    weighted mean of the differences of median learning steps (relations whose median fact is never learned left
    out), with a bootstrap interval resampling facts within each relation and group."""
    steps, relations, in_a = np.asarray(steps, dtype=float), np.asarray(relations), np.asarray(in_a, dtype=bool)
    both = [r for r in np.unique(relations) if in_a[relations == r].any() and (~in_a[relations == r]).any()]
    if not both:
        nan = float("nan")
        return EmergenceOrder(0, 0, int(in_a.sum()), int((~in_a).sum()), Estimate(nan, nan, nan, len(steps)), nan, nan)
    ranked = _ranked(steps)
    steps = _as_medians_see_them(steps)
    rng = np.random.default_rng(seed)
    labels = np.broadcast_to(in_a, (resamples, len(in_a))).copy()
    for r in both:  # a loop over relations: each shuffles its labels in all B draws at once
        members = np.flatnonzero(relations == r)
        labels[:, members] = np.take_along_axis(labels[:, members], rng.random((resamples, len(members))).argsort(1), 1)
    observed = float(_within(ranked[None], in_a[None], relations, both)[0])
    permuted = _within(ranked[None], labels, relations, both)
    p = float(min(1.0, 2 * (1 + min((permuted <= observed).sum(), (permuted >= observed).sum())) / (1 + resamples)))
    cells = np.char.add(relations.astype(str), np.where(in_a, "|a", "|b"))
    draws = stratified_resamples(cells, resamples, seed + 1)  # each position keeps its relation and group
    differences = _within(steps[draws], np.broadcast_to(in_a, draws.shape), relations, both)
    low, high = percentile_interval(differences, level)
    point = float(_within(steps[None], in_a[None], relations, both)[0])
    counted = np.isin(relations, both)
    return EmergenceOrder(
        int((in_a & counted).sum()),
        int((~in_a & counted).sum()),
        int(in_a.sum()),
        int((~in_a).sum()),
        Estimate(point, low, high, len(steps)),
        observed,
        p,
    )


def _within(values: np.ndarray, labels: np.ndarray, relations: np.ndarray, chosen: list) -> np.ndarray:
    """Per row: the n_a·n_b / (n_a + n_b)-weighted mean over the ``chosen`` relations of median(values where labels)
    − median(values where not); a relation whose difference is not finite (a median fact never learned) is left out.
    values [B or 1, N], labels [B or 1, N] bool -> [B]."""
    total, weight_sum = 0.0, 0.0
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for r in chosen:  # a loop over relations, each one vectorised over the rows
            members = relations == r
            v, a = values[:, members], labels[:, members]
            n_a = a[0].sum()
            weight = n_a * (members.sum() - n_a) / members.sum()
            difference = np.nanmedian(np.where(a, v, np.nan), axis=1) - np.nanmedian(np.where(a, np.nan, v), axis=1)
            usable = np.isfinite(difference)
            total = total + np.where(usable, weight * difference, 0.0)
            weight_sum = weight_sum + np.where(usable, weight, 0.0)
        return np.where(weight_sum > 0, total / np.where(weight_sum > 0, weight_sum, 1.0), np.nan)


def permutation_p(effect: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """One-sided p of each set's effect against its D random draws (lower = stronger, as a drop of R):
    (1 + #{d : e_d ≤ e}) / (1 + D). Its smallest value is 1 / (1 + D). effect [K], draws [K, D] -> [K]."""
    effect, draws = np.asarray(effect, dtype=float), np.asarray(draws, dtype=float)
    return (1 + (draws <= effect[:, None]).sum(axis=1)) / (1 + draws.shape[1])


def adjusted_p(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p within one family (scipy.stats.false_discovery_control); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    finite = ~np.isnan(p)
    if finite.any():
        out[finite] = stats.false_discovery_control(p[finite], method="bh")
    return out
