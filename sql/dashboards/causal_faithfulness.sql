-- Faithfulness over revisions (view faithfulness_over_revisions), by relation and by frequency bucket
-- ('*': all facts, in both groupings): dimension, grp, the metrics, and the step axis.
SELECT d.dimension, CASE WHEN d.dimension = 'relation' THEN f.relation ELSE f.bucket END AS grp, f.revision, a.ordinal,
       a.x_step, a.x_tokens, f.n_facts, f.n_measured, f.faithfulness_median, f.share_top1_clean, f.share_top1_circuit_only,
       f.share_top1_complement, f.mean_circuit_components
FROM faithfulness_over_revisions f
JOIN revision_axis a USING (analysis_id, revision)
JOIN (VALUES ('relation'), ('bucket')) d(dimension)
  ON (d.dimension = 'relation' AND f.bucket = '*') OR (d.dimension = 'bucket' AND f.relation = '*')
WHERE f.analysis_id = $analysis
ORDER BY 1 DESC, 2, 4;
