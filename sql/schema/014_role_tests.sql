-- Schema version 14: the role-causality test (issue #36), written with the intervals (one analysis at a time).
-- One row per role set at each revision where it has at least 19 controls (the ablation stage's test revisions):
-- the set (defined on half of each relation's facts) and its controls measured on the other half's facts of its
-- relation (all held-out facts for general and entity, relation '*'); effect: mean change of R over them.
--   n_heads, n_ffns / total_heads, total_ffns   the set's size / the model's
--   control_mean, control_sd, n_draws           the controls' effects (random sets of as many heads and FFNs)
--   statistic, p_tail      t = (effect − mean) / (sd·√(1 + 1/D)) and its Student-t tail (D − 1 degrees of freedom)
--   p_rank                 (1 + #controls at least as low) / (1 + D)
--   normal_p               Shapiro–Wilk on the controls: the tail is used where it is at least 0.05
--   calibration_p, pseudo_below_05   each control tested against the others as if it were the set (pseudo role
--                          sets, null by construction): KS p of their tail p against uniform, and their share ≤ 0.05
--   test                   'normal tail' or 'permutation' (the rank p); NULL: untestable (reason says why)
--   p, p_adjusted, finding the p used; Benjamini–Hochberg over the revision's testable sets; p_adjusted < 0.05
CREATE TABLE role_tests (
    analysis_id      VARCHAR NOT NULL,
    model            VARCHAR NOT NULL,
    revision         VARCHAR NOT NULL,
    role             VARCHAR NOT NULL,
    relation         VARCHAR NOT NULL,
    n_heads          INTEGER NOT NULL,
    n_ffns           INTEGER NOT NULL,
    total_heads      INTEGER NOT NULL,
    total_ffns       INTEGER NOT NULL,
    n_facts          INTEGER NOT NULL,
    n_draws          INTEGER NOT NULL,
    effect           DOUBLE NOT NULL,
    control_mean     DOUBLE NOT NULL,
    control_sd       DOUBLE,
    statistic        DOUBLE,
    p_tail           DOUBLE,
    p_rank           DOUBLE NOT NULL,
    normal_p         DOUBLE,
    calibration_p    DOUBLE,
    pseudo_below_05  DOUBLE,
    test             VARCHAR,
    p                DOUBLE,
    p_adjusted       DOUBLE,
    finding          BOOLEAN NOT NULL,
    reason           VARCHAR
);
