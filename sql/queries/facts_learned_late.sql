-- Facts by the revision from which their first answer token stays top-1 (never-learned facts first).
WITH a AS (
    SELECT a.analysis_id, a.fact_id, a.top1, v.ordinal, v.revision
    FROM accuracy a JOIN revisions v USING (analysis_id, revision)
), last_wrong AS (
    SELECT analysis_id, fact_id, coalesce(max(ordinal) FILTER (WHERE NOT top1), -1) + 1 AS learned_ordinal FROM a GROUP BY ALL
)
SELECT n.name AS analysis, n.model, f.relation, f.subject, f.object, v.revision AS learned_at, v.step AS learned_at_step
FROM last_wrong l
JOIN analyses n USING (analysis_id)
JOIN facts f ON f.probe_set_id = n.probe_set_id AND f.fact_id = l.fact_id
LEFT JOIN revisions v ON v.analysis_id = l.analysis_id AND v.ordinal = l.learned_ordinal
ORDER BY learned_at IS NULL DESC, l.learned_ordinal DESC, analysis, f.relation, f.subject
LIMIT 20;
