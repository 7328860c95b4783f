-- Facts by the revision from which their first answer token stays top-1 (never-learned facts first).
WITH a AS (
    SELECT a.model, a.fact_id, a.top1, v.ordinal, v.revision FROM accuracy a JOIN revisions v USING (model, revision)
), last_wrong AS (
    SELECT model, fact_id, coalesce(max(ordinal) FILTER (WHERE NOT top1), -1) + 1 AS learned_ordinal FROM a GROUP BY ALL
)
SELECT l.model, f.relation, f.subject, f.object, v.revision AS learned_at, v.step AS learned_at_step
FROM last_wrong l
JOIN facts f USING (fact_id)
LEFT JOIN revisions v ON v.model = l.model AND v.ordinal = l.learned_ordinal
ORDER BY learned_at IS NULL DESC, l.learned_ordinal DESC, f.relation, f.subject
LIMIT 20;
