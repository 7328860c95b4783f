"""Is a role set causal? Its effect against random sets of as many components (issue #36), pure arrays in, p out.

A rank p, (1 + #{d : e_d ≤ e}) / (1 + D), cannot fall below 1 / (1 + D): with the ~20 sets a revision tests, a
lone true effect survives Benjamini–Hochberg only with several hundred draws. The normal tail does with
tens: if the D control effects and the set's effect are draws of one normal distribution (the null),

    t = (e − mean_d) / (sd_d · √(1 + 1/D))  follows Student's t with D − 1 degrees of freedom,

so p = F_{t, D−1}(t) is exactly uniform under the null (a prediction-interval p). The tail is used where the
draws pass Shapiro–Wilk (:func:`normal_p`), else the rank p. Its calibration is checked on pseudo role sets
that are null by construction: each control against the other D − 1 (:func:`leave_one_out_p`), whose p must
be uniform (:func:`calibration_p`, Kolmogorov–Smirnov; pooled, about 5 % of them at most 0.05). Simulated,
39 draws: normal controls give 5.0 % of p ≤ 0.05; a two-component mixture that passes the gate 5.8 %;
exponential or three-mode controls fail the gate 99 % of the time. K sets, D draws.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

NORMAL = 0.05  # the tail is used where the draws pass Shapiro–Wilk at this level
OUTSIDE_FACTOR = 2  # controls differ only where at least this many times the set's components lie outside it


def tail_p(effect: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-sided p (lower = the set hurts more) and t of each set's effect against its draws' normal
    prediction: effect [K], draws [K, D] -> (p [K], t [K]); NaN where the draws do not vary."""
    effect, draws = np.asarray(effect, dtype=float), np.asarray(draws, dtype=float)
    n = draws.shape[1]
    mean, sd = draws.mean(1), draws.std(1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(sd > 0, (effect - mean) / (sd * np.sqrt(1 + 1 / n)), np.nan)
    return stats.t.cdf(t, df=n - 1), t


def leave_one_out_p(draws: np.ndarray) -> np.ndarray:
    """[K, D] -> [K, D]: draw d's tail p against the other D − 1 draws of its set (pseudo role sets: random
    components tested exactly as a role set is)."""
    draws = np.asarray(draws, dtype=float)
    n = draws.shape[1]
    total, squares = draws.sum(1, keepdims=True), (draws**2).sum(1, keepdims=True)
    mean = (total - draws) / (n - 1)
    variance = (squares - draws**2 - (n - 1) * mean**2) / (n - 2)
    sd = np.sqrt(np.clip(variance, 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(sd > 0, (draws - mean) / (sd * np.sqrt(1 + 1 / (n - 1))), np.nan)
    return stats.t.cdf(t, df=n - 2)


def calibration_p(pseudo_p: np.ndarray) -> np.ndarray:
    """[K, D] pseudo role sets' p -> [K]: the KS test's p that each set's D values are uniform on [0, 1]
    (NaN where any is undefined)."""
    pseudo_p = np.asarray(pseudo_p, dtype=float)
    out = np.full(pseudo_p.shape[0], np.nan)
    finite = ~np.isnan(pseudo_p).any(1)
    if finite.any():
        out[finite] = stats.kstest(pseudo_p[finite], "uniform", axis=1).pvalue
    return out


def normal_p(draws: np.ndarray) -> np.ndarray:
    """[K, D] -> [K]: Shapiro–Wilk's p that each set's draws are normal (NaN where they do not vary)."""
    draws = np.asarray(draws, dtype=float)
    out = np.full(draws.shape[0], np.nan)
    varies = draws.std(1) > 0
    if varies.any():
        out[varies] = stats.shapiro(draws[varies], axis=1).pvalue
    return out


def untestable_reason(n_heads: int, n_ffns: int, total_heads: int, total_ffns: int) -> str | None:
    """Why random sets of as many heads and FFNs cannot serve as a set's controls, or None when they can: for
    each kind the set holds, at least OUTSIDE_FACTOR times as many must lie outside it (else every control is
    nearly the same set: the complement, or near copies of one another)."""
    for kind, inside, total in (("heads", n_heads, total_heads), ("FFNs", n_ffns, total_ffns)):
        if inside and total - inside < OUTSIDE_FACTOR * inside:
            return (
                f"the set holds {inside} of {total} {kind}; controls need at least {OUTSIDE_FACTOR * inside} outside it "
                f"to differ, {total - inside} are"
            )
    return None
