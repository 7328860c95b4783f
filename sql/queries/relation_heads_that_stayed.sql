-- Heads that became relation heads for a relation and kept that role through the final revision.
WITH r AS (
    SELECT r.model, r.relation, r.layer, r.head, r.role, v.ordinal
    FROM roles r JOIN revisions v USING (model, revision) WHERE r.kind = 'head'
), final AS (
    SELECT model, max(ordinal) AS final_ordinal FROM revisions GROUP BY model
), streak AS (
    SELECT r.model, r.relation, r.layer, r.head,
           coalesce(max(r.ordinal) FILTER (WHERE r.role <> 'relation'), -1) + 1 AS since_ordinal,
           bool_or(r.role = 'relation' AND r.ordinal = f.final_ordinal) AS at_final
    FROM r JOIN final f ON f.model = r.model
    GROUP BY ALL
)
SELECT s.model, s.relation, s.layer, s.head, v.revision AS relation_head_since, v.step
FROM streak s JOIN revisions v ON v.model = s.model AND v.ordinal = s.since_ordinal
WHERE s.at_final
ORDER BY s.model, v.step NULLS LAST, s.relation, s.layer, s.head;
