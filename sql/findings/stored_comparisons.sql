-- The analysis's stored tests (trajectory.pipeline.intervals), with the bootstrap's number of draws (intervals.resamples:
-- the draws of every interval that is neither a share's Wilson interval nor a role statistic's), which bounds how small
-- a bootstrap p can be.
SELECT c.*, (SELECT max(resamples) FROM intervals
             WHERE measure NOT IN ('role_count', 'role_iou', 'transition', 'effect_role_agreement')) AS bootstrap_resamples
FROM comparisons c ORDER BY family, revision, subject, a, b;
