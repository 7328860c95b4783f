-- Role and the four scores of every component at every revision, per relation. Relation '*' shows the
-- strongest role over the relations (view strongest_roles), with the largest relation and fact scores.
-- fact_score is the mean over the relation's facts of the per-fact score.
WITH per_relation AS (
    SELECT relation, revision, ordinal, kind, layer, coalesce(head, -1) AS head, role,
           general_score, entity_score, relation_score, fact_score
    FROM component_roles WHERE analysis_id = $analysis
), pooled AS (
    SELECT '*' AS relation, p.revision, p.ordinal, p.kind, p.layer, p.head, s.role,
           max(p.general_score) AS general_score, max(p.entity_score) AS entity_score,
           max(p.relation_score) AS relation_score, max(p.fact_score) AS fact_score
    FROM per_relation p
    JOIN strongest_roles s
      ON s.analysis_id = $analysis AND s.revision = p.revision AND s.kind = p.kind AND s.layer = p.layer AND s.head = p.head
    GROUP BY p.revision, p.ordinal, p.kind, p.layer, p.head, s.role
)
SELECT x.*, n.role_order
FROM (SELECT * FROM per_relation UNION ALL SELECT * FROM pooled) x JOIN role_names n USING (role)
ORDER BY x.relation, x.ordinal, x.kind, x.layer, x.head;
