-- Every stored interval (computed by the ingest): measure, revision, scope, category, relation, the estimate with its lower and upper end, and the n it rests on.
SELECT n.name AS analysis, i.measure, i.revision, i.scope, i.category, i.to_category, i.relation,
       round(i.estimate, 4) AS estimate, round(i.lower, 4) AS lower, round(i.upper, 4) AS upper, i.n, i.level, i.resamples
FROM intervals i JOIN analyses n USING (analysis_id)
LEFT JOIN (SELECT DISTINCT analysis_id, revision, ordinal FROM revisions) v USING (analysis_id, revision)
ORDER BY analysis, i.measure, v.ordinal, i.scope, i.category, i.to_category, i.relation;
