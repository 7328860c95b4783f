-- Faithfulness over revisions (view faithfulness_over_revisions), by relation and by frequency bucket
-- ('*': all facts, in both groupings): dimension, grp, the metrics, and the step axis.
-- <measure>_lower, <measure>_upper, <measure>_n: the stored interval of each measure (view group_bands: a bootstrap
-- over the group's facts) and the facts it rests on.
WITH shown AS (
    SELECT d.dimension, CASE WHEN d.dimension = 'relation' THEN f.relation ELSE f.bucket END AS grp, f.revision, a.ordinal,
           a.x_step, a.x_tokens, f.n_facts, f.n_measured, f.faithfulness_median, f.share_top1_clean, f.share_top1_circuit_only,
           f.share_top1_complement, f.mean_circuit_components
    FROM faithfulness_over_revisions f
    JOIN revision_axis a USING (analysis_id, revision)
    JOIN (VALUES ('relation'), ('bucket')) d(dimension)
      ON (d.dimension = 'relation' AND f.bucket = '*') OR (d.dimension = 'bucket' AND f.relation = '*')
    WHERE f.analysis_id = $analysis
)
SELECT s.*, b.* EXCLUDE (analysis_id, revision, scope, category)
FROM shown s
LEFT JOIN group_bands b ON b.analysis_id = $analysis AND b.revision = s.revision
     AND b.scope = CASE WHEN s.grp = '*' THEN '*' ELSE s.dimension END AND b.category = s.grp
ORDER BY s.dimension DESC, s.grp, s.ordinal;
