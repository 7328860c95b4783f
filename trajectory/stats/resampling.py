"""Stratified bootstrap over probe facts (each relation keeps its number of facts in every resample), and the
Wilson interval of a share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

DEFAULT_RESAMPLES = 2000
DEFAULT_LEVEL = 0.95


def stratified_resamples(groups: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """[B, N] indices into the N facts: in each row, every group's positions are drawn with replacement from
    that group's own facts. ``groups`` [N]: any labels (a fact's relation). One array op per group."""
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    draws = np.empty((resamples, len(groups)), dtype=np.int64)
    for label in np.unique(groups):  # a loop over relations, each one vectorised draw
        members = np.flatnonzero(groups == label)
        draws[:, members] = members[rng.integers(0, len(members), size=(resamples, len(members)))]
    return draws


def percentile_interval(values: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of resampled values [B] (NaN draws left out)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def percentile_intervals(values: np.ndarray, level: float = DEFAULT_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """:func:`percentile_interval` of each row of ``values`` [K, B] at once: lows [K], highs [K] (NaN for a row
    with no finite value). One sort instead of K calls."""
    tail, ordered = (1 - level) / 2, np.sort(np.asarray(values, dtype=float), axis=-1)
    return sorted_quantile(ordered, tail), sorted_quantile(ordered, 1 - tail)


def sorted_quantile(ordered: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile (linear interpolation, numpy's and DuckDB's ``quantile_cont``) along the last axis of
    values sorted with their NaNs last, the NaNs left out: [..., B] -> [...]; NaN where a row has none."""
    count = np.isfinite(ordered).sum(-1)
    position = q * np.maximum(count - 1, 0)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, np.maximum(count - 1, 0))
    low = np.take_along_axis(ordered, below[..., None], -1)[..., 0]
    high = np.take_along_axis(ordered, above[..., None], -1)[..., 0]
    result = low + (high - low) * (position - below)
    return np.where(count > 0, result, np.nan)


@dataclass(frozen=True)
class Estimate:
    """An estimate with its interval and the number of facts it rests on."""

    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}] (n = {self.n})"


def share_interval(hits: np.ndarray, level: float = DEFAULT_LEVEL) -> Estimate:
    """The share of true ``hits`` [N] over facts with its Wilson score interval (Wilson 1927) on the N facts.

    Not the stratified bootstrap: where every fact agrees (a share of 0 or 1, or every resample alike) its
    percentile interval has zero width, and its coverage falls below nominal near 0 and 1 (METHOD.md §8). The
    facts are a stratified sample (each relation keeps its count: proportional allocation), whose variance is at
    most simple random sampling's (Cochran, Sampling Techniques, 1977, §5.6), so the unstratified Wilson interval
    is conservative for it."""
    hits = np.asarray(hits, dtype=float)
    if not len(hits):
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    low, high = wilson_interval(float(hits.sum()), len(hits), level)
    return Estimate(float(hits.mean()), low, high, len(hits))


def wilson_interval(successes: float, n: int, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """The Wilson score interval of a binomial share ``successes`` / ``n`` (n > 0)."""
    z = float(norm.ppf(0.5 + level / 2))
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def ratio_interval(
    numerator: np.ndarray,
    denominator: np.ndarray,
    groups: np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> Estimate:
    """Σ numerator / Σ denominator over facts (e.g. learnings a graft recovers over learnings, per fact [N]),
    with its stratified bootstrap interval over facts; n is Σ denominator."""
    numerator, denominator = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    total = denominator.sum()
    if not len(numerator) or total == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), int(total))
    draws = stratified_resamples(groups, resamples, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = percentile_interval(numerator[draws].sum(axis=1) / denominator[draws].sum(axis=1), level)
    return Estimate(float(numerator.sum() / total), low, high, int(total))
