-- Schema version 9: intervals and tests of what an analysis reports (trajectory.pipeline.intervals), computed
-- at the end of every ingest that stored something for the analysis, and replaced whole with it. The
-- resampling unit is the probe fact: a bootstrap draws facts with replacement within each relation
-- (`resamples` draws, `level` the interval's coverage, seeded).
--
-- intervals: one estimate each. measure, and what its other keys hold:
--   top1           per revision; scope '*' (all facts), 'location', 'name'; n facts
--   learned        the share of facts learned by the last revision (their answer stays top-1 from some revision on)
--   role_count     per revision; scope = kind ('head' | 'ffn'); category = role; each component at its strongest
--                  role over the relations; n components
--   role_iou       per revision; scope = kind; category = role; the (relation, component) members' IoU with the
--                  final revision's; n = members at the revision or the final one
--   transition     pooled over consecutive pairs (revision NULL); scope = kind; category = from-role, to_category
--                  = to-role; p(from -> to); n = members in the from-role
--   graft_recovery pooled over consecutive pairs; category = graft configuration; the share of newly learned
--                  facts it answers right; n = learnings
--   ocr_rank       per revision; scope = hop; the mean implication rank after finetuning; n probes
-- Roles under a resample are re-classified from the stored circuits (store.circuits), so analyses without
-- circuits have no role rows.
CREATE TABLE intervals (
    analysis_id   VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    measure       VARCHAR NOT NULL,
    revision      VARCHAR,
    scope         VARCHAR,
    category      VARCHAR,
    to_category   VARCHAR,
    estimate      DOUBLE,
    lower         DOUBLE,
    upper         DOUBLE,
    n             INTEGER NOT NULL,
    level         DOUBLE NOT NULL,
    resamples     INTEGER NOT NULL
);

-- comparisons: a test each. family: the tests one correction spans (Benjamini-Hochberg, p_adjusted); finding:
-- the adjusted p (the p where the family has one test) is below 0.05.
--   emergence       learning steps of facts of group a against group b (relation types; frequency buckets):
--                   Mann-Whitney U (statistic), estimate = difference of median learning steps a - b with its
--                   bootstrap interval (NULL: a median fact is never learned); n_a, n_b facts
--   grafting        share of newly learned facts graft a answers right minus graft b's, bootstrap interval and a
--                   two-sided bootstrap p; n_a = n_b = learnings
--   role_controls   per revision (family role_controls:<revision>): a role set's mean change of R on its
--                   relation's facts (estimate) against its random draws, permutation p = (1 + #draws at least as
--                   low) / (1 + draws); subject = role, a = relation ('*': general, entity); n_b = draws
CREATE TABLE comparisons (
    analysis_id   VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    family        VARCHAR NOT NULL,
    test          VARCHAR NOT NULL,
    revision      VARCHAR,
    subject       VARCHAR,
    a             VARCHAR,
    b             VARCHAR,
    estimate      DOUBLE,
    lower         DOUBLE,
    upper         DOUBLE,
    statistic     DOUBLE,
    p             DOUBLE,
    p_adjusted    DOUBLE,
    n_a           INTEGER,
    n_b           INTEGER,
    finding       BOOLEAN
);
