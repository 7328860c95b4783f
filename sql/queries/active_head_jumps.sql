-- Revisions where the number of active heads (not deactivated for some relation) jumps the most.
SELECT n.name AS analysis, c.model, c.revision, c.step, c.n_active,
       c.n_active - lag(c.n_active) OVER (PARTITION BY c.analysis_id ORDER BY c.ordinal) AS change
FROM active_components c JOIN analyses n USING (analysis_id)
WHERE c.kind = 'head'
QUALIFY change IS NOT NULL
ORDER BY abs(change) DESC, analysis, c.step
LIMIT 10;
