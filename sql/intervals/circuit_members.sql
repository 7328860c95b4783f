-- The stored per-root circuits of every revision (their members: heads and FFNs), for re-classifying roles
-- under resampled probe sets.
SELECT v.ordinal, c.fact_id, c.root, c.kind, c.layer, coalesce(c.head, -1) AS head
FROM circuits c JOIN revisions v USING (analysis_id, revision)
ORDER BY v.ordinal;
