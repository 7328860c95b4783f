-- Markov role transitions, relations pooled: per consecutive pair of revisions, and over all pairs
-- (from_revision '*', from_ordinal -1). p is NULL where the from-role had no members (undefined).
SELECT from_revision, to_revision, coalesce(from_ordinal, -1) AS from_ordinal, kind,
       from_role, to_role, from_order, to_order, n, p
FROM role_transitions
WHERE analysis_id = $analysis AND relation = '*'
ORDER BY from_ordinal NULLS FIRST, kind, from_order, to_order;
