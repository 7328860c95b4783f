"""Comparisons that make a finding: learning order between two groups of facts, a set against random
controls, and many tests at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from trajectory.stats.resampling import DEFAULT_LEVEL, DEFAULT_RESAMPLES, Estimate, percentile_interval


def learning_steps(top1: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Each fact's learning step: the first revision's step from which its answer is top-1 at that revision
    and every later one; ``inf`` for a fact never learned (right-censored: later than the last revision).

    top1 [F, R] bool over revisions in training order; steps [R] (a revision without a step: its ordinal).
    Returns [F] float."""
    top1 = np.asarray(top1, dtype=bool)
    stays = np.logical_and.accumulate(top1[:, ::-1], axis=1)[:, ::-1]  # right from here to the end
    first = np.where(stays.any(axis=1), stays.argmax(axis=1), -1)
    return np.where(first >= 0, np.asarray(steps, dtype=float)[np.maximum(first, 0)], np.inf)


@dataclass(frozen=True)
class EmergenceOrder:
    """Learning steps of group a against group b: medians (inf: the median fact is never learned), the
    difference of medians a − b with its bootstrap interval, and the two-sided Mann–Whitney U test
    (never-learned facts tied last)."""

    n_a: int
    n_b: int
    median_a: float
    median_b: float
    difference: Estimate
    u: float
    p: float


def emergence_order(steps_a: np.ndarray, steps_b: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                    level: float = DEFAULT_LEVEL) -> EmergenceOrder:
    """Compare two groups' learning steps (from :func:`learning_steps`). The bootstrap resamples each group
    within itself (the groups are the strata)."""
    a, b = np.asarray(steps_a, dtype=float), np.asarray(steps_b, dtype=float)
    last = np.nanmax(np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)], [0.0]]))
    # Censored facts tie last for the rank test: any value beyond every observed step ranks them so.
    u, p = stats.mannwhitneyu(np.where(np.isfinite(a), a, last + 1), np.where(np.isfinite(b), b, last + 1),
                              alternative="two-sided")
    rng = np.random.default_rng(seed)
    with np.errstate(invalid="ignore"):  # medians of censored facts are inf (the median fact never learned)
        medians_a = np.median(a[rng.integers(0, len(a), size=(resamples, len(a)))], axis=1)
        medians_b = np.median(b[rng.integers(0, len(b), size=(resamples, len(b)))], axis=1)
        median_a, median_b = float(np.median(a)), float(np.median(b))
        # A difference with an undefined (censored) median is undefined: NaN, left out of the interval.
        differences = np.where(np.isfinite(medians_a) & np.isfinite(medians_b), medians_a - medians_b, np.nan)
    point = median_a - median_b if np.isfinite(median_a) and np.isfinite(median_b) else float("nan")
    low, high = percentile_interval(differences, level)
    return EmergenceOrder(len(a), len(b), median_a, median_b, Estimate(point, low, high, len(a) + len(b)), float(u), float(p))


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
