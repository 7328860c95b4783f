-- Role counts at each analysis's final revision, per kind, pooled over relations.
SELECT n.name AS analysis, c.model, c.kind, c.role, c.n
FROM role_counts c
JOIN (SELECT analysis_id, max(ordinal) AS ordinal FROM revisions GROUP BY analysis_id) f
  ON f.analysis_id = c.analysis_id AND f.ordinal = c.ordinal
JOIN analyses n ON n.analysis_id = c.analysis_id
WHERE c.relation = '*'
ORDER BY analysis, c.kind, c.n DESC;
