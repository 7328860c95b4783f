-- Heads that became relation heads for a relation and kept that role through the final revision.
WITH r AS (
    SELECT r.analysis_id, r.relation, r.layer, r.head, r.role, v.ordinal
    FROM roles r JOIN revisions v USING (analysis_id, revision) WHERE r.kind = 'head'
), final AS (
    SELECT analysis_id, max(ordinal) AS final_ordinal FROM revisions GROUP BY analysis_id
), streak AS (
    SELECT r.analysis_id, r.relation, r.layer, r.head,
           coalesce(max(r.ordinal) FILTER (WHERE r.role <> 'relation'), -1) + 1 AS since_ordinal,
           bool_or(r.role = 'relation' AND r.ordinal = f.final_ordinal) AS at_final
    FROM r JOIN final f USING (analysis_id)
    GROUP BY ALL
)
SELECT n.name AS analysis, n.model, s.relation, s.layer, s.head, v.revision AS relation_head_since, v.step
FROM streak s
JOIN analyses n USING (analysis_id)
JOIN revisions v ON v.analysis_id = s.analysis_id AND v.ordinal = s.since_ordinal
WHERE s.at_final
ORDER BY analysis, v.step NULLS LAST, s.relation, s.layer, s.head;
