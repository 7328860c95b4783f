-- Where the answer appears over revisions (logit lens), by relation type and by frequency bucket ('*': all facts).
-- <measure>_lower, <measure>_upper, <measure>_n: the stored interval of each measure (view group_bands: a bootstrap
-- over the group's facts) and the facts it rests on.
WITH shown AS (
    SELECT 'relation type' AS dimension, e.relation_type AS grp, e.revision, a.ordinal, a.x_step, a.x_tokens, e.n_facts,
           e.share_top1_last, e.share_top1_subject, e.share_top10_subject, e.subject_first
    FROM answer_emergence_by_revision e JOIN revision_axis a USING (analysis_id, revision)
    WHERE e.analysis_id = $analysis
    UNION ALL
    SELECT 'bucket', e.bucket, e.revision, a.ordinal, a.x_step, a.x_tokens, e.n_facts,
           e.share_top1_last, e.share_top1_subject, e.share_top10_subject, e.subject_first
    FROM answer_emergence_by_bucket e JOIN revision_axis a USING (analysis_id, revision)
    WHERE e.analysis_id = $analysis AND e.bucket <> '*'
)
SELECT s.*, b.* EXCLUDE (analysis_id, revision, scope, category)
FROM shown s
LEFT JOIN group_bands b ON b.analysis_id = $analysis AND b.revision = s.revision
     AND b.scope = CASE WHEN s.grp = '*' THEN '*' ELSE s.dimension END AND b.category = s.grp
ORDER BY s.dimension DESC, s.grp, s.ordinal;
