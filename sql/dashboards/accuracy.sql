-- Top-1 and top-10 accuracy of the first answer token per relation at each revision, and per relation
-- type over all its facts (is_mean; relation '* location', '* name'), with their intervals where stored.
WITH per_relation AS (
    SELECT relation, relation_type, revision, n_facts, top1, top10, false AS is_mean
    FROM accuracy_by_relation WHERE analysis_id = $analysis
), per_type AS (
    SELECT '* ' || f.relation_type AS relation, f.relation_type, a.revision, count(*) AS n_facts,
           avg(a.top1::INTEGER) AS top1, avg(a.top10::INTEGER) AS top10, true AS is_mean
    FROM accuracy a
    JOIN analysis_facts f USING (analysis_id, fact_id)
    WHERE a.analysis_id = $analysis
    GROUP BY ALL
)
SELECT x.*, a.ordinal, a.x_step, a.x_tokens, a.step_known, i.lower AS top1_lower, i.upper AS top1_upper,
       j.lower AS top10_lower, j.upper AS top10_upper
FROM (SELECT * FROM per_relation UNION ALL SELECT * FROM per_type) x
JOIN revision_axis a ON a.analysis_id = $analysis AND a.revision = x.revision
-- The relation types' top-1 with its stored interval (a bootstrap over facts; none for single relations).
LEFT JOIN intervals i ON x.is_mean AND i.analysis_id = $analysis AND i.measure = 'top1' AND i.revision = x.revision
     AND i.scope = x.relation_type
LEFT JOIN intervals j ON x.is_mean AND j.analysis_id = $analysis AND j.measure = 'top10' AND j.revision = x.revision
     AND j.scope = x.relation_type
ORDER BY x.is_mean, x.relation_type, x.relation, a.ordinal;
