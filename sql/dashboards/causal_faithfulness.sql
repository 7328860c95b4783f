-- Faithfulness over revisions (view faithfulness_over_revisions), by relation and by frequency bucket
-- ('*': all facts in both): dimension, grp, the metrics, and the step axis.
SELECT 'relation' AS dimension, f.relation AS grp, f.revision, a.ordinal, a.x_step, a.x_tokens, f.n_facts, f.n_measured,
       f.faithfulness_median, f.share_top1_clean, f.share_top1_circuit_only, f.share_top1_complement, f.mean_circuit_components
FROM faithfulness_over_revisions f JOIN revision_axis a USING (analysis_id, revision)
WHERE f.analysis_id = $analysis AND f.bucket = '*'
UNION ALL
SELECT 'bucket', f.bucket, f.revision, a.ordinal, a.x_step, a.x_tokens, f.n_facts, f.n_measured,
       f.faithfulness_median, f.share_top1_clean, f.share_top1_circuit_only, f.share_top1_complement, f.mean_circuit_components
FROM faithfulness_over_revisions f JOIN revision_axis a USING (analysis_id, revision)
WHERE f.analysis_id = $analysis AND f.relation = '*'
ORDER BY 1 DESC, 2, 4;
