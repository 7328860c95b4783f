-- Components per role at each revision, per relation. Relation '*' counts each component once, at its
-- strongest role over the relations (view strongest_roles), so the roles add up to all components. lower, upper:
-- the stored interval (facts resampled within relations, roles re-classified); n_members: components of the kind.
WITH per_relation AS (
    SELECT relation, kind, role, revision, n FROM role_counts WHERE analysis_id = $analysis AND relation <> '*'
), grid AS (
    SELECT DISTINCT s.revision, s.kind, n.role FROM strongest_roles s CROSS JOIN role_names n WHERE s.analysis_id = $analysis
), overall AS (
    SELECT '*' AS relation, g.kind, g.role, g.revision, count(s.layer) AS n
    FROM grid g
    LEFT JOIN strongest_roles s ON s.analysis_id = $analysis AND s.revision = g.revision AND s.kind = g.kind AND s.role = g.role
    GROUP BY ALL
)
SELECT x.relation, x.kind, x.role, n.role_order, x.revision, a.ordinal, a.x_step, a.x_tokens, a.step_known, x.n,
       i.lower, i.upper, i.n AS n_members
FROM (SELECT * FROM per_relation UNION ALL SELECT * FROM overall) x
JOIN role_names n USING (role)
JOIN revision_axis a ON a.analysis_id = $analysis AND a.revision = x.revision
LEFT JOIN intervals i ON i.analysis_id = $analysis AND i.measure = 'role_count' AND i.revision = x.revision AND i.scope = x.kind
     AND i.category = x.role AND i.relation = x.relation
ORDER BY x.relation, x.kind, n.role_order, a.ordinal;
