-- Where the answer appears over revisions (logit lens), by relation type and by frequency bucket ('*': all facts).
SELECT 'relation type' AS dimension, e.relation_type AS grp, e.revision, a.ordinal, a.x_step, a.x_tokens, e.n_facts,
       e.share_top1_last, e.share_top1_subject, e.share_top10_subject, e.subject_first
FROM answer_emergence_by_revision e JOIN revision_axis a USING (analysis_id, revision)
WHERE e.analysis_id = $analysis
UNION ALL
SELECT 'bucket', e.bucket, e.revision, a.ordinal, a.x_step, a.x_tokens, e.n_facts,
       e.share_top1_last, e.share_top1_subject, e.share_top10_subject, e.subject_first
FROM answer_emergence_by_bucket e JOIN revision_axis a USING (analysis_id, revision)
WHERE e.analysis_id = $analysis AND e.bucket <> '*'
ORDER BY 1 DESC, 2, 4;
