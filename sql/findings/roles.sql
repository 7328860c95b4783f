-- Head and FFN roles at the final revision (strongest role over the relations), and the first revision at
-- which some relation's heads hold each role.
WITH final AS (SELECT max(ordinal) AS ordinal FROM revisions),
counts AS (
    SELECT s.kind, s.role, count(*) AS n FROM strongest_roles s JOIN revisions v USING (analysis_id, revision)
    WHERE v.ordinal = (SELECT ordinal FROM final) GROUP BY ALL),
firsts AS (
    SELECT kind, role, min(ordinal) AS first_ordinal, arg_min(revision, ordinal) AS first_revision
    FROM role_counts WHERE relation = '*' AND n > 0 GROUP BY ALL)
SELECT g.kind, g.role, coalesce(c.n, 0) AS n_final, (SELECT sum(n) FROM counts WHERE kind = g.kind) AS n_components,
       f.first_revision, f.first_ordinal
FROM (SELECT DISTINCT kind, role, role_order FROM role_grid) g
LEFT JOIN counts c USING (kind, role) LEFT JOIN firsts f USING (kind, role)
ORDER BY g.kind DESC, g.role_order;
