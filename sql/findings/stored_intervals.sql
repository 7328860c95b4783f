-- The analysis's stored intervals (trajectory.pipeline.intervals), with each revision's place in training.
SELECT i.*, v.ordinal
FROM intervals i LEFT JOIN (SELECT DISTINCT revision, ordinal FROM revisions) v USING (revision)
ORDER BY i.measure, v.ordinal, i.scope, i.category, i.to_category;
