-- Role counts at each model's final revision, per kind, pooled over relations.
SELECT c.model, c.kind, c.role, c.n
FROM role_counts c JOIN (SELECT model, max(ordinal) AS ordinal FROM revisions GROUP BY model) f
  ON f.model = c.model AND f.ordinal = c.ordinal
WHERE c.relation = '*'
ORDER BY c.model, c.kind, c.n DESC;
