"""The role-causality test (trajectory.stats.role_tests) against literal computations, its calibration under the
null, and that a lone true effect can survive Benjamini–Hochberg with the reference's 39 draws."""

import math
import statistics

import numpy as np
import pytest
from scipy import stats

from trajectory.stats import adjusted_p
from trajectory.stats.role_tests import calibration_p, leave_one_out_p, normal_p, tail_p, untestable_reason


def literal_tail(value: float, others: list[float]) -> float:
    t = (value - statistics.mean(others)) / (statistics.stdev(others) * math.sqrt(1 + 1 / len(others)))
    return stats.t.cdf(t, len(others) - 1)


def test_tail_and_pseudo_set_p_equal_the_literal_ones():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(4, 9)) * [[1], [2], [0.5], [3]]
    effect = rng.normal(size=4) - 1
    p, t = tail_p(effect, draws)
    for k in range(4):
        assert p[k] == pytest.approx(literal_tail(effect[k], draws[k].tolist()), rel=1e-12)
        assert t[k] == pytest.approx((effect[k] - draws[k].mean()) / (draws[k].std(ddof=1) * math.sqrt(1 + 1 / 9)))
    pseudo = leave_one_out_p(draws)
    for k in range(4):
        for d in range(9):
            others = np.delete(draws[k], d).tolist()
            assert pseudo[k, d] == pytest.approx(literal_tail(draws[k, d], others), rel=1e-9)
        assert normal_p(draws)[k] == pytest.approx(stats.shapiro(draws[k]).pvalue)
        assert calibration_p(pseudo)[k] == pytest.approx(stats.kstest(pseudo[k], "uniform").pvalue)
    flat = np.zeros((1, 9))
    assert np.isnan(tail_p(np.array([-1.0]), flat)[0]).all() and np.isnan(normal_p(flat)).all()
    assert np.isnan(calibration_p(leave_one_out_p(flat))).all()


def test_the_tail_is_uniform_under_the_null_and_the_gate_stops_skewed_controls():
    rng = np.random.default_rng(1)
    sets, draws = 4000, 39
    controls = rng.normal(size=(sets, draws))
    p, _ = tail_p(rng.normal(size=sets), controls)  # the set's effect: one more draw of the same distribution
    for level in (0.01, 0.05, 0.2, 0.5):
        share = (p <= level).mean()
        assert abs(share - level) < 3 * math.sqrt(level * (1 - level) / sets) + 1e-3, (level, share)
    assert abs((leave_one_out_p(controls) <= 0.05).mean() - 0.05) < 0.005  # the pseudo role sets, pooled
    skewed = -rng.exponential(size=(1000, draws))
    assert (normal_p(skewed) < 0.05).mean() > 0.9  # heavy-tailed controls fall back to the rank p
    assert (normal_p(controls[:1000]) < 0.05).mean() < 0.08


def test_a_lone_true_effect_survives_benjamini_hochberg_with_39_draws():
    """Twenty sets of a revision, one truly causal: with 39 draws the rank p cannot go below 0.025 (its adjusted p
    stays above 0.05), the tail's does."""
    rng = np.random.default_rng(2)
    controls = rng.normal(size=(20, 39))
    effect = rng.normal(size=20)
    effect[0] = -6.0  # six control sd below the controls' mean
    tail, _ = tail_p(effect, controls)
    rank = (1 + (controls <= effect[:, None]).sum(1)) / 40
    assert adjusted_p(tail)[0] < 0.05 and (adjusted_p(tail)[1:] >= 0.05).all()
    assert adjusted_p(rank)[0] >= 0.05


@pytest.mark.parametrize(
    "sizes,reason",
    [
        ((5, 1, 64, 4), None),
        ((21, 0, 64, 4), None),  # 43 outside, 42 needed
        ((22, 1, 66, 4), None),
        ((23, 0, 64, 4), "the set holds 23 of 64 heads; controls need at least 46 outside it to differ, 41 are"),
        ((2, 2, 64, 4), "the set holds 2 of 4 FFNs; controls need at least 4 outside it to differ, 2 are"),
        ((0, 1, 64, 4), None),
    ],
)
def test_untestable_where_controls_cannot_differ(sizes, reason):
    assert untestable_reason(*sizes) == reason
