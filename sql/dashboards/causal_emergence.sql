-- Where the answer appears over revisions (logit lens), by relation type and by frequency bucket ('*': all facts).
-- <measure>_lower, <measure>_upper, <measure>_n: the stored interval of each measure (a bootstrap over the group's
-- facts) and the facts it rests on.
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
), bands AS (
    PIVOT (SELECT revision, scope, category, measure, lower, upper, n FROM intervals
           WHERE analysis_id = $analysis AND measure IN ('share_top1_last', 'share_top1_subject', 'share_top10_subject', 'subject_first'))
    ON measure IN ('share_top1_last', 'share_top1_subject', 'share_top10_subject', 'subject_first') USING first(lower) AS lower, first(upper) AS upper, first(n) AS n
    GROUP BY revision, scope, category
)
SELECT s.*, b.* EXCLUDE (revision, scope, category)
FROM shown s
LEFT JOIN bands b ON b.revision = s.revision AND b.scope = CASE WHEN s.grp = '*' THEN '*' ELSE s.dimension END
     AND b.category = s.grp
ORDER BY s.dimension DESC, s.grp, s.ordinal;
