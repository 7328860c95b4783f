-- The stored per-root circuits of every revision (their members: heads and FFNs), for re-classifying roles
-- under resampled probe sets; narrow types, since a 7B analysis stores millions of rows.
SELECT v.ordinal::SMALLINT AS ordinal, c.fact_id, c.root::SMALLINT AS root, c.kind = 'head' AS is_head,
       c.layer::SMALLINT AS layer, coalesce(c.head, -1)::SMALLINT AS head
FROM circuits c JOIN revisions v USING (analysis_id, revision)
ORDER BY v.ordinal;
