-- Revisions where the number of active heads (not deactivated for some relation) jumps the most.
SELECT model, revision, step, n_active,
       n_active - lag(n_active) OVER (PARTITION BY model ORDER BY ordinal) AS change
FROM active_components WHERE kind = 'head'
QUALIFY change IS NOT NULL
ORDER BY abs(change) DESC, model, step
LIMIT 10;
