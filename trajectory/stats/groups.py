"""Per-group statistics of per-fact values over revisions, with their bootstrap resamples: the faithfulness
median, top-1 shares, logit-lens shares and circuit-shape means the causal page draws per relation, relation
type and frequency bucket. One draw of facts serves every revision (as for the roles)."""

from __future__ import annotations

import warnings

import numpy as np

from trajectory.stats.resampling import sorted_quantile

STATISTICS = ("mean", "median")


def group_statistic(values: np.ndarray, draws: np.ndarray, statistic: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """values [K, N] per revision and fact of one group (NaN: no value there); draws [B, N] indices into the N
    facts (trajectory.stats.stratified_resamples over the group's relations).

    Returns the statistic over the facts as stored [K], over each resample [K, B], and n [K] (facts with a
    value). A revision where no fact has a value gives NaN throughout.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, not {statistic!r}")
    present = np.isfinite(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN, as documented
        if statistic == "median":  # one sort (NaNs last) of the [K, B, N] draws, then the middle of each row's values
            point = sorted_quantile(np.sort(values, axis=1), 0.5)
            return point, sorted_quantile(np.sort(values[:, draws], axis=2), 0.5), present.sum(axis=1)
        # A mean is a weighted sum: each resample's draw counts per fact [B, N], then two matrix products
        # instead of the [K, B, N] gather a median needs.
        counts = np.zeros(draws.shape)
        np.add.at(counts, (np.arange(len(draws))[:, None], draws), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            resampled = (np.where(present, values, 0.0) @ counts.T) / (present.astype(float) @ counts.T)
            return np.nanmean(values, axis=1), resampled, present.sum(axis=1)
