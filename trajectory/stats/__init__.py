"""Intervals and tests over probe facts (METHOD: the probe fact is the resampling unit): pure tensors and
arrays in, numbers out.

- :func:`stratified_resamples`: bootstrap draws of facts with replacement within each relation.
- :func:`percentile_interval`: the percentile interval of a statistic's resampled values.
- :func:`share_interval`: a share (top-1 accuracy; learnings a graft recovers) with its Wilson interval, which
  keeps its coverage near 0 and 1; :func:`ratio_interval`: a ratio of sums over facts with its stratified
  bootstrap interval.
- :func:`learning_steps`: each fact's learning step (the first revision from which it stays right).
- :func:`relation_type_order`: two groups of relations' learning steps compared with the relation as the unit
  (an exact permutation of relation labels, a relation-clustered bootstrap interval);
  :func:`within_relation_order`: two groups of facts compared within relations (labels permuted within each).
- :func:`permutation_p`: a set's effect against random draws, p = (1 + #{d ≤ e}) / (1 + D).
- :func:`adjusted_p`: Benjamini–Hochberg within a family (scipy's ``false_discovery_control``).
"""

from trajectory.stats.comparisons import (
    adjusted_p,
    learning_steps,
    permutation_p,
    relation_type_order,
    within_relation_order,
)
from trajectory.stats.resampling import (
    Estimate,
    percentile_interval,
    ratio_interval,
    share_interval,
    stratified_resamples,
    wilson_interval,
)

__all__ = [
    "Estimate",
    "adjusted_p",
    "learning_steps",
    "percentile_interval",
    "permutation_p",
    "ratio_interval",
    "relation_type_order",
    "share_interval",
    "stratified_resamples",
    "wilson_interval",
    "within_relation_order",
]
